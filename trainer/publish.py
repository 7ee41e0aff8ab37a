"""What the trainer writes to Kafka: a version's files and announcement, retrain outcomes,
dead letters; and the outcomes recorded so far, read back."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition

from schemas import artifacts
from schemas.retrain import RetrainOutcome, decode_outcome, encode
from schemas.topics import KafkaSettings, ensure_topics


def producer_for(kafka: KafkaSettings) -> Producer:
    return Producer(kafka.librdkafka(**{"enable.idempotence": True, "acks": "all",
                                        "message.max.bytes": artifacts.MAX_PACKED_BYTES}))


def deliver(producer: Producer, topic: str, key: bytes, value: bytes | None,
             headers: list | None = None) -> object:
    """Produce one message and wait until the broker has it; its metadata."""
    stored = []
    producer.produce(topic, key=key, value=value, headers=headers,
                     on_delivery=lambda error, msg: stored.append((error, msg)))
    if producer.flush(30) or not stored or stored[0][0] is not None:
        raise RuntimeError(f"could not deliver to {topic}: {stored[0][0] if stored else 'timed out'}")
    return stored[0][1]


def publish(kafka: KafkaSettings, metadata: dict, path: Path) -> None:
    """The version's files on model.artifacts, then the announcement on model.updates naming
    where they are, so that workers on any machine can load it."""
    ensure_topics(kafka, [kafka.model_artifacts_topic], partitions=1, config=artifacts.ARTIFACTS_TOPIC_CONFIG)
    ensure_topics(kafka, [kafka.model_updates_topic])
    producer = producer_for(kafka)
    version, packed = metadata["version"], artifacts.pack(path)
    where = deliver(producer, kafka.model_artifacts_topic, version.encode(), packed)
    deliver(producer, kafka.model_updates_topic, b"clv", orjson.dumps({
        "model": "clv", "version": version, "path": str(path), "holdout": metadata["holdout"],
        "artifact": {"topic": where.topic(), "partition": where.partition(), "offset": where.offset(),
                     "bytes": len(packed)}}))


def ensure_retrain_topics(kafka: KafkaSettings) -> None:
    """One partition each: requests are handled in the order they were made."""
    ensure_topics(kafka, [kafka.retrain_requests_topic, kafka.retrain_outcomes_topic], partitions=1)
    ensure_topics(kafka, [kafka.dlq_topic])


def send_outcome(kafka: KafkaSettings, outcome: RetrainOutcome) -> None:
    deliver(producer_for(kafka), kafka.retrain_outcomes_topic, outcome.model.encode(), encode(outcome))


def send_dead_letter(kafka: KafkaSettings, key: bytes | None, value: bytes | None,
                     headers: list[tuple[str, bytes]]) -> None:
    deliver(producer_for(kafka), kafka.dlq_topic, key, value, headers)


def read_outcomes(kafka: KafkaSettings, timeout: float = 60.0) -> list[RetrainOutcome]:
    """Every outcome on retrain.outcomes, oldest first."""
    topic = kafka.retrain_outcomes_topic
    consumer = Consumer(kafka.librdkafka(**{"group.id": "driftstream-trainer-outcomes",
                                            "enable.auto.commit": False}))
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if meta is None or meta.error is not None:
            return []
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)
                for p in meta.partitions}
        pending = {p for p, (low, high) in ends.items() if high > low}
        consumer.assign([TopicPartition(topic, p, low) for p, (low, _) in ends.items() if p in pending])
        found, deadline = [], time.monotonic() + timeout
        while pending:
            if time.monotonic() > deadline:
                raise RuntimeError(f"reading {topic} took longer than {timeout:.0f} s")
            for msg in consumer.consume(1000, timeout=0.5):
                if msg.error() is not None:
                    if msg.error().code() != KafkaError._PARTITION_EOF:
                        raise RuntimeError(f"reading {topic}: {msg.error()}")
                    continue
                if msg.offset() + 1 >= ends[msg.partition()][1]:
                    pending.discard(msg.partition())
                found.append(decode_outcome(msg.value()))
        return found
    finally:
        consumer.close()
