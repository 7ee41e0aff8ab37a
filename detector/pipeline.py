"""Per batch of Kafka messages: decode → DLQ or features → monitor → metrics, events, report.

One DriftMonitor per partition: rows are keyed by customer, so each partition carries its
own customer (and country) mix, and only within a partition is the order exchangeable.
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
from detector.monitor import DriftMonitor, MonitorConfig, Outcome
from detector.replay_tracker import ReplayTracker
from detector.report import write_report
from schemas import drift_event
from schemas.topics import (
    HEADER_ERROR_DETAIL,
    HEADER_ERROR_REASON,
    HEADER_SOURCE_OFFSET,
    HEADER_SOURCE_PARTITION,
    HEADER_SOURCE_TOPIC,
)
from schemas.transaction import InvalidEvent, decode_transaction

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
                 model_version: str | None = None) -> None:
        self.config = config
        self.monitors: dict[int, DriftMonitor] = {}
        self.metrics = metrics
        self.reports_dir = reports_dir
        self.model_version = model_version
        self.tracker = ReplayTracker()
        self.watermark = float("-inf")
        self.processed = 0
        self._latest: dict[int, Outcome] = {}
        self._evaluated = False
        metrics.window_events.labels("reference").set(config.reference_size)
        metrics.window_events.labels("current").set(config.window_size)
        metrics.window_events.labels("pane").set(config.pane_size)
        metrics.reference_info.labels("warm-up").set(1)
        metrics.up.set(1)

    def monitor(self, partition: int) -> DriftMonitor:
        if partition not in self.monitors:
            self.monitors[partition] = DriftMonitor(self.config)
        return self.monitors[partition]

    def process(self, messages: list[Message]) -> BatchOutput:
        started = time.perf_counter()
        out = BatchOutput()
        by_partition: dict[int, tuple[list, list]] = {}
        for msg in messages:
            try:
                row = decode_transaction(msg.value)
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
            self.processed += len(rows)
            self.metrics.processed.inc(len(rows))
        if by_partition:
            if self._evaluated:
                self._export_evaluations()
                self._evaluated = False
            self.metrics.watermark.set(self.watermark)
            monitors = self.monitors.values()
            self.metrics.fill(min(m.warmup_fill for m in monitors), min(m.window_fill for m in monitors))
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
        return msg.key, msg.value, headers

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
            self._write_report(partition, event)
            events.append((alarm.feature.encode(), drift_event.encode(event)))
        return events

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
        monitor = self.monitors[partition]
        write_report(self.reports_dir, {
            "alarm": msgspec.to_builtins(event),
            "latest_evaluation": None if latest is None else {
                "partition": partition,
                "results": msgspec.to_builtins(latest.results),
                "drift_share": latest.drift_share, "drifted_columns": latest.drifted_columns,
                "quality": latest.quality, "events_processed": latest.events_processed},
            "thresholds": [{"feature": f, "test": t, "threshold": v}
                           for f, t, v in monitor.thresholds()],
            "alpha_per_test": self.config.alpha,
            "events_processed_all_partitions": self.processed,
        })


def _ratio(result: CheckResult) -> float:
    return result.statistic / result.threshold if result.threshold else 0.0
