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


class Checkpointer:
    def __init__(self, path: Path, topic: str, interval: float) -> None:
        self.path = path
        self.topic = topic
        self.interval = interval
        self._last = time.monotonic()

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
        """The saved state, or None (no checkpoint, another topic, or an unreadable file)."""
        if not self.path.exists():
            return None
        try:
            with self.path.open("rb") as handle:
                saved = pickle.load(handle)  # noqa: S301 (our own file in our data dir)
        except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
            log.warning("ignoring unreadable checkpoint %s: %s", self.path, error)
            return None
        if saved.get("format") != FORMAT or saved.get("topic") != self.topic:
            log.warning("ignoring checkpoint %s: written for topic %s", self.path, saved.get("topic"))
            return None
        return saved["state"]
