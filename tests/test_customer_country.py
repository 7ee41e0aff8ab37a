"""The customer–country test: customers suddenly buying from another country."""

from __future__ import annotations

import numpy as np
from saved_states import saved_before
from scipy.stats import fisher_exact

from detector.drift.attribution import attribute
from detector.drift.checks.customer_country import CustomerCountryCheck
from detector.drift.checks.segment import SegmentVerdict
from detector.drift.monitor import DriftMonitor, MonitorConfig
from producer import data, scenarios
from schemas.features import from_frame

COUNTRIES = np.array(["United Kingdom", "Germany", "France", "EIRE"], dtype=object)


def customers(rng: np.random.Generator, n: int, homes: np.ndarray, wanderers: float = 0.001
              ) -> dict[str, np.ndarray]:
    """Rows of customers who buy from their home country (a ``wanderers`` share of rows from
    another one), a tenth of the rows without a customer."""
    ids = rng.integers(0, homes.size, n)
    country = homes[ids].copy()
    away = rng.random(n) < wanderers
    country[away] = rng.choice(COUNTRIES, away.sum())
    return {"customer_id": np.where(rng.random(n) < 0.1, np.nan, ids.astype(np.float64)), "country": country}


def test_the_critical_count_is_fishers_and_a_window_alarms_exactly_at_it() -> None:
    """The window's off-country count that alarms is the smallest whose one-sided Fisher's exact
    test against the reference's count is at level alpha (scipy's fisher_exact says so), and the
    verdict turns exactly there: one row fewer is quiet."""
    rng = np.random.default_rng(1)
    homes = COUNTRIES[rng.choice(4, 500, p=[0.85, 0.05, 0.05, 0.05])]
    check = CustomerCountryCheck(reference_size=20_000, window_size=400, step=1, alpha=1e-7)
    check.update(customers(rng, 20_000, homes, wanderers=0.002))
    c, r, m = check.critical, check.ref_off, check.ref_known
    assert 0 < r < m and 0 < c < 400
    assert fisher_exact([[c, 400 - c], [r, m - r]], alternative="greater").pvalue <= 1e-7
    assert fisher_exact([[c - 1, 401 - c], [r, m - r]], alternative="greater").pvalue > 1e-7

    movable = np.array([i for i, home in check.first.items() if home != "Germany"])

    def window(off: int, at_end: bool) -> dict[str, np.ndarray]:
        """400 rows of customers in their first country, ``off`` of them (first or last) in Germany."""
        ids = rng.choice(movable, 400)
        country = np.array([check.first[i] for i in ids.tolist()], dtype=object)
        if off:
            country[slice(400 - off, 400) if at_end else slice(0, off)] = "Germany"
        return {"customer_id": ids, "country": country}

    # c - 1 off rows first, then c last: the window holds fewer than c until its last row
    assert check.update(window(c - 1, at_end=False)) == [] and not check.evaluate().drifted
    hits = check.update(window(c, at_end=True))
    assert len(hits) == 1 and hits[0][0] == 399
    verdict = hits[0][1]
    assert isinstance(verdict, SegmentVerdict) and verdict.segment == "country=Germany"
    assert check.update(window(c, at_end=True)) == [] and check.evaluate().drifted  # the rising edge only


def test_customers_moved_between_countries_alarm_and_a_stationary_shop_stays_quiet() -> None:
    """200,000 rows of a stationary shop (a few customers buying abroad now and then): no alarm.
    Then 5 % of the customers move to France: an alarm within a few hundred rows, naming France.
    The state holds one entry per customer, however long the stream."""
    rng = np.random.default_rng(2)
    homes = COUNTRIES[rng.choice(4, 2_000, p=[0.85, 0.05, 0.05, 0.05])]
    check = CustomerCountryCheck(reference_size=20_000, window_size=1_000, step=100, alpha=3e-7)
    assert [h for _ in range(10) for h in check.update(customers(rng, 20_000, homes))] == []
    assert len(check.first) == homes.size
    moved = homes.copy()
    movers = rng.choice(np.flatnonzero(homes != "France"), 100, replace=False)
    moved[movers] = "France"
    hits = check.update(customers(rng, 5_000, moved))
    assert len(hits) == 1 and hits[0][0] < 1_000
    assert hits[0][1].segment == "country=France" and len(check.first) == homes.size


def test_customer_country_drift_in_the_real_data_is_named_by_the_monitor(data_path) -> None:
    """The shuffled Online Retail rows, a tenth of the customers' countries shuffled among them
    from row 40,000 (the `customer-country` scenario): the monitor is quiet before it and
    raises a customer_country alarm after, attributed to the country it names."""
    frame = data.load_online_retail(data_path)
    rows = frame.iloc[np.random.default_rng(7).permutation(len(frame))[:60_000]].reset_index(drop=True)
    drifted, onset = scenarios.apply(rows, scenarios.Scenario("customer-country", 40_000), 7)
    cols = from_frame(drifted)
    monitor = DriftMonitor(MonitorConfig(reference_size=20_000))
    alarms = []
    for start in range(0, len(drifted), 500):
        for outcome in monitor.update({k: v[start:start + 500] for k, v in cols.items()}):
            alarms += [(start + outcome.position, a, outcome.window) for a in outcome.alarms]
    assert [pos for pos, _, _ in alarms if pos < onset] == []
    caught = [(pos, a, w) for pos, a, w in alarms if a.test == "customer_country"]
    assert caught and caught[0][0] - onset < 2_000
    _, verdict, window = caught[0]
    kind, name = verdict.where
    assert kind == "country" and name in set(cols["country"][onset:].tolist())
    (segment,) = attribute(verdict, monitor.reference, window)
    in_it = int((window["country"] == name).sum())
    assert (segment.kind, segment.name, segment.count) == ("country", name, in_it)


def test_a_monitor_saved_before_the_customer_country_test_reads_back_and_learns_it() -> None:
    """A state pickled by the version before (no such test, a config without its settings)
    reads back with the test at its defaults, learning from the next N events."""
    rng = np.random.default_rng(3)
    homes = COUNTRIES[rng.choice(4, 300, p=[0.85, 0.05, 0.05, 0.05])]
    n = 2_000
    rows = customers(rng, n, homes)
    cols = {**rows, "quantity": rng.integers(1, 10, n).astype(float), "unit_price": np.ones(n),
            "cancellation": np.zeros(n, bool), "customer_missing": np.isnan(rows["customer_id"]),
            "description_missing": np.zeros(n, bool), "event_time": np.arange(n, dtype=float)}
    cols["line_total"] = cols["quantity"]
    monitor = DriftMonitor(MonitorConfig(reference_size=1_000, segment_count=0))
    monitor.update(cols)
    restored = saved_before(monitor, CustomerCountryCheck, ("customer_window", "customer_step"),
                            had_relations=False)
    assert restored.config.customer_window == 1_000
    (check,) = [c for c in restored.checks if isinstance(c, CustomerCountryCheck)]
    restored.update(cols)
    assert check.critical is not None and check.ref_known > 0
