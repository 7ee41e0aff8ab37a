"""Share of window values outside the reference range, against its exact null rate."""

from __future__ import annotations

import numpy as np
from scipy.stats import binom

from detector.drift.checks import Verdict


class OutOfRangeCheck:
    """Flags a numeric feature when too many values fall outside [min, max] of the reference.

    For N exchangeable reference values a new value lands outside their range with
    probability at most 2/(N+1) (exactly so for continuous data, less with ties). The
    threshold is the smallest share whose binomial tail is below ``alpha``, and at least
    ``min_share``.
    """

    test = "out_of_range"
    streaming = False

    def __init__(self, feature: str, reference: np.ndarray, window_size: int, alpha: float,
                 min_share: float) -> None:
        if not 0 < min_share <= 1:
            raise ValueError(f"min_share must be in (0, 1], not {min_share}")
        self.feature = feature
        self.low = float(np.min(reference))
        self.high = float(np.max(reference))
        p_null = 2.0 / (reference.size + 1)
        k = np.arange(window_size + 1)
        significant = k[binom.sf(k - 1, window_size, p_null) < alpha]
        k_min = int(significant[0]) if significant.size else window_size + 1
        self.threshold = max(k_min / window_size, min_share)

    def outside(self, values: np.ndarray) -> np.ndarray:
        return (values < self.low) | (values > self.high)

    def evaluate(self, current: np.ndarray) -> Verdict:
        share = float(self.outside(current).mean())
        return Verdict(self.feature, self.test, share, self.threshold, share >= self.threshold)

    def update(self, values: np.ndarray) -> list[tuple[int, Verdict]]:
        return []
