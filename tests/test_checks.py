"""The checks against independent references: scipy, binomial arithmetic, random splits."""

from __future__ import annotations

import math
import pickle
from collections import Counter

import numpy as np
import pandas as pd
import pytest
from scipy.stats import binom, chisquare, gamma, hypergeom, ks_2samp

from detector.drift.checks.adwin import AdwinCheck, reference_ranks
from detector.drift.checks.categorical import CategoricalCheck, ValueMixCheck, fisher_bounds
from detector.drift.checks.ks import KSCheck, ks_critical_value, ks_distance
from detector.drift.checks.long_window import LongWindowCheck
from detector.drift.checks.out_of_range import OutOfRangeCheck
from detector.drift.checks.tail import TailCheck, critical_value


@pytest.mark.parametrize("seed", range(5))
def test_ks_distance_equals_scipy_on_real_columns(data_path, seed: int) -> None:
    frame = pd.read_parquet(data_path, columns=["Quantity", "UnitPrice"])
    rng = np.random.default_rng(seed)
    for column in ("Quantity", "UnitPrice"):
        values = frame[column].to_numpy(np.float64)
        reference = rng.choice(values, 20_000)
        current = rng.choice(values, 200) * (1 + seed / 10)
        ours = ks_distance(np.sort(reference), current)
        assert abs(ours - ks_2samp(reference, current).statistic) < 1e-12  # required: 0.01


def test_ks_distance_equals_scipy_with_ties_and_shifts() -> None:
    rng = np.random.default_rng(11)
    for _ in range(500):
        a = rng.integers(-5, 20, rng.integers(2, 400)).astype(float)
        b = rng.integers(-3, 25, rng.integers(1, 300)).astype(float)
        assert abs(ks_distance(np.sort(a), b) - ks_2samp(a, b).statistic) < 1e-12


def test_ks_critical_value_is_the_asymptotic_kolmogorov_bound() -> None:
    # 2 exp(-2 d^2 nm/(n+m)) = alpha  <=>  d = sqrt(ln(2/alpha) (n+m) / (2nm))
    d = ks_critical_value(20_000, 200, 1e-6)
    assert 2 * math.exp(-2 * d * d * 20_000 * 200 / 20_200) == pytest.approx(1e-6)
    check = KSCheck("q", np.arange(20_000.0), 200, 1e-6, min_effect=0.5)
    assert check.threshold == 0.5  # the minimum effect wins when larger
    with pytest.raises(ValueError, match="alpha"):
        ks_critical_value(10, 10, 0)


def test_out_of_range_threshold_is_the_smallest_significant_share() -> None:
    n, w, alpha = 20_000, 200, 5e-7
    check = OutOfRangeCheck("q", np.arange(float(n)), w, alpha, min_share=0.001)
    p = 2 / (n + 1)
    k = int(round(check.threshold * w))
    assert binom.sf(k - 1, w, p) < alpha <= binom.sf(k - 2, w, p)
    window = np.concatenate([np.full(k, -1.0), np.full(w - k, 5.0)])
    assert check.evaluate(window).drifted
    one_fewer = np.concatenate([window[1:], [5.0]])  # k - 1 values outside
    assert not check.evaluate(one_fewer).drifted


def test_categorical_flags_at_most_one_of_twenty_random_splits(data_path) -> None:
    countries = pd.read_parquet(data_path, columns=["Country"])["Country"].to_numpy()
    rng = np.random.default_rng(2026)
    ours = one_sample = 0
    for _ in range(20):
        order = rng.permutation(countries.size)
        half = countries.size // 2
        first, second = countries[order[:half]], countries[order[half:2 * half]]
        check = CategoricalCheck("country", Counter(first.tolist()), second.size, alpha=0.05,
                                 min_effect=0.0)
        ours += check.evaluate(second.tolist()).drifted
        # The one-sample goodness of fit that treats the first half as exact, for contrast.
        ref = check.ref_counts / check.ref_counts.sum()
        observed = check.counts(second.tolist())
        one_sample += chisquare(observed, ref * observed.sum()).pvalue < 0.05
    assert ours <= 1
    assert one_sample >= 15  # the one-sample test flags identical sources in most splits (19 here)


