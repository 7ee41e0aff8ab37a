"""Two-sample chi-square test of homogeneity for a categorical feature."""

from __future__ import annotations

from collections import Counter

import numpy as np
from scipy.stats import chi2

from detector.checks import CheckResult

OTHER = "__other__"


class CategoricalCheck:
    """Compares window category counts with reference counts, both as samples.

    Treating reference frequencies as exact (a one-sample goodness of fit) ignores the
    reference's own sampling noise and flags identical sources; the 2×k contingency test
    does not. Categories expected fewer than ``min_expected`` times in a window are pooled
    (with categories unseen in the reference) so the chi-square tail stays trustworthy.
    An alarm also needs a total-variation distance of at least ``min_effect``.
    """

    test = "chi2"

    def __init__(self, feature: str, reference: Counter, window_size: int, alpha: float,
                 min_effect: float, min_expected: float = 5.0) -> None:
        total = sum(reference.values())
        if total == 0:
            raise ValueError(f"reference for {feature} is empty")
        if not 0 <= min_effect < 1:
            raise ValueError(f"min_effect must be in [0, 1), not {min_effect}")
        self.feature = feature
        self.min_effect = min_effect
        self.kept = sorted(c for c, n in reference.items() if n / total * window_size >= min_expected)
        pooled = total - sum(reference[c] for c in self.kept)
        self.pool = pooled > 0 or len(self.kept) < 2
        self.ref_counts = np.array([reference[c] for c in self.kept] + ([pooled] if self.pool else []),
                                   dtype=np.float64)
        self.index = {c: i for i, c in enumerate(self.kept)}
        self.df = max(self.ref_counts.size - 1, 1)
        self.threshold = float(chi2.isf(alpha, self.df))

    def counts(self, values: list) -> np.ndarray:
        out = np.zeros(self.ref_counts.size)
        other = self.ref_counts.size - 1
        for value, n in Counter(values).items():
            out[self.index.get(value, other)] += n
        return out

    def evaluate(self, values: list) -> CheckResult:
        current = self.counts(values)
        table = np.vstack([self.ref_counts, current])
        expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0) / table.sum()
        mask = expected > 0
        stat = float((((table - expected) ** 2)[mask] / expected[mask]).sum())
        p_value = float(chi2.sf(stat, self.df))
        tv = 0.5 * float(np.abs(current / current.sum() - self.ref_counts / self.ref_counts.sum()).sum())
        drifted = stat > self.threshold and tv >= self.min_effect
        return CheckResult(self.feature, self.test, stat, self.threshold, drifted, p_value)
