"""Partition states in Kafka: a compacted topic per detector group, one partition per input
partition, keyed by input partition.

``save`` writes snapshots through the outbox (an idempotent acks=all producer) and returns
once the broker has them — and everything sent before them — so the worker commits offsets
only up to what the topic holds. ``load`` reads
the last record of the state topic's partition: the input partition's latest snapshot,
whatever worker wrote it. Local disk holds nothing: a worker on an empty machine
continues where the group left off.

A rebalance revokes every partition of every worker before assigning them again (the
eager protocol of Faust's consumer). A worker keeps the states it saved on revocation;
if it gets a partition back and the state topic's last record for it is still its own,
it reuses the state it has instead of reading it back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import Consumer, KafkaError, TopicPartition

from detector.pipeline.state import PartitionState, SnapshotError
from detector.runtime.outbox import Outbox
from schemas.topics import KafkaSettings, ensure_topics, partition_count

log = logging.getLogger(__name__)


def state_topic(app_id: str) -> str:
    return f"{app_id}-state"


class StateStore:
    def __init__(self, kafka: KafkaSettings, outbox: Outbox, app_id: str, input_topic: str,
                 max_bytes: int, on_rejected: Callable[[], None] = lambda: None,
                 timeout: float = 30.0) -> None:
        self.topic = state_topic(app_id)
        self.input_topic = input_topic
        self.outbox = outbox
        self.on_rejected = on_rejected  # a damaged, foreign or old snapshot was ignored
        self.timeout = timeout
        self.max_bytes = max_bytes
        ensure_topics(kafka, [self.topic], partitions=partition_count(kafka, input_topic),
                      config={"cleanup.policy": "compact", "max.message.bytes": str(max_bytes),
                              "min.cleanable.dirty.ratio": "0.1", "segment.ms": "600000"})
        self.partitions = partition_count(kafka, self.topic)
        self._consumer = Consumer(kafka.librdkafka(**{
            "group.id": f"{app_id}-state-reader", "enable.auto.commit": False,
            "fetch.max.bytes": max(max_bytes, 52_428_800), "max.partition.fetch.bytes": max_bytes}))
        self._written: dict[int, int] = {}  # state-topic offset of our last snapshot, per partition
        self._kept: dict[int, PartitionState] = {}  # released after saving: reusable if still latest

    def _key(self, partition: int) -> bytes:
        return f"{self.input_topic}:{partition}".encode()

    def _state_partition(self, partition: int) -> int:
        if partition >= self.partitions:
            raise RuntimeError(f"{self.topic} has {self.partitions} partitions, fewer than "
                               f"{self.input_topic}: add partitions to it to match")
        return partition

    def save(self, states: list[PartitionState], snapshots: list[bytes]) -> list[int] | None:
        """Write the states' snapshots; their sizes once the broker has them (and all sent
        before them), None if it does not within the timeout."""
        too_large = [(s.partition, len(d)) for s, d in zip(states, snapshots, strict=True)
                     if len(d) > self.max_bytes]
        if too_large:  # the producer would refuse them: nothing is saved, offsets stay uncommitted
            log.error("state snapshots over DETECTOR_STATE_MAX_BYTES (%d bytes), not saved: %s; raise "
                      "it (the state topic's max.message.bytes too)", self.max_bytes,
                      ", ".join(f"partition {p}: {n} bytes" for p, n in too_large))
            return None
        sizes = []
        for state, data in zip(states, snapshots, strict=True):
            sizes.append(len(data))
            self.outbox.send(self.topic, self._key(state.partition), data,
                             [("offset", str(state.offset).encode())],
                             partition=self._state_partition(state.partition),
                             on_delivered=self._record)
        return sizes if self.outbox.flush(self.timeout) else None

    def _record(self, msg) -> None:
        self._written[msg.partition()] = msg.offset()

    def keep(self, states: list[PartitionState]) -> None:
        """States saved and released: kept in case their partitions come back unchanged."""
        for state in states:
            self._kept[state.partition] = state

    def load(self, topic: str, partition: int) -> PartitionState | None:
        """The partition's latest snapshot; None when it has none, or none that is usable."""
        tp = TopicPartition(self.topic, self._state_partition(partition))
        low, high = self._consumer.get_watermark_offsets(tp, timeout=self.timeout)
        kept = self._kept.pop(partition, None)
        if kept is not None and self._written.get(tp.partition) == high - 1:
            return kept  # nobody wrote a newer snapshot since we saved this one
        if high <= low:
            return None
        self._consumer.assign([TopicPartition(self.topic, tp.partition, high - 1)])
        try:
            msg = self._read(high - 1)
        finally:
            self._consumer.unassign()
        try:
            if msg.key() != self._key(partition):
                raise SnapshotError(f"key {msg.key()!r} is not {self._key(partition)!r}")
            return PartitionState.from_snapshot(msg.value(), topic, partition)
        except SnapshotError as error:
            self.on_rejected()
            log.warning("ignoring the snapshot of %s[%d] at %s[%d]@%d: %s; the partition starts "
                        "afresh from its committed offset", topic, partition, self.topic, tp.partition,
                        msg.offset(), error)
            return None

    def _read(self, offset: int):
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = self._consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(f"reading {self.topic}: {msg.error()}")
            if msg.offset() >= offset:
                return msg
        raise RuntimeError(f"reading {self.topic} took longer than {self.timeout:.0f} s")

    def close(self) -> None:
        self._consumer.close()
