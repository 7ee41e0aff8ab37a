"""Everything one input partition has built, as one typed object that moves with it.

A partition's state is its drift monitor (reference, window), its model tracking
(customers, pending predictions, error statistics), its drift episodes, the last offset it covers and its
counts. A snapshot is that object, versioned and compressed: written to Kafka before the
offsets it covers are committed, read back by whichever worker owns the partition next.
"""

from __future__ import annotations

import math
import pickle
from dataclasses import dataclass
from typing import ClassVar

import cramjam

from detector.drift.episodes import Episodes
from detector.drift.monitor import DriftMonitor
from detector.model.tracker import TrackerState

MAGIC = b"DSS"


class SnapshotError(ValueError):
    """A snapshot that is damaged, foreign (another topic or partition) or of another format."""


@dataclass
class PartitionState:
    FORMAT: ClassVar[int] = 6  # bump when the layout changes: older snapshots are ignored

    topic: str
    partition: int
    monitor: DriftMonitor
    tracker: TrackerState
    offset: int = -1  # the last offset processed, valid or not: everything up to it is in here
    events: int = 0  # valid events this state has seen, whichever worker processed them
    evaluations: int = 0
    watermark: float = -math.inf  # the largest event time seen
    episodes: Episodes | None = None  # its drift episodes (the pipeline sets them)

    @property
    def model_version(self) -> str | None:
        return self.tracker.model_version

    def snapshot(self) -> bytes:
        body = pickle.dumps(self, protocol=pickle.HIGHEST_PROTOCOL)
        return MAGIC + bytes([self.FORMAT]) + bytes(cramjam.zstd.compress(body, level=1))

    @classmethod
    def from_snapshot(cls, data: bytes | None, topic: str, partition: int) -> PartitionState:
        """The state in a snapshot of ``topic``'s ``partition``, or SnapshotError."""
        if not data or data[:3] != MAGIC:
            raise SnapshotError("not a driftstream snapshot")
        if data[3] != cls.FORMAT:
            raise SnapshotError(f"snapshot format {data[3]}, this worker reads {cls.FORMAT}")
        try:
            state = pickle.loads(bytes(cramjam.zstd.decompress(data[4:])))  # noqa: S301 (our own state topic)
        except Exception as error:  # truncated, corrupted: whatever it is, it is not a state
            raise SnapshotError(f"unreadable snapshot: {type(error).__name__}: {error}") from None
        if not isinstance(state, cls):
            raise SnapshotError(f"a {type(state).__name__}, not a PartitionState")
        if (state.topic, state.partition) != (topic, partition):
            raise SnapshotError(f"the state of {state.topic}[{state.partition}], not {topic}[{partition}]")
        return state
