"""A categorical test over a long window, for small lasting changes a short window cannot see."""

from __future__ import annotations

from collections import deque

import numpy as np

from detector.drift.checks import Verdict
from detector.drift.checks.categorical import CategoricalCheck


class LongWindowCheck:
    """Runs ``inner`` (a categorical test built for ``inner.window_size`` values) over the last
    that many values, every ``step`` values; alarms when its verdict turns drifted.

    A window of W = 200 needs a large jump to reach significance; one country's share going
    from 1.75 % to 5 % is 3.5 rows more per 200, but 65 more per 2,000. The window is kept as
    cell counts per step (summed at each evaluation), not as values.

    >>> from collections import Counter
    >>> from detector.drift.checks.categorical import CategoricalCheck
    >>> ref = Counter({"UK": 9000, "DE": 200, "FR": 800})
    >>> check = LongWindowCheck(CategoricalCheck("country", ref, 2000, 1e-6, 0.0), step=200)
    >>> rng = np.random.default_rng(3)
    >>> check.update(rng.choice(["UK", "DE", "FR"], 4000, p=[0.9, 0.02, 0.08]))
    []
    >>> hits = check.update(rng.choice(["UK", "DE", "FR"], 2000, p=[0.86, 0.06, 0.08]))
    >>> len(hits), hits[0][1].test, 0 < hits[0][0] < 2000
    (1, 'categorical_long', True)
    """

    streaming = True

    def __init__(self, inner: CategoricalCheck, step: int) -> None:
        size = inner.window_size
        if not 0 < step <= size or size % step:
            raise ValueError(f"step must divide the window ({size}), not {step}")
        self.inner = inner
        self.feature = inner.feature
        self.test = f"{inner.test}_long"
        self.threshold = inner.threshold
        self.step = step
        self._steps: deque[np.ndarray] = deque(maxlen=size // step)  # cell counts per step
        self._part: list[np.ndarray] = []  # values of the step under way
        self._since = 0
        self._drifted = False
        self._last = Verdict(self.feature, self.test, 0.0, self.threshold, False)

    def update(self, values: np.ndarray) -> list[tuple[int, Verdict]]:
        hits, i, n = [], 0, len(values)
        while i < n:
            take = min(n - i, self.step - self._since)
            self._part.append(values[i:i + take])
            self._since += take
            i += take
            if self._since < self.step:
                continue
            self._steps.append(self.inner.counts(np.concatenate(self._part)))
            self._part, self._since = [], 0
            if len(self._steps) < self._steps.maxlen:
                continue
            inner = self.inner.evaluate_counts(np.sum(self._steps, axis=0))
            self._last = Verdict(self.feature, self.test, inner.statistic, inner.threshold, inner.drifted)
            if inner.drifted and not self._drifted:
                hits.append((i - 1, self._last))
            self._drifted = inner.drifted
        return hits

    def evaluate(self, window: np.ndarray | None = None) -> Verdict:
        """The latest long-window verdict (drifted while it stays so)."""
        return self._last
