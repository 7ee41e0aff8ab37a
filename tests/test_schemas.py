"""The transaction contract: the Python decoder and the JSON Schema agree, errors are precise."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import msgspec
import orjson
import pytest

from detector.metrics import MODEL_CHECKS, TESTS_BY_FEATURE
from producer.replay import MALFORMED
from schemas import drift_event
from schemas.transaction import INVALID_REASONS, InvalidEvent, Limits, decode_transaction

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
GOOD = {"InvoiceNo": "536365", "StockCode": "85123A", "Description": "WHITE HANGING HEART",
        "Quantity": 6, "InvoiceDate": "2010-12-01T08:26:00", "UnitPrice": 2.55,
        "CustomerID": 17850, "Country": "United Kingdom"}
TX_SCHEMA = json.loads((SCHEMAS / "transaction.schema.json").read_text())


def test_valid_row_decodes() -> None:
    row = decode_transaction(orjson.dumps(GOOD))
    assert (row.Quantity, row.UnitPrice, row.CustomerID) == (6, 2.55, 17850)
    assert row.InvoiceDate.isoformat() == "2010-12-01T08:26:00"
    assert not row.is_cancellation
    assert decode_transaction(orjson.dumps({**GOOD, "InvoiceNo": "C536379"})).is_cancellation


@pytest.mark.parametrize(("raw", "reason"), [
    (b"not json", "malformed_json"),
    (None, "malformed_json"),
    (b"[1, 2]", "not_object"),
    (orjson.dumps({k: v for k, v in GOOD.items() if k != "Country"}), "missing_field"),
    (orjson.dumps({**GOOD, "Quantity": "six"}), "wrong_type"),
    (orjson.dumps({**GOOD, "Quantity": 2.5}), "wrong_type"),
    (orjson.dumps(GOOD).replace(b'"UnitPrice":2.55', b'"UnitPrice":1e999'), "non_finite"),
    (orjson.dumps({**GOOD, "Quantity": 10**9}), "out_of_bounds"),
    (orjson.dumps({**GOOD, "UnitPrice": 1e12}), "out_of_bounds"),
    (orjson.dumps({**GOOD, "InvoiceDate": "yesterday"}), "bad_timestamp"),
    (orjson.dumps({**GOOD, "Country": ""}), "empty_field"),
    (orjson.dumps({**GOOD, "CustomerID": -4}), "out_of_bounds"),
    (orjson.dumps(GOOD).replace(b"17850", b"1" + b"0" * 30), "out_of_bounds"),
    (orjson.dumps(GOOD).replace(b'"United Kingdom"', b'"Unit\xff\xfeed"'), "invalid_utf8"),
    (orjson.dumps({**GOOD, "Country": "Unit\x00ed"}), "control_characters"),
    (orjson.dumps({**GOOD, "Description": "two\nlines"}), "control_characters"),
    (orjson.dumps({**GOOD, "Description": "x" * 900_000}), "too_large"),
    (orjson.dumps({**GOOD, "Description": "x" * 2_000}), "field_too_long"),
    (orjson.dumps({**GOOD, "InvoiceDate": "0001-01-01T00:00:00+14:00"}), "bad_timestamp"),
    (orjson.dumps({**GOOD, "InvoiceDate": "9999-12-31T23:59:59"}), "bad_timestamp"),
])
def test_each_failure_has_its_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(InvalidEvent) as caught:
        decode_transaction(raw)
    assert caught.value.reason == reason
    assert reason in INVALID_REASONS


def _schema_accepts(raw: bytes) -> bool:
    try:
        value = json.loads(raw)
    except ValueError:
        return False
    validator = jsonschema.Draft202012Validator(
        TX_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    return validator.is_valid(value)


@pytest.mark.parametrize("name_breaker", MALFORMED, ids=[m[0] for m in MALFORMED])
def test_producer_malformed_messages_fail_both_contracts(name_breaker) -> None:
    reason, breaker = name_breaker
    raw = breaker(orjson.dumps(GOOD))
    with pytest.raises(InvalidEvent) as caught:
        decode_transaction(raw)
    assert caught.value.reason == reason
    if reason not in ("non_finite", "bad_timestamp"):  # JSON Schema has no inf; format is advisory
        assert not _schema_accepts(raw)


def test_json_schema_accepts_what_the_decoder_accepts() -> None:
    for row in (GOOD, {**GOOD, "CustomerID": None, "Description": None},
                {**GOOD, "Quantity": -80995, "InvoiceNo": "C1"}):
        raw = orjson.dumps(row)
        decode_transaction(raw)
        assert _schema_accepts(raw)


def test_drift_event_matches_its_schema() -> None:
    event = drift_event.DriftEvent(
        kind="alarm", detector="data",
        results=[drift_event.Result("quantity", "ks", 0.31, 0.19, True)],
        window=drift_event.WindowInfo(200, 4, 12345, "2011-01-01T00:00:00", "2011-01-02T00:00:00"),
        drift_share=1 / 6, drifted_columns=1, emitted_at="2026-11-27T00:00:00+00:00",
        partition=0, trigger={"seq": 5, "onset": 1})
    schema = json.loads((SCHEMAS / "drift_event.schema.json").read_text())
    jsonschema.validate(msgspec.json.decode(drift_event.encode(event)), schema)
    assert drift_event.decode(drift_event.encode(event)) == event


def test_every_check_the_detector_runs_is_a_test_of_the_drift_event_schema() -> None:
    """The schema's list of tests follows the code's: the metrics declare every check."""
    schema = json.loads((SCHEMAS / "drift_event.schema.json").read_text())
    named = set(schema["properties"]["results"]["items"]["properties"]["test"]["enum"])
    run = {test for tests in TESTS_BY_FEATURE.values() for test in tests} | {t for _, t in MODEL_CHECKS}
    assert run <= named, run - named


def test_limits_are_settings() -> None:
    raw = orjson.dumps({**GOOD, "Description": "x" * 2_000})
    assert decode_transaction(raw, Limits(max_message_bytes=4_096, max_field_chars=2_000)).Description
    with pytest.raises(InvalidEvent) as caught:
        decode_transaction(raw, Limits(max_message_bytes=1_024))
    assert caught.value.reason == "too_large"
    with pytest.raises(ValueError, match="max_field_chars must be >= 16"):
        Limits(max_field_chars=3)
