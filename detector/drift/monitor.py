"""The drift monitor: reference, sliding window of panes, every check per pane.

Pure logic: it sees feature columns, never Kafka, headers or clocks.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from detector.drift.checks import Check, Verdict
from detector.drift.checks.adwin import AdwinCheck, ShareAdwinCheck
from detector.drift.checks.categorical import CategoricalCheck, ValueMixCheck
from detector.drift.checks.customer_country import CustomerCountryCheck
from detector.drift.checks.joint import JointCheck, joint_checks
from detector.drift.checks.ks import KSCheck
from detector.drift.checks.long_window import LongWindowCheck
from detector.drift.checks.out_of_range import OutOfRangeCheck
from detector.drift.checks.segment import SegmentCheck, segments
from detector.drift.checks.tail import TailCheck
from detector.drift.config import MonitorConfig
from detector.drift.reference import Reference
from schemas.features import CATEGORICAL, FEATURES, NUMERIC, Columns


@dataclass
class Outcome:
    """What one pane (kind "evaluation") or one streaming detection (kind "detection") produced."""

    kind: str
    results: list[Verdict]
    alarms: list[Verdict]
    events_processed: int
    position: int  # index, within the batch given to update(), of the event that triggered it
    event_time_start: float
    event_time_end: float
    drift_share: float = 0.0
    drifted_columns: int = 0
    quality: dict[str, float] = field(default_factory=dict)
    window: Columns | None = None  # an evaluation's window, as evaluated


OWN_COLUMNS = (*NUMERIC, *CATEGORICAL, "stock_code")  # what the segment tests' own reference is made of


class DriftMonitor:
    """Feed feature columns with update(); read outcomes.

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

    _segments: tuple = ()  # segment tests on the partition's own first N events (kept across references)
    _relations: tuple = ()  # customer-country and joint tests: learn from the partition's own first N events

    def __init__(self, config: MonitorConfig, reference: Reference | None = None) -> None:
        self.config = config
        self.events_processed = 0
        self._warm: list[Columns] = []
        self._warm_size = 0
        self._pane: list[Columns] = []
        self._pane_size = 0
        self._panes: deque[Columns] = deque(maxlen=config.panes)
        self._drifted: dict[tuple[str, str], bool] = {}
        self.reference: Reference | None = None
        self.checks: list[Check] = []
        # The long-window and segment tests compare a partition with its own first N events: a
        # model's profile is the whole training set, while a partition holds some customers
        # only, so its country mix, and a country's values, differ from the profile's by design
        # (the short-window tests have minimum effects for that; these have none).
        self._own: dict[str, Counter] = {f: Counter() for f in CATEGORICAL}
        self._own_size = 0
        self._own_rows: list[Columns] = []  # while collecting: what the segment tests need of them
        self._relations = self._relation_checks()
        if reference is not None:
            self.set_reference(reference)

    def __setstate__(self, state: dict) -> None:
        """Snapshots from before the segment tests: no own rows kept (they get none until the
        next warm-up reference); from before the customer-country test: it learns from now on."""
        self.__dict__.update({"_own_rows": [], **state})
        self.config = MonitorConfig(**vars(self.config))  # settings added since: their defaults
        if "_relations" not in state:  # and no customer-country test: it learns from now on
            self._relations = self._relation_checks()
            if self.reference is not None:
                self.checks = [*self.checks, *self._relations]
        elif self.config.joint_window and not any(isinstance(c, JointCheck) for c in self._relations):
            joint = tuple(c for c in self._relation_checks() if isinstance(c, JointCheck))  # before them
            self._relations = (*self._relations, *joint)
            if self.reference is not None:
                self.checks = [*self.checks, *joint]

    def _relation_checks(self) -> tuple:
        c = self.config
        checks = [CustomerCountryCheck(c.reference_size, c.customer_window, c.customer_step, c.alpha)
                  ] if c.customer_window else []
        if c.joint_window:
            checks += joint_checks(c.reference_size, c.joint_window, c.joint_step, c.alpha)
        return tuple(checks)

    @property
    def window_fill(self) -> float:
        return sum(_length(p) for p in self._panes) / self.config.window_size

    @property
    def warmup_fill(self) -> float:
        return 1.0 if self.reference is not None else self._warm_size / self.config.reference_size

    def set_reference(self, reference: Reference) -> None:
        """Use a new reference (warm-up or a model's profile): checks rebuilt, window reset."""
        c = self.config
        self.reference = reference
        if reference.source == "warm-up" and (self._own_size < c.reference_size or not self._segments):
            self._own = {f: Counter(reference.categorical[f]) for f in CATEGORICAL}  # its own events
            self._own_size = c.reference_size
            self._segments = tuple(self._segment_checks(reference))
        numeric, categorical = reference.numeric, reference.categorical
        self.checks = [
            *(KSCheck(f, numeric[f], c.window_size, c.alpha, c.ks_min_effect) for f in NUMERIC),
            *(OutOfRangeCheck(f, numeric[f], c.window_size, c.alpha, c.out_of_range_min_share)
              for f in NUMERIC),
            *(ValueMixCheck(f, numeric[f], c.window_size, c.alpha, c.categorical_min_effect)
              for f in NUMERIC),
            *(TailCheck(f, numeric[f], c.window_size, c.pane_size, c.alpha) for f in NUMERIC),
            *(CategoricalCheck(f, categorical[f], c.window_size, c.alpha, c.categorical_min_effect)
              for f in CATEGORICAL),
            *self._long_checks(),
            *(AdwinCheck(f, numeric[f], c.adwin_delta, c.adwin_clock, c.adwin_group) for f in NUMERIC),
            *(ShareAdwinCheck(f, categorical[f], c.adwin_delta, c.adwin_clock, c.adwin_group)
              for f in CATEGORICAL),
            *self._segments,
            *self._relations,
        ]
        self._pane, self._pane_size = [], 0
        self._panes.clear()
        self._drifted.clear()
        self._warm, self._warm_size = [], 0

    def _segment_checks(self, reference: Reference) -> list[Check]:
        """Segment-conditional tests on ``reference``: the partition's own first N events."""
        c = self.config
        countries = segments(reference, c.segment_count)
        if not countries:
            return []
        alpha = c.segment_alpha([share for _, share in countries])
        size, step = c.segment_window, c.segment_step
        checks = [*(SegmentCheck(f, "ks_segment", reference, countries, size, step, alpha) for f in NUMERIC),
                  SegmentCheck("unit_price", "product_price", reference, countries, size, step, alpha)]
        return [check for check in checks if check.countries]

    def _long_checks(self) -> list[Check]:
        c = self.config
        if not c.long_window or self._own_size < c.reference_size:
            return []
        return [LongWindowCheck(CategoricalCheck(f, self._own[f], c.long_window, c.alpha, 0.0,
                                                 unseen_cell=True), step=c.window_size)
                for f in CATEGORICAL]

    def _collect_own(self, chunk: Columns) -> None:
        """Count the partition's own first N events (when the reference is a model's profile);
        once there are N, the long-window tests start, with the next event."""
        for f in CATEGORICAL:
            self._own[f].update(chunk[f].tolist())
        if self.config.segment_count:
            self._own_rows.append({f: chunk[f] for f in OWN_COLUMNS if f in chunk})
        self._own_size += _length(chunk)
        if self._own_size == self.config.reference_size:
            if self._own_rows:
                self._segments = tuple(self._segment_checks(Reference.from_columns(_concat(self._own_rows))))
                self._own_rows = []
            self.checks += [*self._long_checks(), *self._segments]

    def thresholds(self) -> list[tuple[str, str, float]]:
        return [(ch.feature, ch.test, ch.threshold) for ch in self.checks if not ch.streaming]

    def update(self, cols: Columns) -> list[Outcome]:
        out: list[Outcome] = []
        n, i = _length(cols), 0
        while i < n:
            if self.reference is None:
                take = min(n - i, self.config.reference_size - self._warm_size)
                self._warm.append(_take(cols, i, i + take))
                for check in self._relations:  # learns its reference from the warm-up too
                    check.update(self._warm[-1])
                self._warm_size += take
                i += take
                self.events_processed += take
                if self._warm_size == self.config.reference_size:
                    self.set_reference(Reference.from_columns(_concat(self._warm)))
                continue
            take = min(n - i, self.config.pane_size - self._pane_size)
            collecting = ((self.config.long_window or self.config.segment_count)
                          and self._own_size < self.config.reference_size)
            if collecting:
                take = min(take, self.config.reference_size - self._own_size)
            chunk = _take(cols, i, i + take)
            out.extend(self._detections(chunk, i))
            if collecting:
                self._collect_own(chunk)
            self._pane.append(chunk)
            self._pane_size += take
            i += take
            self.events_processed += take
            if self._pane_size == self.config.pane_size:
                self._panes.append(_concat(self._pane))
                self._pane, self._pane_size = [], 0
                if len(self._panes) == self.config.panes:
                    out.append(self._evaluate(position=i - 1))
        return out

    def _detections(self, chunk: Columns, offset: int) -> list[Outcome]:
        """Feed new values to every check; each streaming detection is an outcome (an alarm),
        with the last W events up to it as its window (what the alarm is attributed to)."""
        out = []
        for check in self.checks:
            if not check.streaming:  # window tests only evaluate
                continue
            for pos, hit in check.update(chunk if getattr(check, "columns", False) else chunk[check.feature]):
                t = float(chunk["event_time"][pos])
                out.append(Outcome("detection", [hit], [hit], self.events_processed + pos + 1,
                                   offset + pos, t, t, window=self._recent(chunk, pos)))
        return out

    def _recent(self, chunk: Columns, pos: int) -> Columns:
        joined = _concat([*self._panes, *self._pane, _take(chunk, 0, pos + 1)])
        n = _length(joined)
        return _take(joined, max(0, n - self.config.window_size), n)

    def _evaluate(self, position: int) -> Outcome:
        window = _concat(list(self._panes))
        results = [ch.evaluate(None if getattr(ch, "columns", False) else window[ch.feature])
                   for ch in self.checks]
        alarms = []
        for check, r in zip(self.checks, results, strict=True):
            if check.streaming:  # alarmed as it fired
                continue
            key = (r.feature, r.test)
            if r.drifted and not self._drifted.get(key, False):
                alarms.append(r)
            self._drifted[key] = r.drifted
        drifted_features = {r.feature for r in results if r.drifted}
        times = window["event_time"]
        return Outcome(
            "evaluation", results, alarms, self.events_processed, position,
            float(times.min()), float(times.max()),
            drift_share=len(drifted_features) / len(FEATURES),
            drifted_columns=len(drifted_features), quality=self._quality(window), window=window)

    def _quality(self, window: Columns) -> dict[str, float]:
        quality = {f"out_of_range:{ch.feature}": float(ch.outside(window[ch.feature]).mean())
                   for ch in self.checks if isinstance(ch, OutOfRangeCheck)}
        countries = self.reference.categorical["country"] if self.reference else {}
        counts = Counter(window["country"].tolist())
        unseen = sum(n for country, n in counts.items() if country not in countries)
        quality["unseen:country"] = unseen / len(window["country"])
        quality["null:customer_id"] = float(window["customer_missing"].mean())
        quality["null:description"] = float(window["description_missing"].mean())
        return quality


def _take(cols: Columns, start: int, stop: int) -> Columns:
    return {name: values[start:stop] for name, values in cols.items()}


def _concat(parts: Sequence[Columns]) -> Columns:
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def _length(cols: Columns) -> int:
    return len(cols["quantity"])
