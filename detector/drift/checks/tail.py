"""Single values too extreme for the reference's tail: a Pareto tail fitted to the reference."""

from __future__ import annotations

import numpy as np
from scipy.stats import gamma

from detector.drift.checks import Verdict

TAIL_SHARE = 0.01  # the reference's top 1 % of each side is its tail
MIN_TAIL = 10  # values; fewer and a side is not tested
CONFIDENCE = 1e-3  # γ at the upper limit of this one-sided interval


def critical_value(side: np.ndarray, tail_probability: float) -> float:
    """The value above which a new value is rarer than ``tail_probability`` under a Pareto tail
    fitted to ``side``'s largest values (inf when there is no positive tail to fit).

    Peaks over a threshold u (the largest value below the top 1 %): P(X > x) = (k/N)(x/u)^(−1/γ)
    for x > u, with k the values above u. γ is Hill's estimator, the mean of log(x/u) over them,
    taken at its upper confidence limit: for a Pareto tail k·γ̂/γ follows Gamma(k), and a larger
    γ is a heavier tail, so the test errs towards fewer alarms. Tails lighter than Pareto's (an
    exponential, a bounded one) make it more conservative still. A top made of fewer than
    MIN_TAIL distinct values is a point mass, not a tail: Hill's γ would then measure only the
    gap between u and that value (a reference whose top 5 % is the sentinel −9999, with u at
    −9,360, put the critical value at −30,000 and flagged the data set's own −80,995).
    """
    n = side.size
    ordered = np.sort(side)[::-1]
    k = max(MIN_TAIL, int(n * TAIL_SHARE))
    if n <= 2 * k or ordered[k - 1] <= 0:
        return float("inf")
    below = ordered[ordered < ordered[k - 1]]  # u strictly below the top values: ties break Hill
    if below.size == 0 or below[0] <= 0:
        return float("inf")
    u = float(below[0])
    top = ordered[: n - below.size]
    if np.unique(top).size < MIN_TAIL:  # a few repeated values (sentinels such as 99999): no tail to fit
        return float("inf")
    k = top.size
    hill = float(np.mean(np.log(top / u)))
    upper = hill * k / float(gamma.ppf(CONFIDENCE, k))
    return u * (k / (n * tail_probability)) ** upper


class TailCheck:
    """Flags a numeric feature when one value lies beyond what the reference's tails allow.

    Out-of-range counting is distribution-free, so it needs several values past the
    reference's range (each lands there with probability 2/(N+1)); a single value 10⁴ times
    the reference's largest says more than that, given a model of the tail. Each side (values,
    and negated values) gets a critical value from ``critical_value`` at tail probability
    α / (2 × pane): a pane's most extreme value is one test per pane, Bonferroni over its
    values and both sides. Sides without a positive tail (prices have no negative one) are
    not tested. An alarm comes at the first value past a critical value; further ones within
    ``window`` events of the last are the same episode.

    >>> rng = np.random.default_rng(3)
    >>> check = TailCheck("x", rng.pareto(2.0, 20_000) + 1, window=200, pane=50, alpha=3e-7)
    >>> check.update(rng.pareto(2.0, 100_000) + 1)
    []
    >>> [(pos, v.drifted) for pos, v in check.update(np.array([1.0, 1e6, 2.0, 1e6]))]
    [(1, True)]
    """

    test = "tail"
    streaming = True

    def __init__(self, feature: str, reference: np.ndarray, window: int, pane: int, alpha: float) -> None:
        self.feature = feature
        probability = alpha / (2 * pane)
        self.high = critical_value(reference, probability)
        self.low = -critical_value(-reference, probability)
        self.threshold = 1.0  # statistic: the most extreme value over its side's critical value
        self.window = window
        self._quiet = window  # events since the last value past a critical value

    def outside(self, values: np.ndarray) -> np.ndarray:
        return (values > self.high) | (values < self.low)

    def update(self, values: np.ndarray) -> list[tuple[int, Verdict]]:
        past = np.flatnonzero(self.outside(values))
        if past.size == 0:
            self._quiet += values.size
            return []
        gaps = np.diff(past, prepend=-self._quiet - 1) - 1  # events since the one before
        self._quiet = values.size - 1 - int(past[-1])
        first = past[gaps >= self.window]
        return [(int(pos), self._verdict(values[pos : pos + 1])) for pos in first]

    def evaluate(self, window: np.ndarray) -> Verdict:
        """The window's most extreme value against its side's critical value."""
        return self._verdict(window)

    def _verdict(self, values: np.ndarray) -> Verdict:
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.maximum(values / self.high, values / self.low)  # inf critical values give 0
        worst = float(np.max(ratios, initial=0.0))
        return Verdict(self.feature, self.test, worst, self.threshold, worst > self.threshold)
