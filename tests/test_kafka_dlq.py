"""Bad messages on a real broker: every one in the DLQ with its reason, every valid one counted."""

from __future__ import annotations

from collections import Counter

import orjson
import pytest
from confluent_kafka import Producer
from services import base_env, read_topic, replay

from producer import data
from producer.replay import MALFORMED, encode_rows
from schemas.topics import (
    HEADER_ERROR_REASON,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
    KafkaSettings,
    ensure_topics,
)

pytestmark = pytest.mark.kafka


def test_malformed_messages_land_in_the_dlq(kafka_bootstrap, topics, data_path, start_detector) -> None:
    env = base_env(kafka_bootstrap, topics, DETECTOR_REFERENCE_SIZE="2000")
    detector = start_detector(env)
    result = replay(env, "--data", str(data_path), "--limit", "30000", "--malformed", "1000")
    assert result.returncode == 0, result.stderr
    assert "31000 delivered, 0 failed" in " ".join(result.stderr.split())
    detector.wait_processed(30_000)
    dlq = read_topic(kafka_bootstrap, topics["DLQ_TOPIC"])
    assert len(dlq) == 1_000
    # The producer cycles through the kinds of breakage: k-th bad message has kind k mod 7.
    expected = Counter(MALFORMED[k % len(MALFORMED)][0] for k in range(1_000))
    assert Counter(dict(m.headers())[HEADER_ERROR_REASON].decode() for m in dlq) == expected
    source = {(m.partition(), m.offset()): m.value()
              for m in read_topic(kafka_bootstrap, topics["TRANSACTIONS_TOPIC"])}
    for m in dlq:  # the original bytes, pointing back at where they came from
        headers = dict(m.headers())
        where = (int(headers[HEADER_SOURCE_PARTITION]), int(headers[HEADER_SOURCE_OFFSET]))
        assert source[where] == m.value()
    metrics = detector.scrape()
    assert metrics["clv_events_processed_total"] == 30_000
    for reason, count in expected.items():
        assert metrics[f'clv_events_invalid_total{{reason="{reason}"}}'] == count
    assert detector.alive


GOOD = {"InvoiceNo": "536365", "StockCode": "85123A", "Description": "WHITE HEART", "Quantity": 6,
        "InvoiceDate": "2010-12-01T08:26:00", "UnitPrice": 2.55, "CustomerID": 17850,
        "Country": "United Kingdom"}
GOOD_BYTES = orjson.dumps(GOOD)
# Each hostile kind, and the DLQ reason the contract gives it (schemas/transaction.py).
HOSTILE = {
    "tombstone": (None, "malformed_json"),
    "empty": (b"", "malformed_json"),
    "truncated": (GOOD_BYTES[:40], "malformed_json"),
    "nan": (GOOD_BYTES.replace(b"2.55", b"NaN"), "malformed_json"),
    "raw_nul": (GOOD_BYTES.replace(b"WHITE", b"WH\x00TE"), "malformed_json"),
    "deep_nesting": (b'{"x":' + b"[" * 4_000 + b"]" * 4_000 + b"," + GOOD_BYTES[1:], "malformed_json"),
    "huge_number": (GOOD_BYTES.replace(b"2.55", b"1e308"), "out_of_bounds"),
    "invalid_utf8": (GOOD_BYTES.replace(b'"United Kingdom"', b'"Unit\xff\xfeed"'), "invalid_utf8"),
    "escaped_nul": (GOOD_BYTES.replace(b"WHITE", b"WH\\u0000TE"), "control_characters"),
    "900kb_description": (GOOD_BYTES.replace(b"WHITE HEART", b"x" * 900_000), "too_large"),
    "long_field": (GOOD_BYTES.replace(b"WHITE HEART", b"x" * 5_000), "field_too_long"),
    "huge_customer": (GOOD_BYTES.replace(b"17850", b"1" + b"0" * 30), "out_of_bounds"),
}


def test_hostile_messages_cannot_stop_the_stream(kafka_bootstrap, topics, data_path,
                                                 start_detector) -> None:
    """Every kind of hostile message in the DLQ with its reason; the good ones behind it processed."""
    env = base_env(kafka_bootstrap, topics, DETECTOR_REFERENCE_SIZE="2000")
    ensure_topics(KafkaSettings(kafka_bootstrap_servers=kafka_bootstrap,
                                transactions_topic=topics["TRANSACTIONS_TOPIC"]),
                  [topics["TRANSACTIONS_TOPIC"]])
    rows = list(encode_rows(data.load_online_retail(data_path).iloc[:6_000]))
    producer = Producer({"bootstrap.servers": kafka_bootstrap, "message.max.bytes": 2_000_000,
                         "enable.idempotence": True})
    per_kind, sent_bad = 3, Counter()
    for i, (key, value) in enumerate(rows):
        producer.produce(topics["TRANSACTIONS_TOPIC"], key=key, value=value)
        if i % 150 == 0 and sum(sent_bad.values()) < per_kind * len(HOSTILE):
            kind = list(HOSTILE)[(i // 150) % len(HOSTILE)]
            producer.produce(topics["TRANSACTIONS_TOPIC"], key=key, value=HOSTILE[kind][0])
            sent_bad[HOSTILE[kind][1]] += 1
    assert producer.flush(60) == 0
    detector = start_detector(env)
    detector.wait_processed(len(rows))
    bad = sum(sent_bad.values())
    assert bad == per_kind * len(HOSTILE)
    dlq = read_topic(kafka_bootstrap, topics["DLQ_TOPIC"])
    assert Counter(dict(m.headers())[HEADER_ERROR_REASON].decode() for m in dlq) == sent_bad
    metrics = detector.scrape()
    assert metrics["clv_events_processed_total"] + len(dlq) == len(rows) + bad  # produced
    assert metrics["clv_events_processed_total"] == len(rows)
    assert detector.alive
