"""Per batch of Kafka messages: decode → DLQ or features → monitors → metrics, events, report.

One DriftMonitor per partition: rows are keyed by customer, so each partition carries its
own customer (and country) mix, and only within a partition is the order exchangeable.
The ModelMonitor keeps per-customer state per partition for the same reason. With a model,
its profile is every partition's reference; without one, each partition warms up its own.
Synchronous and broker-free: the Faust agent hands it messages and sends what it returns.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from detector import features
from detector.checks import CheckResult
from detector.metrics import Metrics
from detector.model import LoadedModel
from detector.model_monitor import ModelConfig, ModelMonitor, ModelOutcome
from detector.monitor import DriftMonitor, MonitorConfig, Outcome
from detector.replay_tracker import ReplayTracker
from detector.report import write_report
from schemas import drift_event
from schemas.topics import (
    DLQ_MAX_VALUE_BYTES,
    HEADER_ERROR_DETAIL,
    HEADER_ERROR_REASON,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_TOPIC,
    HEADER_VALUE_TRUNCATED,
)
from schemas.transaction import DEFAULT_LIMITS, InvalidEvent, Limits, decode_transaction

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    key: bytes | None
    value: bytes | None
    headers: object
    topic: str
    partition: int
    offset: int


@dataclass
class BatchOutput:
    dead_letters: list[tuple[bytes | None, bytes | None, list]] = field(default_factory=list)
    drift_events: list[tuple[bytes, bytes]] = field(default_factory=list)


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None).isoformat()


class Pipeline:
    def __init__(self, config: MonitorConfig, metrics: Metrics, reports_dir: Path,
                 model_config: ModelConfig | None = None, model: LoadedModel | None = None,
                 limits: Limits = DEFAULT_LIMITS) -> None:
        self.config = config
        self.limits = limits
        self.monitors: dict[int, DriftMonitor] = {}
        self.models = ModelMonitor(model_config or ModelConfig())
        self.model: LoadedModel | None = None
        self.metrics = metrics
        self.reports_dir = reports_dir
        self.tracker = ReplayTracker()
        self.watermark = float("-inf")
        self.processed = 0
        self.offsets: dict[int, int] = {}  # last offset processed per partition
        self._latest: dict[int, Outcome] = {}
        self._evaluated = False
        self._report: tuple[int, drift_event.DriftEvent] | None = None  # the batch's last alarm
        metrics.window_events.labels("reference").set(config.reference_size)
        metrics.window_events.labels("current").set(config.window_size)
        metrics.window_events.labels("pane").set(config.pane_size)
        metrics.up.set(1)
        if model is not None:
            self.use_model(model)

    @property
    def model_version(self) -> str | None:
        return self.model.version if self.model else None

    def use_model(self, model: LoadedModel) -> None:
        """Swap model and reference without a restart: windows and error statistics reset."""
        self.model = model
        self.models.swap(model)
        for monitor in self.monitors.values():
            monitor.set_reference(model.reference)
        self._latest.clear()
        self.metrics.using(model.version, model.version)
        self.metrics.performance(self.models.performance())
        log.info("using model %s (H = %d days) and its reference profile", model.version,
                 model.horizon_days)

    def monitor(self, partition: int) -> DriftMonitor:
        if partition not in self.monitors:
            self.monitors[partition] = DriftMonitor(self.config, self.model.reference if self.model
                                                    else None)
        return self.monitors[partition]

    def state(self) -> dict:
        """What a checkpoint keeps (the model itself is reloaded from its directory)."""
        return {"monitors": self.monitors, "models": self.models, "watermark": self.watermark,
                "processed": self.processed, "offsets": self.offsets, "model_version": self.model_version}

    def restore(self, state: dict) -> None:
        """Continue from a checkpoint; with another model loaded now, its reference takes over."""
        self.monitors, self.models = state["monitors"], state["models"]
        self.watermark, self.processed, self.offsets = (state["watermark"], state["processed"],
                                                        state["offsets"])
        self.metrics.processed.inc(self.processed)
        self.metrics.model_predictions.inc(self.models.predictions)
        self.metrics.model_scored.inc(self.models.scored)
        if self.model is not None:
            if state["model_version"] == self.model.version:
                self.models.model = self.model
            else:
                self.use_model(self.model)

    def process(self, messages: list[Message]) -> BatchOutput:
        started = time.perf_counter()
        out = BatchOutput()
        by_partition: dict[int, tuple[list, list]] = {}
        for msg in messages:
            if msg.offset <= self.offsets.get(msg.partition, -1):
                continue  # in the checkpoint already (redelivered after a restart)
            self.offsets[msg.partition] = msg.offset
            try:
                row = decode_transaction(msg.value, self.limits)
            except InvalidEvent as error:
                out.dead_letters.append(self._dead_letter(msg, error))
                continue
            rows, replay = by_partition.setdefault(msg.partition, ([], []))
            rows.append(row)
            replay.append(self.tracker.observe(msg.headers))
        for partition, (rows, replay) in by_partition.items():
            cols = features.columns(rows)
            self.watermark = max(self.watermark, float(cols["event_time"].max()))
            monitor = self.monitor(partition)
            for outcome in monitor.update(cols):
                out.drift_events.extend(self._publish(partition, outcome, replay[outcome.position]))
            for outcome in self.models.update(partition, [r.CustomerID for r in rows],
                                              [r.InvoiceNo for r in rows], (cols["line_total"]).tolist(),
                                              cols["event_time"].tolist()):
                out.drift_events.extend(self._publish_model(partition, outcome, replay[outcome.position]))
            self.processed += len(rows)
            self.metrics.processed.inc(len(rows))
        if by_partition:
            if self._evaluated:
                self._export_evaluations()
                self._evaluated = False
            self.metrics.watermark.set(self.watermark)
            monitors = self.monitors.values()
            self.metrics.fill(min(m.warmup_fill for m in monitors), min(m.window_fill for m in monitors))
            self.metrics.model_pending.set(self.models.pending)
            self.metrics.model_customers.set(self.models.customers)
        if self._report is not None:  # the report is the latest alarm: one write per batch
            self._write_report(*self._report)
            self._report = None
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        return out

    def _dead_letter(self, msg: Message, error: InvalidEvent) -> tuple:
        self.metrics.invalid_event(error.reason)
        log.warning("invalid event topic=%s partition=%d offset=%d reason=%s",
                    msg.topic, msg.partition, msg.offset, error.reason)
        headers = [(HEADER_ERROR_REASON, error.reason.encode()),
                   (HEADER_ERROR_DETAIL, error.detail[:500].encode()),
                   (HEADER_SOURCE_TOPIC, msg.topic.encode()),
                   (HEADER_SOURCE_PARTITION, str(msg.partition).encode()),
                   (HEADER_SOURCE_OFFSET, str(msg.offset).encode())]
        value = msg.value
        if value is not None and len(value) > DLQ_MAX_VALUE_BYTES:
            headers.append((HEADER_VALUE_TRUNCATED, str(len(value)).encode()))
            value = value[:DLQ_MAX_VALUE_BYTES]
        return msg.key, value, headers

    def _event(self, kind: str, partition: int, outcome: Outcome, results: list[CheckResult],
               trigger: dict | None) -> drift_event.DriftEvent:
        cfg = self.config
        return drift_event.DriftEvent(
            kind=kind, detector="data", partition=partition,
            results=results,
            window=drift_event.WindowInfo(cfg.window_size, cfg.panes, outcome.events_processed,
                                          iso(outcome.event_time_start), iso(outcome.event_time_end)),
            drift_share=outcome.drift_share, drifted_columns=outcome.drifted_columns,
            emitted_at=datetime.now(UTC).isoformat(), model_version=self.model_version,
            trigger=ReplayTracker.readable(trigger))

    def _publish(self, partition: int, outcome: Outcome, trigger: dict | None
                 ) -> list[tuple[bytes, bytes]]:
        events = []
        if outcome.kind == "evaluation":
            self._latest[partition] = outcome
            self._evaluated = True
            self.metrics.evaluations.inc()
            events.append((b"data", drift_event.encode(
                self._event("evaluation", partition, outcome, outcome.results, trigger))))
        for alarm in outcome.alarms:
            self.metrics.alarm(alarm)
            event = self._event("alarm", partition, outcome, [alarm], trigger)
            log.warning("drift alarm feature=%s test=%s statistic=%.4f threshold=%.4f partition=%d "
                        "events_processed=%d", alarm.feature, alarm.test, alarm.statistic,
                        alarm.threshold, partition, outcome.events_processed)
            self._report = (partition, event)
            events.append((alarm.feature.encode(), drift_event.encode(event)))
        return events

    def _publish_model(self, partition: int, outcome: ModelOutcome, trigger: dict | None
                       ) -> list[tuple[bytes, bytes]]:
        result = outcome.result
        self.metrics.model_check(result, outcome.alarm)
        if result.feature == "prediction":
            self.metrics.model_predictions.inc(outcome.size)
        elif result.test == "out_of_range":  # once per scored cutoff
            self.metrics.model_scored.inc(outcome.size)
            self.metrics.performance(self.models.performance())
        event = drift_event.DriftEvent(
            kind="alarm" if outcome.alarm else "evaluation", detector="model", partition=partition,
            results=[result],
            window=drift_event.WindowInfo(outcome.size, 1, self.processed + outcome.position + 1,
                                          iso(outcome.cutoff), iso(outcome.cutoff + self.models.horizon)),
            drift_share=float(result.drifted), drifted_columns=int(result.drifted),
            emitted_at=datetime.now(UTC).isoformat(), model_version=self.model_version,
            trigger=ReplayTracker.readable(trigger))
        if outcome.alarm:
            log.warning("model alarm check=%s/%s statistic=%.4f threshold=%.4f partition=%d cutoff=%s",
                        result.feature, result.test, result.statistic, result.threshold, partition,
                        iso(outcome.cutoff))
            self._report = (partition, event)
        return [(b"model", drift_event.encode(event))]

    def _export_evaluations(self) -> None:
        """Metrics show, per feature and test, the partition closest to (or furthest past) alarm."""
        worst: dict[tuple[str, str], CheckResult] = {}
        for outcome in self._latest.values():
            for r in outcome.results:
                key = (r.feature, r.test)
                if key not in worst or _ratio(r) > _ratio(worst[key]):
                    worst[key] = r
        drifted = {f for o in self._latest.values() for r in o.results if r.drifted for f in [r.feature]}
        quality = {}
        for outcome in self._latest.values():
            for kind, share in outcome.quality.items():
                quality[kind] = max(quality.get(kind, 0.0), share)
        n_features = len(features.FEATURES)
        self.metrics.evaluation(list(worst.values()), len(drifted) / n_features, len(drifted), quality)

    def _write_report(self, partition: int, event: drift_event.DriftEvent) -> None:
        latest = self._latest.get(partition)
        monitor = self.monitor(partition)
        write_report(self.reports_dir, {
            "alarm": msgspec.to_builtins(event),
            "latest_evaluation": None if latest is None else {
                "partition": partition,
                "results": msgspec.to_builtins(latest.results),
                "drift_share": latest.drift_share, "drifted_columns": latest.drifted_columns,
                "quality": latest.quality, "events_processed": latest.events_processed},
            "thresholds": [{"feature": f, "test": t, "threshold": v}
                           for f, t, v in (monitor.thresholds() if monitor.reference else [])],
            "alpha_per_test": self.config.alpha,
            "events_processed_all_partitions": self.processed,
            "model": None if self.model is None else {
                "version": self.model.version, "horizon_days": self.model.horizon_days,
                "holdout": self.model.holdout, "performance": self.models.performance(),
                "predictions": self.models.predictions, "scored": self.models.scored},
        })


def _ratio(result: CheckResult) -> float:
    return result.statistic / result.threshold if result.threshold else 0.0