def test_categorical_bounds_are_fishers_exact_tails() -> None:
    ref = Counter({"UK": 18_280, "other": 1_720})
    check = CategoricalCheck("country", ref, 200, alpha=5e-7, min_effect=0.0)
    a = 5e-7 / (2 * 3)  # three cells (UK, other, pooled-unseen), two sides each
    n, w = 20_000, 200
    for cell, r in ((check.index["UK"], 18_280), (check.index["other"], 1_720)):
        hi, lo = int(check.hi[cell]), int(check.lo[cell])
        assert hypergeom.sf(hi - 1, n + w, r + hi, w) <= a < hypergeom.sf(hi - 2, n + w, r + hi - 1, w)
        assert hypergeom.cdf(lo, n + w, r + lo, w) <= a < hypergeom.cdf(lo + 1, n + w, r + lo + 1, w)
    hi_other = int(check.hi[check.index["other"]])
    window = ["UK"] * (200 - hi_other) + ["other"] * hi_other
    assert check.evaluate(window).drifted and check.evaluate(window).statistic >= 1.0
    window = ["UK"] * (201 - hi_other) + ["other"] * (hi_other - 1)
    assert not check.evaluate(window).drifted and check.evaluate(window).statistic < 1.0
    with pytest.raises(ValueError, match="built for 200"):
        check.evaluate(["UK"] * 10)


def test_the_categorical_score_is_one_at_the_bounds_and_ranks_counts_by_their_p_value() -> None:
    """A 1.7 % share (cancellations) in a window of 2,000: 17 (half the expected 34) is less
    improbable than 61, though further from the expected count relative to its (short) lower
    bound; the score says so, on either side, and crosses 1 exactly at the bounds."""
    check = CategoricalCheck("cancellation", Counter({True: 344, False: 19_656}), 2_000, alpha=3e-7,
                             min_effect=0.0)
    n, w, r, cell = 20_000, 2_000, 344, check.index[True]
    assert hypergeom.cdf(17, n + w, r + 17, w) > hypergeom.sf(60, n + w, r + 61, w)
    counts = {x: np.array([w - x, x, 0], dtype=float) for x in range(w + 1)}  # False, True, pooled
    score = {x: check.evaluate_counts(c).statistic for x, c in counts.items()}
    assert score[61] > score[17]
    for x, c in counts.items():  # the deviance ratio itself crosses 1 at the bounds: no clamping needed
        beyond = x >= check.hi[cell] or x <= check.lo[cell]
        assert (np.max(check._scores(c)) >= 1.0) == beyond == (score[x] >= 1.0)


def test_a_side_no_count_can_reach_scores_its_extreme_count_by_its_p_value() -> None:
    """A price point expected 14.3 times in 200 is not significantly rare even when absent
    (p = 4e-7 > a): 0 scores ln p / ln a, below 1, not the deviance's near-1."""
    check = CategoricalCheck("unit_price", Counter({1.65: 1_430, 2.08: 18_570}), 200, alpha=3e-7,
                             min_effect=0.0)
    cell, a = check.index[1.65], 3e-7 / (2 * 3)
    assert check.lo[cell] == -1
    p_zero = hypergeom.cdf(0, 20_200, 1_430, 200)
    verdict = check.evaluate([2.08] * 200)
    assert not verdict.drifted and verdict.statistic == pytest.approx(np.log(p_zero) / np.log(a), rel=1e-9)


def test_value_mix_counts_exact_values_and_pools_the_rest() -> None:
    reference = np.repeat([1.0, 2.0, 12.0, 7.0, 500.0], [9_000, 6_000, 4_000, 900, 100])
    check = ValueMixCheck("quantity", reference, 200, alpha=5e-7, min_effect=0.0)
    # expected per window: 90, 60, 40 (categories), 9 and 1 (pooled with unseen values)
    assert check.kept.tolist() == [1.0, 2.0, 12.0]
    assert check.counts(np.array([1.0, 1.0, 2.0, 12.0, 7.0, 13.0, 0.5])).tolist() == [2, 1, 1, 3]
    same = CategoricalCheck("quantity", Counter({1.0: 9_000, 2.0: 6_000, 12.0: 4_000, 7.0: 900,
                                                 500.0: 100}), 200, alpha=5e-7, min_effect=0.0)
    assert check.hi.tolist() == same.hi.tolist() and check.lo.tolist() == same.lo.tolist()
    window = np.repeat([1.0, 2.0, 12.0, 7.0], [90, 60, 40, 10])
    assert not check.evaluate(window).drifted
    shifted = np.rint(window * 1.1)  # 12 -> 13, 7 -> 8: 50 of 200 rows leave their points
    assert check.evaluate(shifted).drifted
    assert not KSCheck("quantity", reference, 200, 5e-7 / 12, 0.05).evaluate(shifted).drifted


