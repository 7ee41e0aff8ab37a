"""ADWIN (river) on a bounded signal: mean reference rank of small groups of values."""

from __future__ import annotations

from collections import Counter

import numpy as np

from detector.drift.checks import Verdict


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
    """One ADWIN per feature, fed the mean rank of each ``group`` consecutive values.

    A mean of ranks stays in [0, 1] and is i.i.d. under no drift, so ADWIN's guarantee holds
    with ``group`` times fewer updates. But ADWIN's bound has a range term that averaging does
    not shrink: it still needs ~20 updates after a change, i.e. ~20 × group values. So the
    default is 1 (every value), and a larger group trades detection delay for CPU.
    Every detection is an alarm, after which ADWIN has dropped the old part of its window;
    the verdict at a pane says whether it fired since the last one.

    >>> rng = np.random.default_rng(7)
    >>> check = AdwinCheck("x", rng.normal(size=5000), delta=1e-5, group=1)
    >>> check.update(rng.normal(size=3000))
    []
    >>> position, verdict = check.update(rng.normal(2.0, 1.0, size=1000))[0]
    >>> 0 < position < 100, verdict.drifted
    (True, True)
    """

    test = "adwin"
    streaming = True

    def __init__(self, feature: str, reference: np.ndarray, delta: float, clock: int = 8,
                 group: int = 1) -> None:
        if not 0 < delta < 1:
            raise ValueError(f"adwin delta must be in (0, 1), not {delta}")
        if clock < 1:
            raise ValueError(f"adwin clock must be >= 1 update, not {clock}")
        if group < 1:
            raise ValueError(f"adwin group must be >= 1 value, not {group}")
        self.feature = feature
        self.group = group
        self.reference = np.sort(reference)
        # Imported here: river.drift loads river.datasets, and with it scikit-learn and pandas
        # (2 s), which the Faust process (it reads these settings) never needs.
        from river.drift import ADWIN

        self.adwin = ADWIN(delta=delta, clock=clock)
        self.threshold = delta  # shown beside the statistic; ADWIN's own bound decides
        self.last_mean = 0.5
        self._carry = np.empty(0)
        self._fired = False

    def update(self, values: np.ndarray) -> list[tuple[int, Verdict]]:
        """Feed a batch; the detections at their batch positions (last value of a group)."""
        ranks = np.concatenate([self._carry, reference_ranks(self.reference, values)])
        full = ranks.size - ranks.size % self.group
        self._carry = ranks[full:]
        offset = values.size - ranks.size  # batch position of ranks[0] (negative if carried)
        hits = []
        adwin = self.adwin
        grouped = ranks[:full] if self.group == 1 else ranks[:full].reshape(-1, self.group).mean(axis=1)
        means = grouped.tolist()
        # river's ADWIN.update, inlined (the pinned river's own steps: reset after a detection,
        # then its Rust helper's update): a Python call and a property read fewer per value,
        # six values per event (bench/RESULTS.md, the reading ladder).
        detected, helper = adwin._drift_detected, adwin._helper  # noqa: SLF001
        for i, mean in enumerate(means):
            if detected:
                adwin._reset()  # noqa: SLF001
                helper = adwin._helper  # noqa: SLF001
            detected = helper.update(mean)
            if detected:
                hits.append(offset + (i + 1) * self.group - 1)
        adwin._drift_detected = detected  # noqa: SLF001
        if means:
            self.last_mean = float(adwin.estimation)
        if not hits:
            return []
        self._fired = True
        verdict = self._verdict(True)
        return [(pos, verdict) for pos in hits]

    def evaluate(self, window: np.ndarray | None = None) -> Verdict:
        """|mean rank − 0.5| now, and whether ADWIN fired since the last verdict."""
        fired, self._fired = self._fired, False
        return self._verdict(fired)

    def _verdict(self, drifted: bool) -> Verdict:
        return Verdict(self.feature, self.test, abs(self.last_mean - 0.5), self.threshold, drifted)


class ShareAdwinCheck(AdwinCheck):
    """ADWIN on a categorical feature: the share of its reference's most common category.

    Window tests need a large jump within one window; a small lasting change of a share (a
    few more cancellations, customers missing, a new country taking rows) only shows when
    evidence accumulates, which is what ADWIN does. The values fed are 0/1 (that category or
    not), so the rank signal and its guarantee are AdwinCheck's.

    >>> rng = np.random.default_rng(7)
    >>> check = ShareAdwinCheck("cancellation", Counter({False: 9800, True: 200}), delta=1e-5)
    >>> check.update(rng.random(20_000) < 0.02)
    []
    >>> hits = check.update(rng.random(5_000) < 0.06)
    >>> hits[0][1].drifted, 0 < hits[0][0] < 2_000
    (True, True)
    """

    def __init__(
        self, feature: str, reference: Counter, delta: float, clock: int = 8, group: int = 1
    ) -> None:
        if not reference:
            raise ValueError(f"reference for {feature} is empty")
        self.category = max(reference, key=lambda c: (reference[c], str(c)))
        total = sum(reference.values())
        indicator = np.repeat([0.0, 1.0], [total - reference[self.category], reference[self.category]])
        super().__init__(feature, indicator, delta, clock, group)

    def update(self, values: np.ndarray) -> list[tuple[int, Verdict]]:
        return super().update(np.asarray(values == self.category, dtype=np.float64))
