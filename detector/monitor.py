"""The drift monitor: warm-up reference, sliding window of panes, every check per pane.

Pure logic: it sees feature columns, never Kafka, headers or clocks.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

from detector import features
from detector.checks import CheckResult
from detector.checks.adwin import AdwinCheck
from detector.checks.categorical import CategoricalCheck
from detector.checks.ks import KSCheck
from detector.checks.out_of_range import OutOfRangeCheck
from detector.features import CATEGORICAL, FEATURES, NUMERIC, Columns
from detector.reference import Reference


@dataclass(frozen=True)
class MonitorConfig:
    """Window sizes and the false-alarm budget; see the README for the maths."""

    reference_size: int = 20_000
    window_size: int = 200
    panes: int = 4
    false_alarms_per_million: float = 0.1
    ks_min_effect: float = 0.05
    categorical_min_effect: float = 0.10
    out_of_range_min_share: float = 0.01
    adwin_delta: float = 1e-5
    adwin_clock: int = 8
    adwin_group: int = 1

    def __post_init__(self) -> None:
        if self.reference_size < 100:
            raise ValueError(f"reference_size must be >= 100 events, not {self.reference_size}")
        if self.panes < 1 or self.window_size % self.panes:
            raise ValueError(f"window_size ({self.window_size}) must be a positive multiple of "
                             f"panes ({self.panes})")
        if self.window_size < 20:
            raise ValueError(f"window_size must be >= 20 events, not {self.window_size}")
        if not 0 < self.false_alarms_per_million < 1e6:
            raise ValueError("false_alarms_per_million must be in (0, 1e6), "
                             f"not {self.false_alarms_per_million}")

    @property
    def pane_size(self) -> int:
        return self.window_size // self.panes

    @property
    def window_tests(self) -> int:
        return 2 * len(NUMERIC) + len(CATEGORICAL)  # KS + out-of-range per numeric, one per categorical

    @property
    def alpha(self) -> float:
        """Per-test level: the budget split (Bonferroni) over tests and pane evaluations."""
        evaluations_per_million = 1e6 / self.pane_size
        return self.false_alarms_per_million / (evaluations_per_million * self.window_tests)


@dataclass
class Outcome:
    """What one pane (kind "evaluation") or one ADWIN detection (kind "adwin") produced."""

    kind: str
    results: list[CheckResult]
    alarms: list[CheckResult]
    events_processed: int
    position: int  # index, within the batch given to update(), of the event that triggered it
    event_time_start: float
    event_time_end: float
    drift_share: float = 0.0
    drifted_columns: int = 0
    quality: dict[str, float] = field(default_factory=dict)


class DriftMonitor:
    """Feed feature columns with update(); read outcomes.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> m = DriftMonitor(MonitorConfig(reference_size=1000, window_size=100, panes=2))
    >>> cols = lambda q: {"quantity": q, "unit_price": np.ones(q.size), "line_total": q,
    ...     "country": np.array(["UK"] * q.size, dtype=object), "cancellation": np.zeros(q.size, bool),
    ...     "customer_missing": np.zeros(q.size, bool), "description_missing": np.zeros(q.size, bool),
    ...     "event_time": np.arange(q.size, dtype=float)}
    >>> len(m.update(cols(rng.normal(size=1000))))  # warm-up: no outcome yet
    0
    >>> [o.kind for o in m.update(cols(rng.normal(size=100)))]
    ['evaluation']
    """

    def __init__(self, config: MonitorConfig, reference: Reference | None = None) -> None:
        self.config = config
        self.events_processed = 0
        self._warm: list[Columns] = []
        self._warm_size = 0
        self._pane: list[Columns] = []
        self._pane_size = 0
        self._panes: deque[Columns] = deque(maxlen=config.panes)
        self._drifted: dict[tuple[str, str], bool] = {}
        self._adwin_hit: set[str] = set()
        self.reference: Reference | None = None
        self.last: Outcome | None = None
        if reference is not None:
            self.set_reference(reference)

    @property
    def window_fill(self) -> float:
        return sum(features.length(p) for p in self._panes) / self.config.window_size

    @property
    def warmup_fill(self) -> float:
        return 1.0 if self.reference is not None else self._warm_size / self.config.reference_size

    def set_reference(self, reference: Reference) -> None:
        """Use a new reference (warm-up or a model's profile): checks rebuilt, window reset."""
        c = self.config
        self.reference = reference
        self.ks = [KSCheck(f, reference.numeric[f], c.window_size, c.alpha, c.ks_min_effect)
                   for f in NUMERIC]
        self.ranges = [OutOfRangeCheck(f, reference.numeric[f], c.window_size, c.alpha,
                                       c.out_of_range_min_share) for f in NUMERIC]
        self.categorical = [CategoricalCheck(f, reference.categorical[f], c.window_size, c.alpha,
                                             c.categorical_min_effect) for f in CATEGORICAL]
        self.adwins = [AdwinCheck(f, reference.numeric[f], c.adwin_delta, c.adwin_clock,
                                  c.adwin_group) for f in NUMERIC]
        self._pane, self._pane_size = [], 0
        self._panes.clear()
        self._drifted.clear()
        self._warm, self._warm_size = [], 0

    def thresholds(self) -> list[tuple[str, str, float]]:
        checks = [*self.ks, *self.ranges, *self.categorical]
        return [(ch.feature, ch.test, ch.threshold) for ch in checks]

    def update(self, cols: Columns) -> list[Outcome]:
        out: list[Outcome] = []
        n, i = features.length(cols), 0
        while i < n:
            if self.reference is None:
                take = min(n - i, self.config.reference_size - self._warm_size)
                self._warm.append(features.take(cols, i, i + take))
                self._warm_size += take
                i += take
                self.events_processed += take
                if self._warm_size == self.config.reference_size:
                    self.set_reference(Reference.from_columns(features.concat(self._warm)))
                continue
            take = min(n - i, self.config.pane_size - self._pane_size)
            chunk = features.take(cols, i, i + take)
            out.extend(self._feed_adwins(chunk, i))
            self._pane.append(chunk)
            self._pane_size += take
            i += take
            self.events_processed += take
            if self._pane_size == self.config.pane_size:
                self._panes.append(features.concat(self._pane))
                self._pane, self._pane_size = [], 0
                if len(self._panes) == self.config.panes:
                    out.append(self._evaluate(position=i - 1))
        return out

    def _feed_adwins(self, chunk: Columns, offset: int) -> list[Outcome]:
        out = []
        for check in self.adwins:
            for pos in check.update(chunk[check.feature]):
                result = check.result(drifted=True)
                self._adwin_hit.add(check.feature)
                t = float(chunk["event_time"][pos])
                out.append(Outcome("adwin", [result], [result], self.events_processed + pos + 1,
                                   offset + pos, t, t))
        return out

    def _evaluate(self, position: int) -> Outcome:
        window = features.concat(list(self._panes))
        results = [ch.evaluate(window[ch.feature]) for ch in (*self.ks, *self.ranges)]
        results += [ch.evaluate(window[ch.feature]) for ch in self.categorical]
        results += [ch.result(ch.feature in self._adwin_hit) for ch in self.adwins]
        alarms = []
        for r in results:
            if r.test == "adwin":
                continue
            key = (r.feature, r.test)
            if r.drifted and not self._drifted.get(key, False):
                alarms.append(r)
            self._drifted[key] = r.drifted
        drifted_features = {r.feature for r in results if r.drifted}
        self._adwin_hit.clear()
        times = window["event_time"]
        outcome = Outcome(
            "evaluation", results, alarms, self.events_processed, position,
            float(times.min()), float(times.max()),
            drift_share=len(drifted_features) / len(FEATURES),
            drifted_columns=len(drifted_features), quality=self._quality(window))
        self.last = outcome
        return outcome

    def _quality(self, window: Columns) -> dict[str, float]:
        quality = {f"out_of_range:{ch.feature}": float(ch.outside(window[ch.feature]).mean())
                   for ch in self.ranges}
        countries = self.reference.categorical["country"] if self.reference else {}
        counts = Counter(window["country"].tolist())
        unseen = sum(n for country, n in counts.items() if country not in countries)
        quality["unseen:country"] = unseen / len(window["country"])
        quality["null:customer_id"] = float(window["customer_missing"].mean())
        quality["null:description"] = float(window["description_missing"].mean())
        return quality
