"""Per batch of Kafka messages: decode → DLQ or features → monitors → metrics, events, report.

One DriftMonitor per partition: rows are keyed by customer, so each partition carries its
own customer (and country) mix, and only within a partition is the order exchangeable.
The model tracker keeps per-customer state per partition for the same reason. With a
model, its profile is every partition's reference; without one, each partition warms up
its own. Synchronous and broker-free: the Faust agent hands it messages and sends what it
returns.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

from detector.drift.monitor import DriftMonitor, MonitorConfig, Outcome
from detector.metrics import Metrics
from detector.model.loader import LoadedModel
from detector.model.tracker import ModelConfig, ModelOutcome, ModelTracker
from detector.pipeline import events
from detector.pipeline.exporter import MetricsExporter
from detector.pipeline.messages import DeadLetter, Message, PartitionRows, decode_batch
from detector.pipeline.replay_tracker import ReplayTracker
from detector.pipeline.report import build_report, write_report
from detector.pipeline.state import PipelineState
from schemas import drift_event
from schemas.features import columns
from schemas.transaction import DEFAULT_LIMITS, Limits

log = logging.getLogger(__name__)


@dataclass
class BatchOutput:
    dead_letters: list[DeadLetter] = field(default_factory=list)
    drift_events: list[tuple[bytes, bytes]] = field(default_factory=list)


class Pipeline:
    def __init__(self, config: MonitorConfig, metrics: Metrics, reports_dir: Path,
                 model_config: ModelConfig | None = None, model: LoadedModel | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        self.config = config
        self.limits = limits
        self.metrics = metrics
        self.reports_dir = reports_dir
        self.state = PipelineState(ModelTracker(model_config or ModelConfig()))
        self.model: LoadedModel | None = None
        self.exporter = MetricsExporter(metrics, config)
        self.replays = ReplayTracker()
        self._report: drift_event.DriftEvent | None = None  # the batch's last alarm
        if model is not None:
            self.use_model(model)

    @property
    def model_version(self) -> str | None:
        return self.model.version if self.model else None

    def use_model(self, model: LoadedModel) -> None:
        """Swap model and reference without a restart: windows and error statistics reset."""
        self.model = model
        self.state.model_version = model.version
        self.state.model_tracker.swap(model)
        for monitor in self.state.monitors.values():
            monitor.set_reference(model.reference)
        self.exporter.latest.clear()
        self.metrics.using(model.version, model.version)
        self.metrics.performance(self.state.model_tracker.performance())
        log.info("using model %s (H = %d days) and its reference profile", model.version,
                 model.horizon_days)

    def monitor(self, partition: int) -> DriftMonitor:
        monitors = self.state.monitors
        if partition not in monitors:
            monitors[partition] = DriftMonitor(self.config, self.model.reference if self.model else None)
        return monitors[partition]

    def restore(self, state: PipelineState) -> None:
        """Continue from a saved state; with another model loaded now, its reference takes over."""
        if not isinstance(state, PipelineState):
            raise TypeError(f"expected a PipelineState, not {type(state).__name__}")
        saved_version = state.model_version
        self.state = state
        self.metrics.processed.inc(state.processed)
        self.metrics.model_predictions.inc(state.model_tracker.predictions)
        self.metrics.model_scored.inc(state.model_tracker.scored)
        if self.model is not None:
            if saved_version == self.model.version:
                state.model_tracker.model = self.model
            else:
                self.use_model(self.model)

    def process(self, messages: list[Message]) -> BatchOutput:
        started = time.perf_counter()
        out = BatchOutput()
        state = self.state
        decoded = decode_batch(messages, self.limits, state.offsets)
        for msg, letter in decoded.dead_letters:
            self.metrics.invalid_event(letter.reason)
            log.warning("invalid event topic=%s partition=%d offset=%d reason=%s",
                        msg.topic, msg.partition, msg.offset, letter.reason)
            out.dead_letters.append(letter)
        for partition, batch in decoded.partitions.items():
            state.offsets[partition] = batch.last_offset
            if batch.rows:
                self._process_partition(partition, batch, out)
        if any(batch.rows for batch in decoded.partitions.values()):
            self.exporter.batch(state)
        if self._report is not None:  # the report is the latest alarm: one write per batch
            self._write_report(self._report)
            self._report = None
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        return out

    def _process_partition(self, partition: int, batch: PartitionRows, out: BatchOutput) -> None:
        state = self.state
        rows = batch.rows
        triggers = [self.replays.observe(h) for h in batch.headers]
        cols = columns(rows)
        state.watermark = max(state.watermark, float(cols["event_time"].max()))
        for outcome in self.monitor(partition).update(cols):
            out.drift_events.extend(self._data_events(partition, outcome, triggers[outcome.position]))
        for outcome in state.model_tracker.update(partition, [r.CustomerID for r in rows],
                                                  [r.InvoiceNo for r in rows], cols["line_total"].tolist(),
                                                  cols["event_time"].tolist()):
            out.drift_events.append(self._model_event(partition, outcome, triggers[outcome.position]))
        state.processed += len(rows)
        self.metrics.processed.inc(len(rows))

    def _data_events(self, partition: int, outcome: Outcome, trigger: dict | None
                     ) -> list[tuple[bytes, bytes]]:
        cfg = self.config

        def event(kind: str, results: list) -> drift_event.DriftEvent:
            return events.data_event(kind, partition, outcome, results, cfg.window_size, cfg.panes,
                                     self.model_version, trigger)

        out = []
        if outcome.kind == "evaluation":
            self.exporter.evaluation(partition, outcome)
            out.append((b"data", drift_event.encode(event("evaluation", outcome.results))))
        for alarm in outcome.alarms:
            self.metrics.alarm(alarm)
            log.warning("drift alarm feature=%s test=%s statistic=%.4f threshold=%.4f partition=%d "
                        "events_processed=%d", alarm.feature, alarm.test, alarm.statistic,
                        alarm.threshold, partition, outcome.events_processed)
            self._report = event("alarm", [alarm])
            out.append((alarm.feature.encode(), drift_event.encode(self._report)))
        return out

    def _model_event(self, partition: int, outcome: ModelOutcome, trigger: dict | None
                     ) -> tuple[bytes, bytes]:
        tracker = self.state.model_tracker
        result = outcome.result
        self.metrics.model_check(result, outcome.alarm)
        if result.feature == "prediction":
            self.metrics.model_predictions.inc(outcome.size)
        elif result.test == "out_of_range":  # once per scored cutoff
            self.metrics.model_scored.inc(outcome.size)
            self.metrics.performance(tracker.performance())
        event = events.model_event(partition, outcome, self.state.processed + outcome.position + 1,
                                   tracker.horizon, self.model_version, trigger)
        if outcome.alarm:
            log.warning("model alarm check=%s/%s statistic=%.4f threshold=%.4f partition=%d cutoff=%s",
                        result.feature, result.test, result.statistic, result.threshold, partition,
                        events.iso(outcome.cutoff))
            self._report = event
        return b"model", drift_event.encode(event)

    def _write_report(self, alarm: drift_event.DriftEvent) -> None:
        partition = alarm.partition
        write_report(self.reports_dir, build_report(
            alarm, self.exporter.latest.get(partition), self.monitor(partition), self.config,
            self.state.processed, self.model, self.state.model_tracker))
