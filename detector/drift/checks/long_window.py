"""A window test run over a long window, for small lasting changes a short window cannot see."""

from __future__ import annotations

import numpy as np

from detector.drift.checks import Check, Verdict


class LongWindowCheck:
    """Runs ``inner`` (a window test built for ``inner.window_size`` values) over the last
    that many values, every ``step`` values; alarms when its verdict turns drifted.

    A window of W = 200 needs a large jump to reach significance; one country's share going
    from 1.75 % to 5 % is 3.5 rows more per 200, but 65 more per 2,000. The long window is
    evaluated every ``step`` values from its own buffer, so it costs one test per step.

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

    def __init__(self, inner: Check, step: int) -> None:
        size = inner.window_size
        if not 0 < step <= size:
            raise ValueError(f"step must be in [1, {size}], not {step}")
        self.inner = inner
        self.feature = inner.feature
        self.test = f"{inner.test}_long"
        self.threshold = inner.threshold
        self.size, self.step = size, step
        self._parts: list[np.ndarray] = []
        self._since = 0  # values since the last evaluation
        self._drifted = False
        self._last = Verdict(self.feature, self.test, 0.0, self.threshold, False)

    def update(self, values: np.ndarray) -> list[tuple[int, Verdict]]:
        hits, i, n = [], 0, len(values)
        while i < n:
            take = min(n - i, self.step - self._since)
            self._parts.append(values[i:i + take])
            self._since += take
            i += take
            if self._since < self.step:
                continue
            self._since = 0
            joined = np.concatenate(self._parts)[-self.size:]
            self._parts = [joined]
            if joined.size < self.size:
                continue
            inner = self.inner.evaluate(joined)
            self._last = Verdict(self.feature, self.test, inner.statistic, inner.threshold, inner.drifted)
            if inner.drifted and not self._drifted:
                hits.append((i - 1, self._last))
            self._drifted = inner.drifted
        return hits

    def evaluate(self, window: np.ndarray | None = None) -> Verdict:
        """The latest long-window verdict (drifted while it stays so)."""
        return self._last
