"""Kolmogorov–Smirnov distance with a jointly calibrated critical value."""

from __future__ import annotations

import math

import numpy as np

from detector.drift.checks import Verdict


def ks_distance(reference_sorted: np.ndarray, current: np.ndarray) -> float:
    """Exact two-sample KS D (ties included), the statistic of ``scipy.stats.ks_2samp``.

    F_cur is a step function that only moves at the window's values, so the sup of
    |F_ref - F_cur| is reached at a window value or just left of one: looking up the W
    window values in the reference is enough (not the N + W union).

    >>> ks_distance(np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.0, 4.0, 5.0, 6.0]))
    0.5
    """
    _, at, before = _gaps(reference_sorted, current)
    return float(max(np.max(np.abs(at)), np.max(np.abs(before))))


def _gaps(reference_sorted: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The window's distinct values, and F_cur − F_ref at each (≤) and just left of each (<)."""
    values, counts = np.unique(current, return_counts=True)
    cdf_cur = np.cumsum(counts) / current.size
    cdf_cur_before = np.concatenate([[0.0], cdf_cur[:-1]])
    n = reference_sorted.size
    cdf_ref_at = np.searchsorted(reference_sorted, values, side="right") / n
    cdf_ref_before = np.searchsorted(reference_sorted, values, side="left") / n
    return values, cdf_cur - cdf_ref_at, cdf_cur_before - cdf_ref_before


def ks_gap(reference_sorted: np.ndarray, current: np.ndarray) -> tuple[float, float, bool]:
    """Where the KS distance is reached: (F_cur − F_ref there, the value x, whether x itself
    counts, i.e. F(≤ x), or only what is below it, F(< x)).

    >>> ks_gap(np.array([1.0, 2.0, 3.0, 4.0]), np.array([3.0, 4.0, 5.0, 6.0]))
    (-0.5, 3.0, True)
    """
    values, at, before = _gaps(reference_sorted, current)
    i, j = int(np.argmax(np.abs(at))), int(np.argmax(np.abs(before)))
    if abs(at[i]) >= abs(before[j]):
        return float(at[i]), float(values[i]), True
    return float(before[j]), float(values[j]), False


def ks_critical_value(n: int, m: int, alpha: float) -> float:
    """D above which two samples of sizes n and m differ at level ``alpha``.

    The asymptotic Kolmogorov tail P(D > d) ≈ 2 exp(-2 d² nm/(n+m)); for data with ties
    (quantities, prices) the true tail is lighter, so the level holds conservatively.
    """
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), not {alpha}")
    return math.sqrt(-math.log(alpha / 2) * (n + m) / (2 * n * m))


class KSCheck:
    """Flags a numeric feature when D exceeds both the critical value and ``min_effect``."""

    test = "ks"
    streaming = False

    def __init__(self, feature: str, reference: np.ndarray, window_size: int, alpha: float,
                 min_effect: float) -> None:
        if reference.size < 2:
            raise ValueError(f"reference for {feature} needs at least 2 values, has {reference.size}")
        if not 0 <= min_effect < 1:
            raise ValueError(f"min_effect must be in [0, 1), not {min_effect}")
        self.feature = feature
        self.reference = np.sort(reference)
        self.threshold = max(ks_critical_value(reference.size, window_size, alpha), min_effect)

    def evaluate(self, current: np.ndarray) -> Verdict:
        d = ks_distance(self.reference, current)
        return Verdict(self.feature, self.test, d, self.threshold, d > self.threshold)

    def update(self, values: np.ndarray) -> list[tuple[int, Verdict]]:
        return []
