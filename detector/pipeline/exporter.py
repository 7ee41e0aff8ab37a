"""What the pipeline shows on /metrics.

Per owned partition: the counts its state holds (they move with it, so the fleet's sum is
exact whichever worker processed what) and its lag. Per worker, over the partitions it
owns: drift scores — per feature and test, the partition closest to (or furthest past)
its threshold, so a drifted partition is never hidden by quiet ones — window fills, the
watermark and the model's figures. Prometheus recording rules combine the workers.
"""

from __future__ import annotations

from collections.abc import Iterable

from detector.drift.checks import Verdict
from detector.drift.monitor import MonitorConfig, Outcome
from detector.metrics import IMPACT_SIGNALS, Metrics
from detector.model.tracker import ModelTracker
from detector.pipeline.state import PartitionState
from schemas.features import FEATURES


class MetricsExporter:
    def __init__(self, metrics: Metrics, config: MonitorConfig) -> None:
        self.metrics = metrics
        self.latest: dict[int, Outcome] = {}  # each owned partition's latest evaluation
        self._evaluated = False
        metrics.window_events.labels("reference").set(config.reference_size)
        metrics.window_events.labels("current").set(config.window_size)
        metrics.window_events.labels("pane").set(config.pane_size)
        metrics.up.set(1)

    def evaluation(self, partition: int, outcome: Outcome) -> None:
        self.latest[partition] = outcome
        self._evaluated = True
        self.metrics.evaluations.inc()

    def partition(self, state: PartitionState) -> None:
        label = str(state.partition)
        m = self.metrics
        m.state_events.labels(label).set(state.events)
        m.state_evaluations.labels(label).set(state.evaluations)
        m.state_predictions.labels(label).set(state.tracker.predictions)
        m.state_scored.labels(label).set(state.tracker.scored)

    def batch(self, states: Iterable[PartitionState], tracker: ModelTracker) -> None:
        """After a batch that processed events, or a change of ownership."""
        states = list(states)
        if self._evaluated:
            self._export_evaluations()
            self._evaluated = False
        if not states:
            return
        m = self.metrics
        m.watermark.set(max(s.watermark for s in states))
        m.fill(min(s.monitor.warmup_fill for s in states), min(s.monitor.window_fill for s in states))
        m.model_pending.set(sum(s.tracker.pending_count for s in states))
        episodes = {feature for s in states for feature in s.episodes.open}
        for feature in FEATURES:
            m.episode_open.labels(feature).set(1.0 if feature in episodes else 0.0)
        for signal in IMPACT_SIGNALS:
            m.impact_material.labels(signal).set(
                1.0 if any(tracker.material(s.tracker, signal) for s in states) else 0.0)
        m.model_customers.set(sum(len(s.tracker.store) for s in states))

    def _export_evaluations(self) -> None:
        worst: dict[tuple[str, str], Verdict] = {}
        drifted: set[str] = set()
        quality: dict[str, float] = {}
        for outcome in self.latest.values():
            for r in outcome.results:
                key = (r.feature, r.test)
                if key not in worst or r.ratio > worst[key].ratio:
                    worst[key] = r
                if r.drifted:
                    drifted.add(r.feature)
            for kind, share in outcome.quality.items():
                quality[kind] = max(quality.get(kind, 0.0), share)
        self.metrics.evaluation(list(worst.values()), len(drifted) / len(FEATURES), len(drifted), quality)
