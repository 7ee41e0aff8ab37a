"""Partition states in Kafka: a compacted topic per detector group, one partition per input
partition, keyed by input partition.

``save`` writes snapshots through the outbox (an idempotent acks=all producer) and returns
once the broker has them — and everything sent before them — so the worker commits offsets
only up to what the topic holds. ``load`` reads the last record of the state topic's
partition: the input partition's latest snapshot, whatever worker wrote it. Local disk
holds nothing: a worker on an empty machine continues where the group left off.

A latest record that is not a usable snapshot (damaged, foreign, of another format, a
tombstone) does not end the partition's history: ``load`` walks back to the newest usable
snapshot still on the topic (compaction keeps older records until it runs) and counts
how far back it went (``skipped``); only when none is left does the partition start
afresh. A snapshot found that way can be older than the group's committed offset (the
newer, unusable one covered more): the events in between are then read again from the
input topic (``missed``) before the partition goes on.

A rebalance revokes every partition of every worker before assigning them again (the
eager protocol of Faust's consumer). A worker keeps the states it saved on revocation;
if it gets a partition back and the state topic's last record for it is still its own,
it reuses the state it has instead of reading it back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from confluent_kafka import Consumer, IsolationLevel, KafkaError, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec

from detector.pipeline.state import PartitionState, SnapshotError
from detector.runtime.outbox import Outbox
from schemas.topics import KafkaSettings, ensure_topics, partition_count

log = logging.getLogger(__name__)


def state_topic(app_id: str) -> str:
    return f"{app_id}-state"


class StateStore:
    def __init__(self, kafka: KafkaSettings, outbox: Outbox, app_id: str, input_topic: str,
                 max_bytes: int, on_rejected: Callable[[], None] = lambda: None,
                 on_restored: Callable[[int, int], None] = lambda partition, skipped: None,
                 timeout: float = 30.0, transaction_timeout: float = 60.0) -> None:
        self.topic = state_topic(app_id)
        self.input_topic = input_topic
        self.outbox = outbox
        self.on_rejected = on_rejected  # a damaged, foreign or old snapshot was ignored
        self.on_restored = on_restored  # (partition, records skipped back past unusable ones)
        self.skipped: dict[int, int] = {}  # per partition, at its last load
        self._kafka, self._group = kafka, app_id
        self._input_reader: Consumer | None = None
        self.timeout = timeout
        # How long a transaction can stay open on a state partition: the broker aborts a dead
        # producer's once it is past the timeout, at its next check (every 10 s by default).
        self.settle_timeout = transaction_timeout + 10 + timeout
        self.max_bytes = max_bytes
        ensure_topics(kafka, [self.topic], partitions=partition_count(kafka, input_topic),
                      config={"cleanup.policy": "compact", "max.message.bytes": str(max_bytes),
                              "min.cleanable.dirty.ratio": "0.1", "segment.ms": "600000"})
        self.partitions = partition_count(kafka, self.topic)
        self._consumer = Consumer(kafka.librdkafka(**{
            "group.id": f"{app_id}-state-reader", "enable.auto.commit": False, "enable.partition.eof": True,
            # A span with nothing to read (transaction markers, aborted records) ends at once.
            "fetch.wait.max.ms": 10,
            "fetch.max.bytes": max(max_bytes, 52_428_800), "max.partition.fetch.bytes": max_bytes}))
        self._admin = AdminClient(kafka.librdkafka())
        self._written: dict[int, int] = {}  # state-topic offset of our last snapshot, per partition
        self._kept: dict[int, PartitionState] = {}  # released after saving: reusable if still latest

    def _key(self, partition: int) -> bytes:
        return f"{self.input_topic}:{partition}".encode()

    def _state_partition(self, partition: int) -> int:
        if partition >= self.partitions:
            raise RuntimeError(f"{self.topic} has {self.partitions} partitions, fewer than "
                               f"{self.input_topic}: add partitions to it to match")
        return partition

    def save(self, states: list[PartitionState], snapshots: list[bytes], offsets: dict | None = None,
             group: bytes | None = None) -> list[int] | None:
        """Write the states' snapshots; their sizes once the broker has them (and all sent
        before them), None if it does not within the timeout. A transactional outbox commits
        them with everything sent before and the input ``offsets`` (Outbox.flush)."""
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
        return sizes if self.outbox.flush(self.timeout, offsets, group) else None

    def _record(self, msg) -> None:
        self._written[msg.partition()] = msg.offset()

    def keep(self, states: list[PartitionState]) -> None:
        """States saved and released: kept in case their partitions come back unchanged."""
        for state in states:
            self._kept[state.partition] = state

    def load(self, topic: str, partition: int) -> PartitionState | None:
        """The partition's newest usable snapshot; None when it has none."""
        tp = TopicPartition(self.topic, self._state_partition(partition))
        low, _ = self._consumer.get_watermark_offsets(tp, timeout=self.timeout)
        high = self._settled_end(tp) if self.outbox.transactional else self._end(tp)
        kept = self._kept.pop(partition, None)
        self.skipped[partition] = 0
        last = high - (2 if self.outbox.transactional else 1)  # our snapshot, then its commit marker
        if kept is not None and self._written.get(tp.partition) == last:
            return kept  # nobody wrote a newer snapshot since we saved this one
        skipped, stop, width = 0, high, 1
        while stop > low:  # newest first: the latest record alone, then ever wider spans before it
            start = max(low, stop - width)
            for msg in reversed(self._records(tp.partition, start, stop)):
                state = self._decode(msg, topic, partition)
                if state is not None:
                    self._restored(topic, partition, skipped, f"the snapshot at offset {msg.offset()}")
                    return state
                skipped += 1
            stop, width = start, width * 4
        if skipped:
            self._restored(topic, partition, skipped, "none: the partition starts afresh from its "
                           "committed offset")
        return None

    def _end(self, tp: TopicPartition, level: IsolationLevel = IsolationLevel.READ_COMMITTED) -> int:
        """The partition's end as a reader at ``level`` sees it: read_committed, before the first
        record of a transaction still open (a killed worker's, until the broker times it out);
        read_uncommitted, the high watermark."""
        future = self._admin.list_offsets({tp: OffsetSpec.latest()}, request_timeout=self.timeout,
                                          isolation_level=level)[tp]
        return future.result().offset

    def _settled_end(self, tp: TopicPartition) -> int:
        """The partition's end once no transaction is open on it. A transaction's commit returns
        before the coordinator has written its markers, and the group's offsets can show before
        the state topic's snapshot does (bench/RESULTS.md, the chaos run): a snapshot read then
        is the one before, while the consumer reads on from the new offsets, past events no
        state holds. A killed worker's transaction ends when the broker aborts it (after the
        transaction timeout) or its successor with the same id starts."""
        deadline, waited = time.monotonic() + self.settle_timeout, False
        while True:
            stable = self._end(tp)
            if stable >= self._end(tp, IsolationLevel.READ_UNCOMMITTED):
                return stable
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.topic}[{tp.partition}] still has a transaction open after "
                                   f"{self.settle_timeout:.0f} s: its snapshot cannot be known yet")
            if not waited:
                log.info("%s[%d]: waiting for the transaction open on it to end", self.topic, tp.partition)
                waited = True
            time.sleep(0.02)  # the next look at the partition's ends

    def _restored(self, topic: str, partition: int, skipped: int, found: str) -> None:
        self.skipped[partition] = skipped
        self.on_restored(partition, skipped)
        if skipped:
            log.warning("%s[%d]: %d unusable record(s) at the end of %s[%d]; restored from %s", topic,
                        partition, skipped, self.topic, partition, found)

    def _decode(self, msg, topic: str, partition: int) -> PartitionState | None:
        try:
            if msg.key() != self._key(partition):
                raise SnapshotError(f"key {msg.key()!r} is not {self._key(partition)!r}")
            return PartitionState.from_snapshot(msg.value(), topic, partition)
        except SnapshotError as error:
            self.on_rejected()
            log.warning("ignoring the record of %s[%d] at %s[%d]@%d: %s", topic, partition, self.topic,
                        msg.partition(), msg.offset(), error)
            return None

    def _records(self, state_partition: int, start: int, stop: int) -> list:
        """The state topic's records at offsets in [start, stop) (compaction may have left none);
        read to ``stop - 1`` or to the end of what is committed (transaction markers and open
        or aborted transactions' records are never delivered)."""
        return self._span(self._consumer, self.topic, state_partition, start, stop)

    def missed(self, partition: int, next_offset: int) -> list[tuple]:
        """The input partition's messages from ``next_offset`` (where a restored snapshot ends)
        up to the group's committed offset, as (key, value, headers, topic, partition, offset):
        what a newer, unusable snapshot had covered. Empty when the committed offset is not past it."""
        if self._input_reader is None:  # the worker's group, to read its offsets: it never joins
            self._input_reader = Consumer(self._kafka.librdkafka(**{
                "group.id": self._group, "enable.auto.commit": False, "enable.partition.eof": True}))
        reader = self._input_reader
        committed = reader.committed([TopicPartition(self.input_topic, partition)],
                                     timeout=self.timeout)[0].offset
        if committed <= next_offset:
            return []
        return [(m.key(), m.value(), m.headers() or [], m.topic(), m.partition(), m.offset())
                for m in self._span(reader, self.input_topic, partition, next_offset, committed)]

    def _span(self, consumer: Consumer, topic: str, partition: int, start: int, stop: int) -> list:
        """``topic[partition]``'s messages at offsets in [start, stop), read with ``consumer``."""
        consumer.assign([TopicPartition(topic, partition, start)])
        try:
            return [m for m in self._read(consumer, topic, stop - 1) if m.offset() < stop]
        finally:
            consumer.unassign()

    def _read(self, consumer: Consumer, topic: str, last: int):
        """Messages of the assigned partition up to the first at offset ``last`` or later, or to
        its end (both readers have enable.partition.eof: the input reader's committed offset and
        the state topic's last offset may lie past compacted or control records)."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = consumer.poll(1.0)
            if msg is None:
                continue
            if msg.error() is not None:
                if msg.error().code() == KafkaError._PARTITION_EOF:
                    return
                raise RuntimeError(f"reading {topic}: {msg.error()}")
            yield msg
            if msg.offset() >= last:
                return
        raise RuntimeError(f"reading {topic} took longer than {self.timeout:.0f} s")

    def close(self) -> None:
        self._consumer.close()
        if self._input_reader is not None:
            self._input_reader.close()
