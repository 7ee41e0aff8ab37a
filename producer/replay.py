"""Replay rows onto Kafka with confluent-kafka: headers, rate limit, delivery accounting."""

from __future__ import annotations

import logging
import time
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import orjson
import pandas as pd
from confluent_kafka import KafkaError, Producer

from schemas.topics import (
    HEADER_ONSET,
    HEADER_REPLAY_ID,
    HEADER_SCENARIO,
    HEADER_SEQUENCE,
    KafkaSettings,
)

log = logging.getLogger(__name__)

# Each malformed message breaks the contract in one way; the detector must name the reason.
MALFORMED = (
    ("malformed_json", lambda good: good[:-7] + b"}{"),
    ("missing_field", lambda good: orjson.dumps(
        {k: v for k, v in orjson.loads(good).items() if k != "Country"})),
    ("wrong_type", lambda good: orjson.dumps({**orjson.loads(good), "Quantity": "six"})),
    ("non_finite", lambda good: good.replace(b'"UnitPrice":', b'"UnitPrice":1e999,"x":')),
    ("out_of_bounds", lambda good: orjson.dumps({**orjson.loads(good), "Quantity": 10**12})),
    ("bad_timestamp", lambda good: orjson.dumps({**orjson.loads(good), "InvoiceDate": "yesterday"})),
    ("not_object", lambda good: b"[" + good + b"]"),
)


@dataclass
class ReplayResult:
    replay_id: str
    produced: int = 0
    delivered: int = 0
    failed: int = 0
    malformed: int = 0
    onset: int = 0
    seconds: float = 0.0

    @property
    def undelivered(self) -> int:
        return self.produced - self.delivered


def partitions_of(frame: pd.DataFrame, n_partitions: int) -> np.ndarray:
    """The partition of each row's key under librdkafka's default partitioner (CRC32 of the
    key, modulo the partitions): for offline runs that split rows as the topic does."""
    keys = [str(int(c)) if c == c else inv for c, inv in
            zip(frame["CustomerID"].tolist(), frame["InvoiceNo"].tolist(), strict=True)]
    cache: dict[str, int] = {}
    return np.array([cache.setdefault(k, zlib.crc32(k.encode()) % n_partitions) for k in keys])


def encode_rows(frame: pd.DataFrame) -> Iterator[tuple[bytes, bytes]]:
    """(key, JSON value) per row, keyed by CustomerID, else InvoiceNo."""
    dates = frame["InvoiceDate"].dt.strftime("%Y-%m-%dT%H:%M:%S").tolist()
    customers = frame["CustomerID"].to_numpy()
    cols = [frame[c].tolist() for c in ("InvoiceNo", "StockCode", "Description", "Quantity",
                                         "UnitPrice", "Country")]
    for i, (invoice, stock, desc, qty, price, country) in enumerate(zip(*cols, strict=True)):
        cust = customers[i]
        customer = None if np.isnan(cust) else int(cust)
        value = orjson.dumps({
            "InvoiceNo": invoice, "StockCode": stock,
            "Description": desc if isinstance(desc, str) else None,
            "Quantity": qty, "InvoiceDate": dates[i], "UnitPrice": price,
            "CustomerID": customer, "Country": country,
        })
        key = str(customer) if customer is not None else invoice
        yield key.encode(), value


def replay(frame: pd.DataFrame, settings: KafkaSettings, *, scenario: str, onset: int,
           rate: float = 0.0, malformed: int = 0, seed: int = 0, replay_id: str | None = None,
           on_progress: Callable[[int], None] | None = None, flush_timeout: float = 120.0,
           ) -> ReplayResult:
    """Produce every row (and ``malformed`` broken messages at seeded random places)."""
    result = ReplayResult(replay_id=replay_id or uuid.uuid4().hex[:12], onset=onset)
    producer = Producer(settings.librdkafka(**{
        "enable.idempotence": True, "linger.ms": 20, "compression.type": "lz4",
        "queue.buffering.max.messages": 500_000, "batch.num.messages": 10_000,
    }))

    def delivered(err: KafkaError | None, _msg: object) -> None:
        if err is None:
            result.delivered += 1
        else:
            result.failed += 1
            log.error("delivery failed: %s", err)

    rng = np.random.default_rng(seed + 1)
    bad_at = set(rng.choice(len(frame) + malformed, size=malformed, replace=False).tolist()) \
        if malformed else set()
    fixed = [(HEADER_REPLAY_ID, result.replay_id.encode()),
             (HEADER_SCENARIO, scenario.encode()), (HEADER_ONSET, str(onset).encode())]
    started = time.monotonic()
    position = seq = 0
    rows = encode_rows(frame)
    while True:
        if position in bad_at:
            key, good = next(encode_rows(frame.iloc[[seq % len(frame)]]))
            reason, breaker = MALFORMED[result.malformed % len(MALFORMED)]
            _send(producer, settings.transactions_topic, key, breaker(good),
                  fixed + [("replay-malformed", reason.encode())], delivered)
            result.malformed += 1
        else:
            item = next(rows, None)
            if item is None:
                break
            key, value = item
            _send(producer, settings.transactions_topic, key, value,
                  fixed + [(HEADER_SEQUENCE, str(seq).encode())], delivered)
            seq += 1
        position += 1
        result.produced += 1
        if rate > 0:
            ahead = started + result.produced / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        if on_progress is not None and position % 1000 == 0:
            on_progress(1000)
        producer.poll(0)
    remaining = producer.flush(flush_timeout)
    if remaining:
        log.error("%d messages still queued after %.0f s flush", remaining, flush_timeout)
    if on_progress is not None:
        on_progress(position % 1000)
    result.seconds = time.monotonic() - started
    return result


def _send(producer: Producer, topic: str, key: bytes, value: bytes, headers: list,
          callback: Callable) -> None:
    while True:
        try:
            producer.produce(topic, value=value, key=key, headers=headers, on_delivery=callback)
            return
        except BufferError:
            producer.poll(0.05)
