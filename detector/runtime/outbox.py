"""Everything the pipeline writes to Kafka — dead letters, drift events, state snapshots —
through one idempotent acks=all producer, so one flush says all of it is on the broker.

With a transactional id (DETECTOR_EXACTLY_ONCE) everything written between two commits is
one Kafka transaction, and the commit carries the input offsets it covers
(``sendOffsetsToTransaction`` with the consumer group's generation, so a worker fenced out
of the group cannot commit): readers at read_committed see each output once, or not at all
when the worker died before its commit (the next owner writes it again from the last
committed snapshot).
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException, Producer, TopicPartition

from schemas.topics import KafkaSettings

log = logging.getLogger(__name__)


def group_metadata(group_id: str, generation: int, member_id: str, instance_id: str | None) -> bytes:
    """The consumer group's metadata as confluent-kafka passes it to ``send_offsets_to_transaction``
    (librdkafka's serialised ``rd_kafka_consumer_group_metadata_t``): the worker's group member
    is Faust's aiokafka consumer, not a confluent one, so it is built from that member's fields."""
    text = [group_id.encode() + b"\0", member_id.encode() + b"\0"]
    instance = b"\1" if instance_id is None else b"\0" + instance_id.encode() + b"\0"
    return b"CGMDv2:" + struct.pack("=i", generation) + text[0] + text[1] + instance


class TransactionFailed(RuntimeError):
    """A transaction could not commit: what it wrote is aborted, the pipeline's state is ahead."""


class Outbox:
    def __init__(self, kafka: KafkaSettings, max_message_bytes: int, transactional_id: str | None = None,
                 transaction_timeout: float = 60.0) -> None:
        extra = {} if transactional_id is None else {
            "transactional.id": transactional_id, "transaction.timeout.ms": int(transaction_timeout * 1000)}
        self._producer = Producer(kafka.librdkafka(**{
            "enable.idempotence": True, "acks": "all", "message.max.bytes": max_message_bytes,
            "linger.ms": 5, "compression.type": "lz4", "queue.buffering.max.messages": 1_000_000, **extra}))
        self._errors: list[str] = []
        self.transactional = transactional_id is not None
        if self.transactional:  # also aborts what a predecessor with this id left open
            self._producer.init_transactions(transaction_timeout)
            self._producer.begin_transaction()

    def send(self, topic: str, key: bytes | None, value: bytes | None, headers: list | None = None,
             partition: int | None = None, on_delivered: Callable[[object], None] | None = None) -> None:
        """Queue a message; ``on_delivered(msg)`` once the broker has it."""
        kwargs = {} if partition is None else {"partition": partition}

        def delivered(error: KafkaError | None, msg: object) -> None:
            if error is not None:
                self._errors.append(str(error))
            elif on_delivered is not None:
                on_delivered(msg)

        while True:
            try:
                self._producer.produce(topic, key=key, value=value, headers=headers,
                                       on_delivery=delivered, **kwargs)
                break
            except BufferError:  # the local queue is full: let deliveries drain it
                self._producer.poll(0.5)
            except KafkaException as error:  # refused at once (too large, unknown partition): not sent
                self._errors.append(str(error.args[0]))
                break
        self._producer.poll(0)

    def reachable(self, timeout: float) -> bool:
        """Whether the broker answers a metadata request within ``timeout``."""
        try:
            self._producer.list_topics(timeout=timeout)
        except Exception:  # KafkaException, or a timeout: unreachable either way
            return False
        return True

    def flush(self, timeout: float, offsets: dict[tuple[str, int], int] | None = None,
              group: bytes | None = None) -> bool:
        """True once everything sent so far is on the broker; False (and say why) if not.

        Transactional: commit everything sent since the last commit with ``offsets`` ((topic,
        partition) → next offset) for ``group`` (``group_metadata``), and begin the next
        transaction; raise TransactionFailed when it cannot commit within ``timeout``."""
        if self.transactional:
            self._commit(timeout, offsets or {}, group)
            return True
        remaining = self._producer.flush(timeout)
        errors, self._errors = self._errors, []
        if remaining or errors:
            log.error("not delivered: %d still queued after %.0f s; errors: %s", remaining, timeout,
                      "; ".join(errors[:3]) or "none")
            return False
        return True

    def _commit(self, timeout: float, offsets: dict[tuple[str, int], int], group: bytes | None) -> None:
        producer = self._producer
        try:
            if self._errors:
                raise TransactionFailed("; ".join(self._errors[:3]))
            if offsets:
                if group is None:
                    raise TransactionFailed("offsets to commit but no consumer group metadata")
                producer.send_offsets_to_transaction(
                    [TopicPartition(t, p, o) for (t, p), o in sorted(offsets.items())], group, timeout)
            producer.commit_transaction(timeout)
        except (KafkaException, TransactionFailed) as error:
            self._errors, detail = [], error.args[0]
            try:  # readers see none of it (sooner than the transaction timeout would make it so)
                producer.abort_transaction(timeout)
            except KafkaException as abort_error:  # fenced, or the broker is away: it times out
                log.error("aborting the transaction failed too: %s", abort_error.args[0])
            raise TransactionFailed(f"the transaction did not commit: {detail}") from None
        producer.begin_transaction()
