"""The pipeline's state on disk, written atomically; offsets are committed only up to it.

Faust commits an offset only once its event is acked, and the worker acks events only
after a checkpoint that contains them (detector/runtime/app.py). So after a crash the
committed offsets never pass the checkpoint: Kafka redelivers from the commit, the
pipeline skips what the checkpoint already holds (offset <= its last offset per
partition), and every event lands in the state exactly once.
"""

from __future__ import annotations

import logging
import pickle
import time
from pathlib import Path

from detector.pipeline.state import PipelineState
from schemas.artifacts import atomic_write

log = logging.getLogger(__name__)


class Checkpointer:
    def __init__(self, path: Path, topic: str, interval: float) -> None:
        self.path = path
        self.topic = topic
        self.interval = interval
        self._last = time.monotonic()
        self.rejected = 0  # damaged checkpoints ignored

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.interval

    def save(self, state: PipelineState) -> None:
        saved = {"format": PipelineState.FORMAT, "topic": self.topic, "state": state}
        atomic_write(self.path, pickle.dumps(saved, protocol=pickle.HIGHEST_PROTOCOL))
        self._last = time.monotonic()

    def load(self) -> PipelineState | None:
        """The saved state, or None: no checkpoint, or one that is unreadable, truncated,
        foreign (another topic, another format) or of the wrong type — whatever is wrong with
        the file, the worker starts (from what Kafka holds) and says why once."""
        if not self.path.exists():
            return None
        try:
            saved = pickle.loads(self.path.read_bytes())  # noqa: S301 (our own file in our data dir)
            if not isinstance(saved, dict) or saved.get("format") != PipelineState.FORMAT:
                raise ValueError(f"not a driftstream checkpoint of format {PipelineState.FORMAT}")
            if saved.get("topic") != self.topic:
                raise ValueError(f"written for topic {saved.get('topic')!r}, not {self.topic!r}")
            if not isinstance(saved.get("state"), PipelineState):
                raise ValueError(f"holds a {type(saved.get('state')).__name__}, not a PipelineState")
        except Exception as error:  # any damage: a bad file must never stop the worker
            log.warning("ignoring checkpoint %s: %s: %s", self.path, type(error).__name__, error)
            self.rejected += 1
            return None
        return saved["state"]
