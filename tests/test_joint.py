"""The joint tests (two-way histograms): a relation between two features that moves while
each feature's own distribution stays is caught and named; a stationary stream stays
quiet; the window's counts and verdicts do not depend on how the stream is chunked or
pickled in between."""

from __future__ import annotations

import json
import pickle
from collections import Counter
from pathlib import Path

import jsonschema
import numpy as np
import orjson
from prometheus_client import CollectorRegistry
from saved_states import saved_before

from detector.drift import config
from detector.drift.checks.joint import PAIRS, JointCheck
from detector.drift.monitor import DriftMonitor, MonitorConfig
from detector.metrics import Metrics
from detector.pipeline.messages import Message
from detector.pipeline.pipeline import Pipeline

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
COUNTRIES = np.array(["United Kingdom", "Germany", "France", "EIRE"], dtype=object)
QUANTITIES = np.array([1.0, 2.0, 3.0, 4.0, 6.0, 12.0, 24.0])
PRICES = np.array([0.42, 0.85, 1.25, 1.65, 2.1, 2.95, 4.95, 8.5])


def shop(rng: np.random.Generator, n: int, paired: bool = False) -> dict[str, np.ndarray]:
    """Rows of a stationary shop; ``paired``: in blocks of 1,000 rows the quantities and prices
    are re-paired, the largest quantity with the largest price, in a random row order: each
    feature's own values are a sample as before, their relation is not."""
    q = QUANTITIES[rng.integers(0, QUANTITIES.size, n)]
    p = PRICES[rng.integers(0, PRICES.size, n)]
    if paired:
        for start in range(0, n, 1_000):
            block = slice(start, min(start + 1_000, n))
            order = rng.permutation(block.stop - block.start)
            q[block] = np.sort(q[block])[order]
            p[block] = np.sort(p[block])[order]
    return {"quantity": q, "unit_price": p, "line_total": q * p,
            "country": COUNTRIES[rng.choice(4, n, p=[0.85, 0.05, 0.05, 0.05])],
            "cancellation": np.zeros(n, bool), "customer_missing": np.zeros(n, bool),
            "description_missing": np.zeros(n, bool), "event_time": np.arange(n, dtype=float)}


def feed(monitor: DriftMonitor, cols: dict, chunk: int) -> list:
    n = len(cols["quantity"])
    return [o for i in range(0, n, chunk)
            for o in monitor.update({k: v[i:i + chunk] for k, v in cols.items()})]


def joined(*parts: dict) -> dict:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


CONFIG = MonitorConfig(reference_size=20_000, joint_window=4_000, joint_step=500, segment_count=0,
                       customer_window=0)


def test_a_relation_that_moves_while_each_feature_stays_is_caught_and_named_by_the_joint_test() -> None:
    rng = np.random.default_rng(7)
    stream = joined(shop(rng, 60_000), shop(rng, 10_000, paired=True))  # onset at event 60,000
    alarms = [(o.events_processed, a) for o in feed(DriftMonitor(CONFIG), stream, 1_000) for a in o.alarms]
    joint = [(at, a) for at, a in alarms if a.test.startswith("joint")]
    assert joint, "the re-paired quantities and prices went unseen"
    first_at, first = joint[0]
    assert 60_000 < first_at <= 62_000  # within four evaluations of the onset
    assert (first.feature, first.test) == ("unit_price", "joint_quantity")
    assert first.segment.startswith("cell=quantity ") and ", unit_price " in first.segment
    # quantity's and price's own tests see nothing (their values are a sample as before); the
    # line totals, products of the pairs, do move
    own = [a for _, a in alarms if a.feature in ("quantity", "unit_price") and not a.test.startswith("joint")]
    assert not own


def test_a_stationary_stream_gives_the_joint_tests_no_alarm() -> None:
    rng = np.random.default_rng(8)
    monitor = DriftMonitor(CONFIG)
    outcomes = feed(monitor, shop(rng, 150_000), 5_000)
    assert not [a for o in outcomes for a in o.alarms if a.test.startswith("joint")]
    assert [(c.feature, c.test) for c in monitor.checks if isinstance(c, JointCheck)] == [
        ("unit_price", "joint_country"), ("quantity", "joint_country"), ("unit_price", "joint_quantity")]
    assert all(c.evaluate().statistic > 0 for c in monitor.checks if isinstance(c, JointCheck))  # they ran


