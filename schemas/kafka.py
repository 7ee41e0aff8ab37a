"""Connecting to Kafka, for every service: security, a bounded check, quiet client logs.

- ``client_config``: the librdkafka (confluent-kafka) settings for the broker address and
  its security — TLS (CA file, client certificate) and SASL (PLAIN, SCRAM-SHA-256/512);
  ``ssl_context`` the same for aiokafka (Faust). Secrets stay SecretStr until this point
  and are never logged.
- ``check``: find out within a bounded time whether the broker answers; if not, one
  ``KafkaUnavailable`` naming the address and the reason librdkafka gave.
- librdkafka's own log goes through Python logging (logger ``driftstream.kafka``), each
  distinct line once: a refused connection retried every second is one line, not a storm.
"""

from __future__ import annotations

import logging
import re
import ssl
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from schemas.topics import KafkaSettings

log = logging.getLogger("driftstream.kafka")


class KafkaUnavailable(RuntimeError):
    """The broker cannot be reached or refuses us: one line that says where and why."""


class _OncePerLine(logging.Filter):
    """Let each distinct librdkafka line through once (timings and counters ignored)."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        text = re.sub(r"\d+(\.\d+)?", "#", record.getMessage())
        if text in self.seen:
            return False
        self.seen.add(text)
        return True


log.addFilter(_OncePerLine())
_quiet = logging.getLogger("driftstream.kafka.check")  # the check says it all in its one line
_quiet.propagate = False
_quiet.addHandler(logging.NullHandler())


def client_config(settings: KafkaSettings, **extra: object) -> dict[str, object]:
    config: dict[str, object] = {"bootstrap.servers": settings.kafka_bootstrap_servers,
                                 "security.protocol": settings.kafka_security_protocol.lower(),
                                 "logger": log}
    if settings.kafka_security_protocol.startswith("SASL"):
        config["sasl.mechanisms"] = settings.kafka_sasl_mechanism
        config["sasl.username"] = settings.kafka_sasl_username or ""
        config["sasl.password"] = (settings.kafka_sasl_password.get_secret_value()
                                   if settings.kafka_sasl_password else "")
    if settings.kafka_security_protocol.endswith("SSL"):
        for key, path in (("ssl.ca.location", settings.kafka_ssl_ca_file),
                          ("ssl.certificate.location", settings.kafka_ssl_cert_file),
                          ("ssl.key.location", settings.kafka_ssl_key_file)):
            if path is not None:
                config[key] = str(path)
        if settings.kafka_ssl_key_password is not None:
            config["ssl.key.password"] = settings.kafka_ssl_key_password.get_secret_value()
    return {**config, **extra}


def ssl_context(settings: KafkaSettings) -> ssl.SSLContext | None:
    """The TLS context for aiokafka (Faust), or None without TLS."""
    if not settings.kafka_security_protocol.endswith("SSL"):
        return None
    context = ssl.create_default_context(cafile=str(settings.kafka_ssl_ca_file)
                                         if settings.kafka_ssl_ca_file else None)
    if settings.kafka_ssl_cert_file is not None:
        password = settings.kafka_ssl_key_password
        context.load_cert_chain(str(settings.kafka_ssl_cert_file),
                                str(settings.kafka_ssl_key_file) if settings.kafka_ssl_key_file else None,
                                password.get_secret_value() if password else None)
    return context


def check(settings: KafkaSettings, timeout: float | None = None) -> None:
    """Return once the broker answers; raise KafkaUnavailable if it does not in ``timeout``
    seconds (default: the setting ``kafka_connect_timeout``)."""
    from confluent_kafka import KafkaException, Producer

    errors: list[str] = []
    timeout = settings.kafka_connect_timeout if timeout is None else timeout
    client = Producer(client_config(settings, logger=_quiet,
                                    error_cb=lambda error: errors.append(error.str())))
    try:
        client.list_topics(timeout=timeout)
    except KafkaException as error:
        client.poll(0.5)  # serves error_cb: librdkafka's reason (refused, authentication, TLS)
        reason = next((e for e in errors if "auth" in e.lower() or "ssl" in e.lower()), None)
        raise KafkaUnavailable(f"cannot reach Kafka at {settings.kafka_bootstrap_servers} "
                               f"({settings.kafka_security_protocol}) within {timeout:g} s: "
                               f"{reason or (errors[-1] if errors else error.args[0].str())}") from None
