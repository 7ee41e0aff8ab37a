"""What the pipeline shows on /metrics after each batch.

Drift scores are per partition (each has its own window); the metrics show, per feature
and test, the partition closest to (or furthest past) its threshold, so a drifted
partition is never hidden by quiet ones.
"""

from __future__ import annotations

from detector.drift.checks import Verdict
from detector.drift.monitor import MonitorConfig, Outcome
from detector.metrics import Metrics
from detector.pipeline.state import PipelineState
from schemas.features import FEATURES


class MetricsExporter:
    def __init__(self, metrics: Metrics, config: MonitorConfig) -> None:
        self.metrics = metrics
        self.latest: dict[int, Outcome] = {}  # each partition's latest evaluation
        self._evaluated = False
        metrics.window_events.labels("reference").set(config.reference_size)
        metrics.window_events.labels("current").set(config.window_size)
        metrics.window_events.labels("pane").set(config.pane_size)
        metrics.up.set(1)

    def evaluation(self, partition: int, outcome: Outcome) -> None:
        self.latest[partition] = outcome
        self._evaluated = True
        self.metrics.evaluations.inc()

    def batch(self, state: PipelineState) -> None:
        """After a batch that processed events: evaluations, watermark, fills, model state."""
        if self._evaluated:
            self._export_evaluations()
            self._evaluated = False
        m = self.metrics
        m.watermark.set(state.watermark)
        monitors = state.monitors.values()
        m.fill(min(x.warmup_fill for x in monitors), min(x.window_fill for x in monitors))
        m.model_pending.set(state.model_tracker.pending)
        m.model_customers.set(state.model_tracker.customers)

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