def test_value_mix_is_quiet_between_random_halves_of_the_year(data_path) -> None:
    frame = pd.read_parquet(data_path, columns=["Quantity", "UnitPrice"])
    rng = np.random.default_rng(2027)
    flagged = 0
    for column in ("Quantity", "UnitPrice"):
        values = frame[column].to_numpy(np.float64)
        for _ in range(10):
            order = rng.permutation(values.size)
            check = ValueMixCheck(column, values[order[:20_000]], 200, alpha=1e-3, min_effect=0.0)
            flagged += sum(check.evaluate(values[order[i:i + 200]]).drifted
                           for i in range(20_000, 120_000, 200))
    assert flagged <= 10  # 10,000 windows at alpha 1e-3: at most 10 expected


def test_unseen_categories_get_a_cell_with_the_good_turing_count() -> None:
    rare = {f"rare-{i}": 30 for i in range(30)}  # 0.15 % each: pooled
    ref = Counter({"UK": 17_100, "DE": 1_500, "FR": 497, **rare, "Bahrain": 1, "Malta": 1, "RSA": 1})
    check = CategoricalCheck("country", ref, 2_000, alpha=5e-7, min_effect=0.0, unseen_cell=True)
    # cells: DE, FR, UK (expected >= 10 per window), pooled seen ones, unseen (3 seen once)
    assert check.ref_counts.tolist() == [1_500, 497, 17_100, 903, 3]
    assert check.counts(["UK", "Malta", "rare-4", "Atlantis", "Atlantis"]).tolist() == [0, 0, 1, 2, 2]
    a = 5e-7 / (2 * 5)
    hi = int(check.hi[-1])  # the smallest unseen count whose Fisher p, against 3 seen once, is <= a
    assert hypergeom.sf(hi - 1, 22_000, 3 + hi, 2_000) <= a < hypergeom.sf(hi - 2, 22_000, 2 + hi, 2_000)
    window = ["UK"] * 1_710 + ["DE"] * 150 + ["FR"] * (50 - hi) + ["rare-1"] * 90 + ["Atlantis"] * hi
    assert check.evaluate(window).drifted
    assert not check.evaluate(window[:-1] + ["FR"]).drifted
    pooled = CategoricalCheck("country", ref, 2_000, alpha=5e-7, min_effect=0.0)
    assert not pooled.evaluate(window).drifted  # lost among the rare countries without a cell


