"""Segment-conditional tests: a change inside one country that every marginal hides."""

from __future__ import annotations

import pickle

import numpy as np

from detector.drift.attribution import Segment, attribute
from detector.drift.checks.segment import SegmentCheck, SegmentVerdict, off_price, product_prices, segments
from detector.drift.monitor import DriftMonitor, MonitorConfig
from detector.drift.reference import Reference

COUNTRIES = np.array(["United Kingdom", "Germany", "France"], dtype=object)
PRODUCTS = 300


def shop(rng: np.random.Generator, n: int, start: float = 0.0) -> dict[str, np.ndarray]:
    """Rows of a shop whose every product has its price (a tenth of the rows at a 20 % lower
    tier); the three countries buy the same products alike."""
    prices = np.round(np.exp(np.random.default_rng(0).normal(0.7, 0.9, PRODUCTS)), 2) + 0.1
    code = rng.integers(0, PRODUCTS, n)
    price = prices[code] * np.where(rng.random(n) < 0.1, 0.8, 1.0)
    quantity = rng.integers(1, 25, n).astype(np.float64)
    return {"quantity": quantity, "unit_price": price, "line_total": quantity * price,
            "country": COUNTRIES[rng.choice(3, n, p=[0.8, 0.1, 0.1])],
            "stock_code": np.array([f"P{c}" for c in code], dtype=object),
            "cancellation": np.zeros(n, bool), "customer_missing": np.zeros(n, bool),
            "description_missing": np.zeros(n, bool), "event_time": start + np.arange(n, dtype=np.float64)}


def swap(rows: dict[str, np.ndarray], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Germany's and France's unit prices exchanged (each drawn from the other's rows): both
    countries' price distributions, and the marginal, stay as they were."""
    out = {k: v.copy() for k, v in rows.items()}
    for mine, theirs in (("Germany", "France"), ("France", "Germany")):
        rows_mine = rows["country"] == mine
        their_prices = rows["unit_price"][rows["country"] == theirs]
        out["unit_price"][rows_mine] = rng.choice(their_prices, rows_mine.sum())
    out["line_total"] = out["quantity"] * out["unit_price"]
    return out


def test_countries_tested_are_the_largest_below_half_with_their_shares() -> None:
    reference = Reference.from_columns(shop(np.random.default_rng(1), 20_000))
    found = segments(reference, 3)
    assert [name for name, _ in found] == sorted(["Germany", "France"], key=lambda c: -dict(found)[c])
    assert all(0.09 < share < 0.11 for _, share in found)


def test_off_price_marks_rows_away_from_their_products_price() -> None:
    reference = Reference.from_columns(shop(np.random.default_rng(1), 20_000))
    medians = product_prices(reference)
    code = "P7"
    price = float(np.exp(medians[code]))
    flags = off_price(np.array([price, price * 1.1, price * 1.3, price / 1.3, 0.0, price]),
                      np.array([code] * 5 + ["unknown"], dtype=object), medians)
    assert flags[:4].tolist() == [0.0, 0.0, 1.0, 1.0] and np.isnan(flags[4:]).all()


def test_prices_swapped_between_two_countries_alarm_inside_a_country_and_name_it() -> None:
    rng = np.random.default_rng(2)
    config = MonitorConfig(reference_size=20_000)
    monitor = DriftMonitor(config)
    monitor.update(shop(rng, 20_000))  # the warm-up: the reference
    alarms = []
    for k in range(10):  # 20,000 clean events: nothing
        alarms += [a for o in monitor.update(shop(rng, 2_000, 20_000 + 2_000 * k)) for a in o.alarms]
    assert alarms == []
    onset, first = 40_000, None
    for k in range(5):
        for outcome in monitor.update(swap(shop(rng, 1_000, onset + 1_000 * k), rng)):
            for alarm in outcome.alarms:
                assert alarm.test in ("product_price", "ks_segment"), alarm  # no marginal test moves
                if first is None:
                    first = (1_000 * k + outcome.position + 1, alarm, outcome)
    assert first is not None
    events, alarm, outcome = first
    assert isinstance(alarm, SegmentVerdict) and alarm.test == "product_price" and events < 2_000
    assert alarm.segment in ("country=Germany", "country=France")
    country = alarm.segment.split("=")[1]
    assert attribute(alarm, monitor.reference, outcome.window) == [
        Segment("country", country, alarm.statistic, int((outcome.window["country"] == country).sum()))]


def test_segment_checks_stay_quiet_on_a_stationary_shop() -> None:
    """200,000 events of the same shop after the warm-up: at a budget of 0.1 false alarms per 1M
    events none is expected, and the statistics stay below their thresholds."""
    rng = np.random.default_rng(3)
    monitor = DriftMonitor(MonitorConfig(reference_size=20_000))
    monitor.update(shop(rng, 20_000))
    checks = [c for c in monitor.checks if isinstance(c, SegmentCheck)]
    assert sorted((c.feature, c.test) for c in checks) == [
        ("line_total", "ks_segment"), ("quantity", "ks_segment"), ("unit_price", "ks_segment"),
        ("unit_price", "product_price")]
    alarms, worst = [], 0.0
    for k in range(100):
        for outcome in monitor.update(shop(rng, 2_000, 20_000 + 2_000 * k)):
            alarms += outcome.alarms
            worst = max([worst] + [r.ratio for r in outcome.results if isinstance(r, SegmentVerdict)])
    assert alarms == [] and 0 < worst < 1


def test_with_a_models_profile_the_segment_tests_compare_with_the_partitions_own_first_events() -> None:
    """A model's profile holds every customer; a partition some of them, so a country's values
    differ from the profile's by design (here its German prices are a fifth higher). The
    segment tests wait for the partition's own first N events and compare with those: quiet
    on the clean stream, and they still catch the swap."""
    profile_rows = shop(np.random.default_rng(4), 20_000)
    profile_rows["unit_price"] *= np.where(profile_rows["country"] == "Germany", 1.2, 1.0)
    monitor = DriftMonitor(MonitorConfig(reference_size=20_000),
                           Reference.from_columns(profile_rows, source="model-1"))
    assert not any(isinstance(c, SegmentCheck) for c in monitor.checks)  # none on the profile
    rng = np.random.default_rng(5)
    alarms = [a for o in monitor.update(shop(rng, 20_000)) for a in o.alarms]  # its own first N
    assert sum(isinstance(c, SegmentCheck) for c in monitor.checks) == 4
    for k in range(10):
        alarms += [a for o in monitor.update(shop(rng, 2_000, 20_000 + 2_000 * k)) for a in o.alarms]
    assert [a for a in alarms if isinstance(a, SegmentVerdict)] == []
    swapped = [a for o in monitor.update(swap(shop(rng, 3_000, 40_000), rng)) for a in o.alarms]
    assert any(isinstance(a, SegmentVerdict) and a.test == "product_price" for a in swapped)


def test_a_monitor_saved_before_the_segment_tests_reads_back_and_goes_on() -> None:
    """A partition state pickled by the version before (no own rows kept while collecting its
    first N events) reads back and completes its own reference without an error."""
    rng = np.random.default_rng(6)
    monitor = DriftMonitor(MonitorConfig(reference_size=20_000),
                           Reference.from_columns(shop(rng, 20_000), source="model-1"))
    monitor.update(shop(rng, 5_000))
    del monitor._own_rows  # what the version before did not have
    restored = pickle.loads(pickle.dumps(monitor))  # noqa: S301 (our own object)
    restored.update(shop(rng, 20_000, 5_000))
    assert restored._own_size == 20_000 and restored._own_rows == []
