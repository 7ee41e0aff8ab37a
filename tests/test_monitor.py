"""The drift monitor's schedule and alarm logic on seeded streams."""

from __future__ import annotations

import numpy as np
import pytest

from detector.drift.monitor import DriftMonitor, MonitorConfig


def stream(rng: np.random.Generator, n: int, shift: float = 0.0, uk: float = 0.9) -> dict:
    q = rng.lognormal(1.0 + shift, 1.0, n)
    return {"quantity": q, "unit_price": rng.lognormal(0.5, 0.5, n), "line_total": q * 2.0,
            "country": np.where(rng.random(n) < uk, "UK", "DE").astype(object),
            "cancellation": rng.random(n) < 0.02, "customer_missing": rng.random(n) < 0.25,
            "description_missing": np.zeros(n, bool), "event_time": np.arange(n, dtype=float)}


def feed(monitor: DriftMonitor, cols: dict, batch: int) -> list:
    n = cols["quantity"].size
    out = []
    for start in range(0, n, batch):
        out += monitor.update({k: v[start:start + batch] for k, v in cols.items()})
    return out


CONFIG = MonitorConfig(reference_size=1_000, window_size=100, panes=4)


def test_evaluates_each_pane_once_the_window_is_full() -> None:
    outcomes = feed(DriftMonitor(CONFIG), stream(np.random.default_rng(1), 2_000), batch=37)
    evaluations = [o.events_processed for o in outcomes if o.kind == "evaluation"]
    # Warm-up 1,000, window full at 1,100, then one evaluation per 25-event pane up to 2,000.
    assert evaluations == list(range(1_100, 2_001, 25))


def test_outcomes_do_not_depend_on_batch_sizes() -> None:
    cols = stream(np.random.default_rng(2), 3_000)
    shifted = stream(np.random.default_rng(3), 1_000, shift=1.5)
    both = {k: np.concatenate([cols[k], shifted[k]]) for k in cols}

    def summary(batch: int) -> list:
        return [(o.kind, o.events_processed, [(a.feature, a.test) for a in o.alarms])
                for o in feed(DriftMonitor(CONFIG), both, batch)]

    assert summary(1) == summary(64) == summary(4_000)


def test_alarms_on_rising_edges_only() -> None:
    rng = np.random.default_rng(4)
    monitor = DriftMonitor(CONFIG)
    feed(monitor, stream(rng, 2_000), 500)
    drifted = feed(monitor, stream(rng, 1_000, shift=2.0), 50)
    ks_alarms = [(o.events_processed, a.feature) for o in drifted for a in o.alarms if a.test == "ks"]
    # One alarm per drifted feature, though every later pane stays drifted.
    assert sorted(f for _, f in ks_alarms) == ["line_total", "quantity"]
    assert all(2_000 < at <= 2_100 for at, _ in ks_alarms)
    assert all(r.drifted for r in drifted[-1].results if r.test == "ks" and r.feature == "quantity")
    back = feed(monitor, stream(rng, 1_000), 50)
    assert not [a for o in back for a in o.alarms if a.test == "ks"]
    again = feed(monitor, stream(rng, 1_000, shift=2.0), 50)
    assert {a.feature for o in again for a in o.alarms if a.test == "ks"} == {"quantity", "line_total"}


def test_categorical_shift_names_the_feature() -> None:
    rng = np.random.default_rng(5)
    monitor = DriftMonitor(CONFIG)
    feed(monitor, stream(rng, 3_000), 100)
    outcomes = feed(monitor, stream(rng, 500, uk=0.5), 25)
    alarms = {(a.feature, a.test) for o in outcomes for a in o.alarms}
    assert ("country", "categorical") in alarms
    assert not any(f in ("cancellation", "customer_missing") for f, _ in alarms)


def test_a_stationary_stream_stays_quiet() -> None:
    rng = np.random.default_rng(6)
    monitor = DriftMonitor(MonitorConfig(reference_size=5_000))
    outcomes = feed(monitor, stream(rng, 200_000), 1_000)
    assert [a for o in outcomes for a in o.alarms] == []
    assert len([o for o in outcomes if o.kind == "evaluation"]) == (200_000 - 5_000 - 200) // 50 + 1


