"""Everything the pipeline writes to Kafka — dead letters, drift events, state snapshots —
through one idempotent acks=all producer, so one flush says all of it is on the broker."""

from __future__ import annotations

import logging
from collections.abc import Callable

from confluent_kafka import KafkaError, KafkaException, Producer

from schemas.topics import KafkaSettings

log = logging.getLogger(__name__)


class Outbox:
    def __init__(self, kafka: KafkaSettings, max_message_bytes: int) -> None:
        self._producer = Producer(kafka.librdkafka(**{
            "enable.idempotence": True, "acks": "all", "message.max.bytes": max_message_bytes,
            "linger.ms": 5, "compression.type": "lz4", "queue.buffering.max.messages": 1_000_000}))
        self._errors: list[str] = []

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

    def flush(self, timeout: float) -> bool:
        """True once everything sent so far is on the broker; False (and say why) if not."""
        remaining = self._producer.flush(timeout)
        errors, self._errors = self._errors, []
        if remaining or errors:
            log.error("not delivered: %d still queued after %.0f s; errors: %s", remaining, timeout,
                      "; ".join(errors[:3]) or "none")
            return False
        return True
