"""The pipeline's state on disk, written atomically; offsets are committed only up to it.

Faust commits an offset only once its event is acked, and the worker acks events only
after a checkpoint that contains them (detector/app.py). So after a crash the committed
offsets never pass the checkpoint: Kafka redelivers from the commit, the pipeline skips
what the checkpoint already holds (offset <= its last offset per partition), and every
event lands in the state exactly once.
"""

from __future__ import annotations

import logging
import os
import pickle
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)
FORMAT = 1
STATE_KEYS = {"monitors", "models", "watermark", "processed", "offsets", "model_version"}


class Checkpointer:
    def __init__(self, path: Path, topic: str, interval: float) -> None:
        self.path = path
        self.topic = topic
        self.interval = interval
        self._last = time.monotonic()
        self.rejected = 0  # damaged checkpoints ignored

    def due(self) -> bool:
        return time.monotonic() - self._last >= self.interval

    def save(self, state: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".checkpoint-")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump({"format": FORMAT, "topic": self.topic, "state": state}, handle,
                        protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, self.path)
        self._last = time.monotonic()

    def load(self) -> dict | None:
        """The saved state, or None: no checkpoint, or one that is unreadable, truncated,
        foreign (another topic, another format) or of the wrong type — whatever is wrong with
        the file, the worker starts (from what Kafka holds) and says why once."""
        if not self.path.exists():
            return None
        try:
            with self.path.open("rb") as handle:
                saved = pickle.load(handle)  # noqa: S301 (our own file in our data dir)
            if not isinstance(saved, dict) or saved.get("format") != FORMAT:
                raise ValueError(f"not a driftstream checkpoint of format {FORMAT}")
            if saved.get("topic") != self.topic:
                raise ValueError(f"written for topic {saved.get('topic')!r}, not {self.topic!r}")
            state = saved["state"]
            if not isinstance(state, dict) or not STATE_KEYS <= state.keys():
                raise ValueError("the state lacks " + ", ".join(sorted(STATE_KEYS - set(state or ()))))
        except Exception as error:  # any damage: a bad file must never stop the worker
            log.warning("ignoring checkpoint %s: %s: %s", self.path, type(error).__name__, error)
            self.rejected += 1
            return None
        return state
