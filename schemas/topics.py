"""Topic names and broker address: the Kafka side of the contract, read from env."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.kafka import client_config

# Header names carrying replay metadata. Evaluation code may read them; detection must not.
HEADER_REPLAY_ID = "replay-id"
HEADER_SEQUENCE = "replay-seq"
HEADER_SCENARIO = "replay-scenario"
HEADER_ONSET = "replay-onset"
# Dead-letter headers.
HEADER_ERROR_REASON = "error-reason"
HEADER_ERROR_DETAIL = "error-detail"
HEADER_SOURCE_TOPIC = "source-topic"
HEADER_SOURCE_PARTITION = "source-partition"
HEADER_SOURCE_OFFSET = "source-offset"
HEADER_VALUE_TRUNCATED = "error-value-truncated"  # the original size, when only a prefix is kept
# Dead letters above this size keep only a prefix: the DLQ must accept every dead letter.
DLQ_MAX_VALUE_BYTES = 960_000


def dead_letter(value: bytes | None, reason: str, detail: str, topic: str, partition: int, offset: int
                ) -> tuple[bytes | None, list[tuple[str, bytes]]]:
    """A dead letter's value and headers: the message as it came (a prefix if too large), why it
    was rejected and where it came from."""
    headers = [(HEADER_ERROR_REASON, reason.encode()),
               (HEADER_ERROR_DETAIL, detail[:500].encode(errors="replace")),
               (HEADER_SOURCE_TOPIC, topic.encode()),
               (HEADER_SOURCE_PARTITION, str(partition).encode()),
               (HEADER_SOURCE_OFFSET, str(offset).encode())]
    if value is not None and len(value) > DLQ_MAX_VALUE_BYTES:
        headers.append((HEADER_VALUE_TRUNCATED, str(len(value)).encode()))
        value = value[:DLQ_MAX_VALUE_BYTES]
    return value, headers


class KafkaSettings(BaseSettings):
    """Broker and topics; every service reads the same names."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    kafka_bootstrap_servers: str = Field("127.0.0.1:9092", description="Kafka bootstrap servers")
    kafka_connect_timeout: float = Field(10.0, gt=0, le=300, description="how long a command waits for "
                                         "the broker to answer before it says it cannot reach it, s")
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        "PLAINTEXT", description="PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL")
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = Field(
        "SCRAM-SHA-512", description="PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512 (with SASL_*)")
    kafka_sasl_username: str | None = Field(None, description="SASL user")
    kafka_sasl_password: SecretStr | None = Field(None, description="SASL password (never logged; "
                                                  "prefer the env var to the flag)")
    kafka_ssl_ca_file: Path | None = Field(None, description="CA certificates (PEM) to verify the "
                                           "broker with (with SSL, SASL_SSL)")
    kafka_ssl_cert_file: Path | None = Field(None, description="client certificate (PEM), when the "
                                             "broker asks for one")
    kafka_ssl_key_file: Path | None = Field(None, description="client certificate's private key (PEM)")
    kafka_ssl_key_password: SecretStr | None = Field(None, description="password of that key, if any")
    transactions_topic: str = Field("retail.transactions", description="input transactions")
    dlq_topic: str = Field("retail.transactions.dlq", description="dead letters")
    drift_events_topic: str = Field("drift.events", description="alarms and evaluations")
    model_updates_topic: str = Field("model.updates", description="new model versions")
    model_artifacts_topic: str = Field("model.artifacts", description="model versions' files "
                                       "(compacted), so every worker can load any version")
    retrain_requests_topic: str = Field("retrain.requests", description="requests to retrain the model "
                                        "(a person, the detector's policy)")
    retrain_outcomes_topic: str = Field("retrain.outcomes", description="what became of each retrain "
                                        "request: promoted, rejected, failed, superseded")
    topic_partitions: int = Field(3, ge=1, le=256, description="partitions for topics we create")
    topic_replication_factor: int = Field(1, ge=1, le=32, description="replication factor of topics "
                                          "we create")
    topic_min_insync_replicas: int = Field(1, ge=1, le=32, description="min.insync.replicas of topics "
                                           "we create (acks=all writes need this many replicas)")

    def librdkafka(self, **extra: object) -> dict[str, object]:
        """The confluent-kafka (librdkafka) configuration dict for this broker."""
        return client_config(self, **extra)


def partition_count(settings: KafkaSettings, topic: str, timeout: float = 30.0) -> int:
    from confluent_kafka.admin import AdminClient

    meta = AdminClient(settings.librdkafka()).list_topics(topic, timeout=timeout).topics[topic]
    if meta.error is not None:
        raise RuntimeError(f"topic {topic}: {meta.error}")
    return len(meta.partitions)


def ensure_topics(settings: KafkaSettings, names: list[str], partitions: int | None = None,
                  timeout: float = 30.0, config: dict[str, str] | None = None) -> None:
    """Create the topics that do not exist yet (explicitly: brokers differ on auto-creation),
    with the replication settings and any extra topic ``config``."""
    from confluent_kafka import KafkaError, KafkaException
    from confluent_kafka.admin import AdminClient, NewTopic

    admin = AdminClient(settings.librdkafka())
    existing = admin.list_topics(timeout=timeout).topics
    topic_config = {"min.insync.replicas": str(settings.topic_min_insync_replicas), **(config or {})}
    wanted = [NewTopic(name, num_partitions=partitions or settings.topic_partitions,
                       replication_factor=settings.topic_replication_factor, config=topic_config)
              for name in names if name not in existing]
    if not wanted:
        return
    for name, future in admin.create_topics(wanted, operation_timeout=timeout).items():
        try:
            future.result(timeout=timeout)
        except KafkaException as error:
            if error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise RuntimeError(f"cannot create topic {name}: {error.args[0].str()}") from None
