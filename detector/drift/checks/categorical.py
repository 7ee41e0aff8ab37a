"""Two-sample test for a categorical feature: exact binomial bounds per category."""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.stats import beta, binom

from detector.drift.checks import Verdict


class CategoricalCheck:
    """Flags a categorical feature whose window counts leave their null bounds.

    Each category (those expected fewer than ``min_expected`` times per window are pooled,
    with categories unseen in the reference unless ``unseen_cell``: then those have a cell
    of their own, whose reference count is Good–Turing's, the categories seen once) gets
    bounds [lo, hi] on its window count: exact binomial tails at level a, evaluated at the
    Clopper–Pearson limits (also at level a) of its reference proportion. So the
    reference's own sampling noise is accounted for (a two-sample test; a one-sample fit
    treating reference frequencies as exact flags identical sources), and no chi-square
    approximation is trusted in a far tail where counts are small. a = alpha / (4 × cells)
    bounds the false-alarm probability by alpha.

    The score is the largest count deviation as a fraction of the distance to its bound, so
    it alarms at 1. An alarm also needs a total-variation distance of at least ``min_effect``.

    >>> ref = Counter({"UK": 9100, "DE": 500, "FR": 400})
    >>> check = CategoricalCheck("country", ref, 200, alpha=1e-6, min_effect=0.05)
    >>> check.evaluate(["UK"] * 182 + ["DE"] * 10 + ["FR"] * 8).drifted
    False
    >>> check.evaluate(["UK"] * 120 + ["DE"] * 50 + ["FR"] * 30).drifted
    True
    """

    test = "categorical"
    streaming = False
    threshold = 1.0

    def __init__(self, feature: str, reference: Counter, window_size: int, alpha: float,
                 min_effect: float, min_expected: float = 10.0, unseen_cell: bool = False) -> None:
        total = sum(reference.values())
        if total == 0:
            raise ValueError(f"reference for {feature} is empty")
        if not 0 <= min_effect < 1:
            raise ValueError(f"min_effect must be in [0, 1), not {min_effect}")
        self.feature = feature
        self.window_size = window_size
        self.min_effect = min_effect
        kept = sorted(c for c, n in reference.items() if n / total * window_size >= min_expected)
        self.index = {c: i for i, c in enumerate(kept)}
        counts = [reference[c] for c in kept] + [total - sum(reference[c] for c in kept)]
        self.seen = set(reference) if unseen_cell else None
        if unseen_cell:  # Good–Turing: a category the reference never saw comes with a chance of
            counts.append(sum(n == 1 for n in reference.values()))  # about (seen once) / N
        self.ref_counts = np.array(counts, dtype=np.float64)
        self.ref_share = self.ref_counts / total
        a = alpha / (4 * len(counts))
        r, n, w = self.ref_counts, total, window_size
        p_low = np.where(r > 0, beta.ppf(a, np.maximum(r, 1), n - r + 1), 0.0)
        p_high = np.where(r < n, beta.isf(a, r + 1, np.maximum(n - r, 1)), 1.0)
        # hi: smallest k with P(X >= k) <= a; lo: largest k with P(X <= k) <= a (-1: none).
        self.hi = binom.isf(a, w, p_high) + 1
        low = binom.ppf(a, w, p_low)
        self.lo = np.where(binom.cdf(low, w, p_low) <= a, low, low - 1)
        self.expected = w * self.ref_share

    def counts(self, values) -> np.ndarray:
        out = np.zeros(self.ref_counts.size)
        pooled = len(self.index)
        for value, n in Counter(values).items():
            i = self.index.get(value)
            if i is None:
                i = pooled if self.seen is None or value in self.seen else pooled + 1
            out[i] += n
        return out

    def evaluate(self, values) -> Verdict:
        return self.evaluate_counts(self.counts(values))

    def evaluate_counts(self, current: np.ndarray) -> Verdict:
        """The verdict on a window given as its cell counts (``counts``)."""
        if current.sum() != self.window_size:
            raise ValueError(f"{self.feature}: window has {current.sum():.0f} values, "
                             f"the bounds were built for {self.window_size}")
        score = float(np.max(self._scores(current)))
        tv = 0.5 * float(np.abs(current / self.window_size - self.ref_share).sum())
        drifted = score >= 1.0 and tv >= self.min_effect
        return Verdict(self.feature, self.test, score, self.threshold, drifted)

    def _scores(self, current: np.ndarray) -> np.ndarray:
        """Per bucket, its count's deviation as a fraction of the distance to its bound."""
        above = (current - self.expected) / (self.hi - self.expected)
        below = (self.expected - current) / (self.expected - self.lo)
        return np.maximum(above, below)

    def update(self, values: np.ndarray) -> list[tuple[int, Verdict]]:
        return []


class ValueMixCheck(CategoricalCheck):
    """The categorical test on a numeric feature's exact values: its mix of price points.

    Quantities and prices sit on a few points (1, 2, 12; 1.25, 0.85, 2.08): a price rise of
    1 % or quantities × 1.05 move most rows off them and barely move the distribution
    function, so KS misses what this sees at once. Values expected at least ``min_expected``
    times per window are categories; every other value (unseen ones too) is pooled.

    >>> check = ValueMixCheck("price", np.repeat([1.25, 2.08, 4.95], [5000, 3000, 2000]), 200,
    ...                       alpha=1e-6, min_effect=0.1)
    >>> check.evaluate(np.repeat([1.25, 2.08, 4.95], [100, 60, 40])).drifted
    False
    >>> check.evaluate(np.repeat([1.26, 2.10, 5.00], [100, 60, 40])).drifted
    True
    """

    test = "values"

    def __init__(self, feature: str, reference_sorted: np.ndarray, window_size: int, alpha: float,
                 min_effect: float, min_expected: float = 10.0) -> None:
        values, counts = np.unique(reference_sorted, return_counts=True)
        super().__init__(feature, Counter(dict(zip(values.tolist(), counts.tolist(), strict=True))),
                         window_size, alpha, min_effect, min_expected)
        self.kept = np.array(sorted(self.index), dtype=np.float64)

    def buckets(self, values: np.ndarray) -> np.ndarray:
        """Each value's bucket: its index among the kept values, or the pooled last one."""
        pos = np.minimum(np.searchsorted(self.kept, values), max(self.kept.size - 1, 0))
        matched = (self.kept[pos] == values) if self.kept.size else np.zeros(values.size, bool)
        return np.where(matched, pos, self.kept.size)

    def counts(self, values) -> np.ndarray:
        return np.bincount(self.buckets(np.asarray(values, dtype=np.float64)),
                           minlength=self.ref_counts.size).astype(np.float64)