def test_the_long_window_alarms_at_the_step_that_crosses_once_per_episode() -> None:
    inner = CategoricalCheck("x", Counter({"a": 9_000, "b": 1_000}), 1_000, alpha=1e-6, min_effect=0.0)
    check = LongWindowCheck(inner, step=100)
    normal = np.array((["a"] * 9 + ["b"]) * 100, dtype=object)  # b at its reference share
    assert check.update(normal[:999]) == []  # the window is not full yet: nothing evaluated
    assert check.evaluate().statistic == 0.0
    assert check.update(normal[999:]) == [] and not check.evaluate().drifted
    # Only b from now: after k steps the window holds 100 + 90 k of them.
    hi = int(inner.hi[inner.index["b"]])
    k = -(-(hi - 100) // 90)
    flood = np.array(["b"] * 1_000, dtype=object)
    assert [pos for pos, _ in check.update(flood)] == [k * 100 - 1]
    assert check.evaluate().drifted and check.evaluate().test == "categorical_long"
    assert check.update(np.concatenate([normal, normal])) == []  # back to normal: no new alarm
    assert not check.evaluate().drifted
    assert [pos for pos, _ in check.update(flood)] == [k * 100 - 1]  # a new episode, a new alarm


def test_the_tail_critical_value_is_hills_pareto_tail_at_its_upper_limit() -> None:
    # 1,000 values: the top 1 % (10) above u = 100, with log(x/u) of 0.1, 0.2, ..., 1.0.
    top = 100 * np.exp(np.arange(1, 11) / 10)
    reference = np.concatenate([np.linspace(1, 100, 990), top])
    hill = 0.55  # mean of 0.1 ... 1.0
    upper = hill * 10 / gamma.ppf(1e-3, 10)
    t = 1e-9  # (10/1000)(c/100)^(-1/upper) = t
    assert critical_value(reference, t) == pytest.approx(100 * (0.01 / t) ** upper, rel=1e-12)
    # ties at the 10th largest: u is the largest value below them, all of them are the top
    tied_top = np.array([*(100 + 10 * np.arange(1, 10)), 100.0, 100.0, 100.0])
    tied = np.concatenate([np.linspace(1, 90, 990), tied_top])
    tied_upper = np.mean(np.log(tied_top / 90)) * 12 / gamma.ppf(1e-3, 12)
    assert critical_value(tied, t) == pytest.approx(90 * (12 / (1002 * t)) ** tied_upper, rel=1e-12)
    # a top of a few repeated values is a point mass (a sentinel), not a tail: not tested
    sentinel = np.concatenate([np.linspace(1, 9_360, 950), np.full(50, 9_999.0)])
    assert critical_value(sentinel, t) == np.inf
    assert critical_value(-reference, t) == np.inf  # no positive tail on that side
    check = TailCheck("x", reference, window=200, pane=50, alpha=2 * 50 * t)
    assert (check.high, check.low) == (critical_value(reference, t), -np.inf)


@pytest.mark.parametrize("shape", [0.5, 1.0])
def test_the_tail_errs_towards_fewer_alarms_on_exact_pareto_tails(shape: float) -> None:
    """For 200 references of 20,000 Pareto values with tail index 1/shape, the true tail
    probability beyond the critical value is at most the target in all but a few."""
    rng = np.random.default_rng(8)
    t = 3e-9
    true = [critical_value(rng.pareto(1 / shape, 20_000) + 1, t) ** (-1 / shape) for _ in range(200)]
    assert np.mean(np.array(true) > t) <= 0.02
    assert np.median(true) > t / 100  # and not absurdly far out


def test_the_tail_is_quiet_on_the_real_year_and_sees_outliers_in_line_totals(data_path) -> None:
    from producer import data, scenarios
    from schemas.features import NUMERIC, from_frame

    frame = data.load_online_retail(data_path)
    year = from_frame(frame)
    rng = np.random.default_rng(6)
    checks = {}
    for _ in range(5):  # five random references, each checked against every value of the year
        rows = rng.permutation(len(frame))[:20_000]
        for f in NUMERIC:
            check = TailCheck(f, year[f][rows], window=200, pane=50, alpha=3.2e-7)
            assert check.update(year[f]) == [] and not check.outside(year[f]).any()
            checks[f] = check
    scenario = scenarios.Scenario("outliers", onset=0, size=0.1)
    drifted, _ = scenarios.apply(frame.iloc[:20_000], scenario, seed=3)
    outliers = from_frame(drifted)
    big = (outliers["quantity"] == 99_999) & (outliers["unit_price"] > 1_000)
    assert big.sum() > 500 and checks["line_total"].outside(outliers["line_total"][big]).all()


def test_the_tail_alarms_at_the_first_extreme_value_once_per_episode() -> None:
    rng = np.random.default_rng(2)
    reference = rng.normal(size=20_000)
    check = TailCheck("x", reference, window=100, pane=50, alpha=1e-6)
    stream = rng.normal(size=1_000)
    stream[[300, 350, 449, 550, 900]] = 1e9  # 350, 449, 600 within 100 events of the one before
    stream[600] = -1e9
    expected = [300, 550, 900]
    assert check.low < 0 < check.high and check.outside(stream[[600]]).all()
    assert [pos for pos, _ in check.update(stream)] == expected
    split = TailCheck("x", reference, window=100, pane=50, alpha=1e-6)
    found = [start + pos for start in range(0, 1_000, 37)
             for pos, _ in split.update(stream[start:start + 37])]
    assert found == expected  # the same wherever the batches break
    verdict = check.evaluate(stream[500:600])
    assert verdict.drifted and verdict.statistic == 1e9 / check.high


def test_reference_ranks_are_mid_ranks_in_unit_interval() -> None:
    ref = np.array([1.0, 2.0, 2.0, 3.0])
    assert reference_ranks(ref, np.array([0.0, 1.0, 2.0, 3.0, 9.0])).tolist() == \
        [0.0, 0.125, 0.5, 0.875, 1.0]


def test_adwin_is_quiet_on_a_stationary_stream_and_fires_after_a_shift() -> None:
    rng = np.random.default_rng(5)
    reference = rng.lognormal(size=20_000)
    check = AdwinCheck("x", reference, delta=1e-5)
    assert check.update(rng.lognormal(size=200_000)) == []
    hits = check.update(rng.lognormal(mean=0.8, size=2_000))
    assert hits and hits[0][0] < 200 and hits[0][1].drifted
    assert check.evaluate(None).drifted  # fired since the last verdict
    assert not check.evaluate(None).drifted
    with pytest.raises(ValueError, match="delta"):
        AdwinCheck("x", reference, delta=0)


def test_adwin_check_detects_where_rivers_own_adwin_does() -> None:
    """AdwinCheck calls river's Rust helper itself: the same detections, at the same values,
    and the same estimate, as river's ADWIN.update fed the same ranks one by one (several
    shifts, so resets after a detection are covered; fed in uneven chunks)."""
    from river.drift import ADWIN

    rng = np.random.default_rng(11)
    reference = rng.normal(size=5_000)
    stream = np.concatenate([rng.normal(loc, 1.0, 3_000) for loc in (0.0, 1.5, 0.0, -1.0, 2.0)])
    river_adwin, expected = ADWIN(delta=1e-5, clock=8), []
    for i, rank in enumerate(reference_ranks(np.sort(reference), stream).tolist()):
        river_adwin.update(rank)
        if river_adwin.drift_detected:
            expected.append(i)
    check, found, start = AdwinCheck("x", reference, delta=1e-5, clock=8), [], 0
    for size in rng.integers(1, 700, 100):
        chunk = stream[start:start + size]
        found += [start + pos for pos, _ in check.update(chunk)]
        start += chunk.size
    assert len(expected) >= 4
    assert found == expected
    assert check.last_mean == river_adwin.estimation


def test_a_windows_categorical_score_from_the_table_is_the_computed_one() -> None:
    """Windows up to TABLE_MAX_WINDOW score by lookup: the same number as computing it, for
    random windows over every cell, and the table is not part of a saved state."""
    rng = np.random.default_rng(3)
    reference = Counter({f"c{i}": int(n) for i, n in enumerate(rng.integers(1, 5000, 40))})
    check = CategoricalCheck("country", reference, 200, alpha=1e-6, min_effect=0.05, unseen_cell=True)
    for _ in range(2000):
        cells = rng.multinomial(200, rng.dirichlet(np.full(check.ref_counts.size, rng.uniform(0.1, 5))))
        looked_up = check._table()[check._cells, cells]
        assert np.array_equal(looked_up, check._scores(cells.astype(float)))
    assert "_score_table" not in pickle.loads(pickle.dumps(check)).__dict__  # noqa: S301 (our own bytes)


@pytest.mark.parametrize(("n", "w", "a"), [(100, 2_000, 8.3e-7), (1_000, 200, 1e-4), (20_000, 1_000, 2.7e-8),
                                           (5_000, 50, 1e-2)])
def test_fisher_bounds_are_the_first_counts_whose_exact_tail_is_at_most_a(n: int, w: int, a: float) -> None:
    """The bracketed bisection lands where a scan of every count's exact one-sided p-value does."""
    ref = np.array([0, 1, 5, 37, n // 50, n // 7, n // 3], dtype=float)
    hi, lo = fisher_bounds(ref, n, w, a)
    counts = np.arange(w + 1)
    for r, h, low in zip(ref, hi, lo, strict=True):
        up = hypergeom.sf(counts - 1, n + w, r + counts, w) <= a
        down = hypergeom.cdf(counts, n + w, r + counts, w) <= a
        assert h == (counts[up][0] if up.any() else w + 1)
        assert low == (counts[down][-1] if down.any() else -1)
