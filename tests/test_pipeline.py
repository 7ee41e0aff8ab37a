"""The broker-free pipeline: dead letters with reasons, metrics in a fresh registry."""

from __future__ import annotations

import numpy as np
import orjson
from prometheus_client import CollectorRegistry

from detector.drift.monitor import MonitorConfig
from detector.metrics import Metrics
from detector.pipeline import pipeline as pipeline_module
from detector.pipeline.messages import Message
from detector.pipeline.pipeline import Pipeline
from producer import data
from producer.replay import MALFORMED, encode_rows


def test_invalid_messages_become_dead_letters_and_counts(data_path, tmp_path) -> None:
    frame = data.load_online_retail(data_path).iloc[:3_000]
    rows = list(encode_rows(frame))
    registry = CollectorRegistry()
    pipeline = Pipeline(MonitorConfig(reference_size=1_000, window_size=100, panes=4),
                        Metrics(registry), tmp_path)
    messages, bad = [], 0
    for i, (key, value) in enumerate(rows):
        if i % 100 == 7:
            reason, breaker = MALFORMED[bad % len(MALFORMED)]
            messages.append(Message(key, breaker(value), [("replay-malformed", reason.encode())],
                                    "tx", i % 2, len(messages)))
            bad += 1
        messages.append(Message(key, value, [], "tx", i % 2, len(messages)))
    out = pipeline.process(messages)
    assert len(out.dead_letters) == bad == 30
    for letter, original in zip(out.dead_letters, [m for m in messages if m.headers], strict=True):
        meta = dict(letter.headers)
        assert (letter.key, letter.value) == (original.key, original.value)  # original bytes kept
        assert letter.reason == original.headers[0][1].decode()
        assert meta["error-reason"] == original.headers[0][1]
        assert meta["source-topic"] == b"tx"
        assert int(meta["source-offset"]) == original.offset
    assert registry.get_sample_value("clv_events_processed_total") == 3_000
    for reason, _ in MALFORMED:
        expected = sum(1 for k in range(bad) if MALFORMED[k % len(MALFORMED)][0] == reason)
        assert registry.get_sample_value("clv_events_invalid_total", {"reason": reason}) == expected
    # Two partitions of 1,500: each warmed up (1,000), each window (100) full.
    assert registry.get_sample_value("clv_window_fill_ratio", {"window": "current"}) == 1.0
    # Per partition: 1,500 events, warm-up 1,000, window 100 full, then a pane every 25.
    evaluations = [orjson.loads(v) for k, v in out.drift_events if orjson.loads(v)["kind"] == "evaluation"]
    assert len(evaluations) == 2 * ((1_500 - 1_000 - 100) // 25 + 1) == 34
    assert registry.get_sample_value("clv_evaluations_total") == 34
    assert sorted(e["partition"] for e in evaluations) == [0] * 17 + [1] * 17


def test_alarm_writes_the_report(tmp_path) -> None:
    rng = np.random.default_rng(3)
    registry = CollectorRegistry()
    pipeline = Pipeline(MonitorConfig(reference_size=1_000, window_size=100, panes=4),
                        Metrics(registry), tmp_path)

    def message(i: int, quantity: int) -> Message:
        row = {"InvoiceNo": str(500_000 + i), "StockCode": "A", "Description": None,
               "Quantity": quantity, "InvoiceDate": "2011-01-01T10:00:00",
               "UnitPrice": 2.0, "CustomerID": None, "Country": "United Kingdom"}
        return Message(b"k", orjson.dumps(row), [], "tx", 0, i)

    pipeline.process([message(i, int(q)) for i, q in enumerate(rng.integers(1, 10, 1_500))])
    assert not (tmp_path / "latest_drift_report.json").exists()
    out = pipeline.process([message(1_500 + i, int(q)) for i, q in enumerate(rng.integers(30, 60, 200))])
    alarms = [orjson.loads(v) for k, v in out.drift_events if orjson.loads(v)["kind"] == "alarm"]
    assert {a["results"][0]["feature"] for a in alarms} >= {"quantity", "line_total"}
    report = orjson.loads((tmp_path / "latest_drift_report.json").read_bytes())
    assert report["alarm"]["results"][0]["drifted"]
    assert report["alarm"]["window"]["event_time_start"] == "2011-01-01T10:00:00"
    labels = {"kind": "data", "feature": "quantity", "test": "ks", "partition": "0"}
    assert registry.get_sample_value("clv_drift_detected_total", labels) == 1


def test_redelivered_messages_count_once_even_within_a_batch(data_path, tmp_path) -> None:
    """After a rebalance a batch can hold messages twice (buffered before, fetched again after)."""
    rows = list(encode_rows(data.load_online_retail(data_path).iloc[:600]))
    messages = [Message(key, value, [], "tx", 0, i) for i, (key, value) in enumerate(rows)]
    registry = CollectorRegistry()
    pipeline = Pipeline(MonitorConfig(reference_size=100, window_size=100, panes=4), Metrics(registry),
                        tmp_path)
    pipeline.process(messages[:300])
    pipeline.process(messages[250:400] + messages[280:500] + messages[100:120] + messages[500:])
    assert pipeline.partitions[0].events == 600
    assert registry.get_sample_value("clv_events_processed_total") == 600
    assert registry.get_sample_value("clv_state_events", {"partition": "0"}) == 600


def test_a_message_that_breaks_processing_is_isolated_and_dead_lettered(data_path, tmp_path,
                                                                        monkeypatch) -> None:
    """A row that passes decoding but makes processing raise (a bug, say): rolled back, found by
    bisection, dead-lettered with reason processing_error; every other row applied once."""
    frame = data.load_online_retail(data_path).iloc[:3_000].reset_index(drop=True)
    frame.loc[1_234, "Quantity"] = 4242
    rows = list(encode_rows(frame))
    messages = [Message(key, value, [], "tx", 0, i) for i, (key, value) in enumerate(rows)]
    real_columns = pipeline_module.columns

    def breaks_on_4242(batch):
        if any(r.Quantity == 4242 for r in batch):
            raise ZeroDivisionError("a bug that one row triggers")
        return real_columns(batch)

    def run(messages: list[Message], root) -> tuple[Pipeline, CollectorRegistry, list]:
        registry = CollectorRegistry()
        p = Pipeline(MonitorConfig(reference_size=1_000, window_size=100, panes=4), Metrics(registry), root)
        letters = []
        for start in range(0, len(messages), 500):
            letters += p.process(messages[start:start + 500]).dead_letters
        return p, registry, letters

    monkeypatch.setattr(pipeline_module, "columns", breaks_on_4242)
    broken, registry, letters = run(messages, tmp_path / "a")
    monkeypatch.setattr(pipeline_module, "columns", real_columns)
    clean, _, _ = run(messages[:1_234] + messages[1_235:], tmp_path / "b")
    assert [(letter.reason, dict(letter.headers)["source-offset"]) for letter in letters] == \
        [("processing_error", b"1234")]
    assert b"ZeroDivisionError: a bug that one row triggers" in dict(letters[0].headers)["error-detail"]
    assert registry.get_sample_value("clv_events_invalid_total", {"reason": "processing_error"}) == 1
    state, expected = broken.partitions[0], clean.partitions[0]
    assert (state.events, state.evaluations, state.offset) == (expected.events, expected.evaluations, 2_999)
    assert state.monitor.events_processed == expected.monitor.events_processed == 2_999