def test_the_window_counts_are_the_last_w_events_whatever_the_chunks() -> None:
    rng = np.random.default_rng(9)
    cols = joined(shop(rng, 20_000), shop(rng, 7_000, paired=True))

    def run(chunk: int) -> tuple[JointCheck, list]:
        check = JointCheck("quantity", "unit_price", "unit_price", "joint_quantity", 20_000, 4_000, 500, 1e-7)
        hits = []
        for i in range(0, 27_000, chunk):
            hits += [(i + pos, v) for pos, v in check.update({k: v[i:i + chunk] for k, v in cols.items()})]
        return check, hits

    (one, hits_one), (other, hits_other) = run(27_000), run(333)
    assert hits_one == hits_other and hits_one
    codes = one._codes(cols, 23_000, 27_000)  # the last 4,000 events, recounted
    recount = np.bincount(one._cell_of[codes], minlength=one._counts.size)
    assert np.array_equal(one._counts, recount) and np.array_equal(other._counts, recount)


def test_a_joint_test_pickled_mid_stream_goes_on_as_if_never_stopped() -> None:
    rng = np.random.default_rng(10)
    cols = joined(shop(rng, 24_000), shop(rng, 6_000, paired=True))
    first = DriftMonitor(CONFIG)
    whole = [(o.events_processed, a.test) for o in feed(first, cols, 1_000) for a in o.alarms]
    second = DriftMonitor(CONFIG)
    head = {k: v[:21_500] for k, v in cols.items()}
    tail = {k: v[21_500:] for k, v in cols.items()}
    before = [(o.events_processed, a.test) for o in feed(second, head, 1_000) for a in o.alarms]
    restored = pickle.loads(pickle.dumps(second))  # noqa: S301 (our own object)
    after = [(o.events_processed, a.test) for o in feed(restored, tail, 1_000) for a in o.alarms]
    assert before + after == whole and any(t.startswith("joint") for _, t in whole)


def test_a_monitor_saved_before_the_joint_tests_reads_back_and_learns_them() -> None:
    rng = np.random.default_rng(11)
    cols = shop(rng, 24_000)
    monitor = DriftMonitor(CONFIG)
    feed(monitor, cols, 4_000)
    restored = saved_before(monitor, JointCheck, ("joint_window", "joint_step"))
    assert restored.config.joint_window == 10_000
    joint = [c for c in restored.checks if isinstance(c, JointCheck)]
    assert [(c.a, c.b) for c in joint] == [("country", "unit_price"), ("country", "quantity"),
                                           ("quantity", "unit_price")]
    feed(restored, shop(rng, 20_000), 4_000)
    assert all(c.cells is not None and c.seen == 20_000 for c in joint)
    assert Counter(c.axes[0].names[0] for c in joint if c.a == "country") == Counter({"United Kingdom": 2})


def test_a_joint_alarm_through_the_pipeline_is_a_schema_valid_event_naming_its_cell(tmp_path) -> None:
    rng = np.random.default_rng(12)
    rows = joined(shop(rng, 22_000), shop(rng, 3_000, paired=True))

    def message(i: int) -> Message:
        row = {"InvoiceNo": str(500_000 + i), "StockCode": "A", "Description": "x",
               "Quantity": int(rows["quantity"][i]), "InvoiceDate": "2011-01-01T10:00:00",
               "UnitPrice": float(rows["unit_price"][i]), "CustomerID": None,
               "Country": rows["country"][i]}
        return Message(b"k", orjson.dumps(row), [], "tx", 0, i)

    registry = CollectorRegistry()
    pipeline = Pipeline(CONFIG, Metrics(registry), tmp_path)
    messages = [message(i) for i in range(25_000)]
    events = [orjson.loads(v) for start in range(0, 25_000, 1_000)
              for _, v in pipeline.process(messages[start:start + 1_000]).drift_events]
    joint = [e for e in events if e["kind"] == "alarm" and e["results"][0]["test"].startswith("joint")]
    assert joint and joint[0]["window"]["events_processed"] > 22_000
    schema = json.loads((SCHEMAS / "drift_event.schema.json").read_text())
    for event in joint:
        jsonschema.validate(event, schema)
        (segment,) = event["segments"]
        assert segment["kind"] == "cell" and segment["count"] > 0
        assert event["distributions"][0]["feature"] == event["results"][0]["feature"]  # its picture
    labels = {"kind": "data", "feature": "unit_price", "test": "joint_quantity", "partition": "0"}
    assert registry.get_sample_value("clv_drift_detected_total", labels) >= 1


def test_the_alpha_budget_counts_every_joint_test() -> None:
    """The budget's count of joint tests (kept in the config, which does not import scipy) is
    the number of pairs the monitor builds, each its own (feature, test) series."""
    assert config.JOINT_TESTS == len(PAIRS) == len({(feature, test) for *_, feature, test in PAIRS})