def test_new_reference_resets_the_window() -> None:
    monitor = DriftMonitor(CONFIG)
    feed(monitor, stream(np.random.default_rng(7), 1_500), 100)
    assert monitor.window_fill == 1.0
    monitor.set_reference(monitor.reference)
    assert monitor.window_fill == 0.0


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"window_size": 100, "panes": 3}, "multiple of panes"),
    ({"reference_size": 10}, "reference_size"),
    ({"window_size": 10, "panes": 1}, "window_size"),
    ({"false_alarms_per_million": 0}, "false_alarms_per_million"),
])
def test_config_errors_name_the_parameter(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MonitorConfig(**kwargs)


def test_alpha_splits_the_budget_over_tests_and_evaluations() -> None:
    # 0.1 false alarms per 1M events, 0.9 of it for the whole-stream tests: 15 window tests at
    # every 50-event pane (20,000 each), 3 long-window tests every 200 events (5,000 each), the
    # customer-country test at most every 100 events (10,000) and the 3 joint tests every 1,000
    # events (1,000 each): 0.09 / 328,000 per test.
    assert MonitorConfig().alpha == pytest.approx(0.09 / 328_000, rel=1e-12)
    assert MonitorConfig(long_window=0).alpha == pytest.approx(0.09 / 313_000, rel=1e-12)
    assert MonitorConfig(customer_window=0).alpha == pytest.approx(0.09 / 318_000, rel=1e-12)
    assert MonitorConfig(joint_window=0).alpha == pytest.approx(0.09 / 325_000, rel=1e-12)
    assert MonitorConfig(joint_step=500).alpha == pytest.approx(0.09 / 331_000, rel=1e-12)
    assert MonitorConfig(segment_count=0).alpha == pytest.approx(0.1 / 328_000, rel=1e-12)
    # W = 400, P = 4: panes of 100 (10,000 × 15), the long window every 400 (2,500 × 3)
    assert MonitorConfig(window_size=400, panes=4).alpha == pytest.approx(0.09 / 170_500, rel=1e-12)
    # the segment tests' 0.01: countries of shares 2 % and 3 %, each evaluated every 5 of its rows
    # (10,000 evaluations per 1M events), 4 tests each (3 KS, product price): 0.01 / 40,000
    assert MonitorConfig().segment_alpha([0.02, 0.03]) == pytest.approx(0.01 / 40_000, rel=1e-12)


def test_long_window_tests_compare_a_partition_with_its_own_first_events() -> None:
    """Against a profile whose UK share is 90 %, a partition that is 80 % UK from its start
    is no drift for the long-window test (its own first N events are its reference), while
    the same partition moving from 80 % to 65 % later is."""
    from detector.drift.reference import Reference

    config = MonitorConfig(reference_size=5_000, window_size=200, panes=4, long_window=2_000)
    profile = Reference.from_columns(stream(np.random.default_rng(1), 20_000, uk=0.9), source="v1")
    monitor = DriftMonitor(config, profile)
    assert not [c for c in monitor.checks if c.test == "categorical_long"]  # until N of its own
    own = stream(np.random.default_rng(2), 5_000, uk=0.8)
    feed(monitor, own, 333)
    longs = [c for c in monitor.checks if c.test == "categorical_long"]
    assert [c.feature for c in longs] == ["country", "cancellation", "customer_missing"]
    country = longs[0].inner
    assert country.ref_counts[country.index["UK"]] == int(np.sum(own["country"] == "UK"))
    same = feed(monitor, stream(np.random.default_rng(3), 20_000, uk=0.8), 333)
    assert not [a for o in same for a in o.alarms if a.test == "categorical_long"]
    moved = feed(monitor, stream(np.random.default_rng(4), 4_000, uk=0.65), 333)
    first = [a for o in moved for a in o.alarms if a.test == "categorical_long"]
    assert first and first[0].feature == "country"
    monitor.set_reference(profile)  # a new model: the partition's own reference is kept
    assert [c.inner.ref_counts.tolist() for c in monitor.checks if c.test == "categorical_long"][0] == \
        country.ref_counts.tolist()
