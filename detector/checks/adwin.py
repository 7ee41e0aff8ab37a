"""ADWIN (river) on a bounded signal: each value's mid-rank under the reference CDF."""

from __future__ import annotations

import numpy as np
from river.drift import ADWIN

from detector.checks import CheckResult


def reference_ranks(reference_sorted: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Mid-rank of each value under the reference ECDF, in [0, 1].

    ADWIN's bound assumes inputs in [0, 1]; raw quantities (±80,995) break it. Under no
    drift these ranks are (discretely) uniform, with mean 0.5.
    """
    n = reference_sorted.size
    below = np.searchsorted(reference_sorted, values, side="left")
    upto = np.searchsorted(reference_sorted, values, side="right")
    return (below + upto) / (2.0 * n)


class AdwinCheck:
    """One ADWIN per feature; every detection is an alarm, after which ADWIN has adapted."""

    test = "adwin"

    def __init__(self, feature: str, reference: np.ndarray, delta: float, clock: int = 32) -> None:
        if not 0 < delta < 1:
            raise ValueError(f"adwin delta must be in (0, 1), not {delta}")
        if clock < 1:
            raise ValueError(f"adwin clock must be >= 1 update, not {clock}")
        self.feature = feature
        self.delta = delta
        self.reference = np.sort(reference)
        self.adwin = ADWIN(delta=delta, clock=clock)
        self.last_mean = 0.5

    def update(self, values: np.ndarray) -> list[int]:
        """Feed a batch; return the batch positions where ADWIN detected a change."""
        hits = []
        adwin = self.adwin
        for i, rank in enumerate(reference_ranks(self.reference, values).tolist()):
            adwin.update(rank)
            if adwin.drift_detected:
                hits.append(i)
        self.last_mean = float(adwin.estimation)
        return hits

    def result(self, drifted: bool) -> CheckResult:
        return CheckResult(self.feature, self.test, abs(self.last_mean - 0.5), self.delta, drifted)
