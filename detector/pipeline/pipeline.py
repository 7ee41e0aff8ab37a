"""Per batch of Kafka messages: decode → DLQ or features → monitors → metrics, events, report.

Each input partition has its own state (detector/pipeline/state.py): rows are keyed by
customer, so each partition carries its own customer (and country) mix, and only within
a partition is the order exchangeable. A partition's state is created, or restored with
``load_state`` (from the state topic), before any of its messages is processed; it is
released when the partition is revoked. With a model, its profile is every partition's
reference; without one, each partition warms up its own. Synchronous and broker-free: the
runtime hands it messages and sends what it returns.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from detector.drift.attribution import attribute
from detector.drift.checks import Verdict
from detector.drift.checks.segment import SegmentVerdict
from detector.drift.episodes import Episode, Episodes
from detector.drift.monitor import DriftMonitor, MonitorConfig, Outcome
from detector.metrics import Metrics
from detector.model.config import IMPACT_SIGNALS
from detector.model.loader import LoadedModel
from detector.model.tracker import ModelConfig, ModelOutcome, ModelTracker
from detector.pipeline import distributions, episode_log, events
from detector.pipeline.exporter import MetricsExporter
from detector.pipeline.messages import DeadLetter, Message, PartitionRows, dead_letter, decode_batch
from detector.pipeline.recovery import Applied, Journal, isolate
from detector.pipeline.replay_tracker import ReplayTracker
from detector.pipeline.report import build_report, write_report
from detector.pipeline.state import PartitionState
from schemas import drift_event
from schemas.features import columns
from schemas.transaction import DEFAULT_LIMITS, Limits

log = logging.getLogger(__name__)
StateLoader = Callable[[str, int], "PartitionState | None"]


@dataclass
class BatchOutput:
    dead_letters: list[DeadLetter] = field(default_factory=list)
    drift_events: list[tuple[bytes, bytes]] = field(default_factory=list)


class Pipeline:
    def __init__(self, config: MonitorConfig, metrics: Metrics, reports_dir: Path,
                 model_config: ModelConfig | None = None, model: LoadedModel | None = None,
                 limits: Limits = DEFAULT_LIMITS, load_state: StateLoader | None = None) -> None:
        self.config = config
        self.limits = limits
        self.metrics = metrics
        self.reports_dir = reports_dir
        self.load_state = load_state or (lambda topic, partition: None)
        self.tracker = ModelTracker(model_config or ModelConfig())
        self.partitions: dict[int, PartitionState] = {}  # owned
        self._saved: dict[int, int] = {}  # offset each owned state had when last saved or restored
        self._journal = Journal()  # to roll a partition back when processing fails
        self.exporter = MetricsExporter(metrics, config)
        self.replays = ReplayTracker()
        self._report: drift_event.DriftEvent | None = None  # the batch's last alarm
        self._segments: dict[str, list[tuple[str, float]]] = {}  # the batch's last alarm per feature's
        if model is not None:
            self.use_model(model)

    @property
    def model(self) -> LoadedModel | None:
        return self.tracker.model

    @property
    def model_version(self) -> str | None:
        return self.tracker.version

    def use_model(self, model: LoadedModel) -> None:
        """Swap model and reference without a restart: windows and error statistics reset."""
        self.tracker.model = model
        for partition, state in self.partitions.items():
            self._follow_model(state)
            self._journal.reset(partition, state.snapshot())  # the swap is not in the journal
        self.exporter.latest.clear()
        self.metrics.using(model.version, model.version)
        for population, mae in self.tracker.holdout()[0].items():
            self.metrics.holdout_mae.labels(population).set(mae)
        self.metrics.performance(self.tracker.performance(self._tracker_states()))
        log.info("using model %s (H = %d days) and its reference profile", model.version,
                 model.horizon_days)

    def _follow_model(self, state: PartitionState) -> None:
        """A state built under another model (or none) takes this one's reference."""
        if state.model_version != self.model_version and self.model is not None:
            state.monitor.set_reference(self.model.reference)
        self.tracker.adopt(state.tracker)

    def state(self, topic: str, partition: int) -> PartitionState:
        """The partition's state: owned already, else restored, else new."""
        state = self.partitions.get(partition)
        if state is not None:
            return state
        started = time.perf_counter()
        state = self.load_state(topic, partition)
        if state is not None:
            state.episodes.quiet = self.config.episode_quiet
            self.metrics.restore_seconds.observe(time.perf_counter() - started)
            log.info("restored %s[%d]: %d events up to offset %d", topic, partition, state.events,
                     state.offset)
            self._follow_model(state)
            self._journal.reset(partition, state.snapshot())
        else:
            state = self._new_state(topic, partition)
            self._journal.reset(partition, None)
        self.partitions[partition] = state
        self._saved[partition] = state.offset
        self.metrics.own(partition)
        self.exporter.partition(state)
        return state

    def _new_state(self, topic: str, partition: int) -> PartitionState:
        return PartitionState(topic, partition,
                              DriftMonitor(self.config, self.model.reference if self.model else None),
                              self.tracker.new_state(),
                              episodes=Episodes(partition, self.config.episode_quiet))

    def dirty(self) -> list[PartitionState]:
        """Owned states that changed since they were last saved."""
        return [s for p, s in self.partitions.items() if s.offset != self._saved[p]]

    def snapshots(self, states: list[PartitionState]) -> list[bytes]:
        """The states as snapshots to save (each also the journal's new starting point)."""
        data = []
        for state in states:
            data.append(state.snapshot())
            self._journal.reset(state.partition, data[-1])
        return data

    def saved(self, states: list[PartitionState], sizes: list[int]) -> None:
        for state, size in zip(states, sizes, strict=True):
            self._saved[state.partition] = state.offset
            self.metrics.snapshot_bytes.labels(str(state.partition)).set(size)

    def release(self, partitions: list[int]) -> list[PartitionState]:
        """Let revoked partitions go (save them first): another worker may own them now."""
        released = []
        for partition in partitions:
            state = self.partitions.pop(partition, None)
            if state is not None:
                released.append(state)
                self._saved.pop(partition)
                self._journal.forget(partition)
                self.exporter.latest.pop(partition, None)
                self.metrics.disown(partition)
        self.exporter.batch(self.partitions.values(), self.tracker)
        return released

    def process(self, messages: list[Message]) -> BatchOutput:
        started = time.perf_counter()
        out = BatchOutput()
        for msg in messages:  # every partition's state is in place before any message is decoded
            self.state(msg.topic, msg.partition)
        decoded = decode_batch(messages, self.limits, {p: s.offset for p, s in self.partitions.items()})
        for msg, letter in decoded.dead_letters:
            self._dead_letter(msg, letter, out)
        for partition, batch in decoded.partitions.items():
            if batch.rows:
                self._process_partition(partition, batch, out)
            state = self.partitions[partition]
            state.offset = batch.last_offset
            self.exporter.partition(state)
        if any(batch.rows for batch in decoded.partitions.values()):
            self.exporter.batch(self.partitions.values(), self.tracker)
        if self._report is not None:  # the report is the latest alarm: one write per batch
            self._write_report(self._report)
            self._report = None
        for feature, parts in self._segments.items():  # likewise the segments' gauges
            self.metrics.segments(feature, parts)
        self._segments.clear()
        self.metrics.batch_seconds.observe(time.perf_counter() - started)
        return out

    def _dead_letter(self, msg: Message, letter: DeadLetter, out: BatchOutput) -> None:
        self.metrics.invalid_event(letter.reason)
        log.warning("invalid event topic=%s partition=%d offset=%d reason=%s",
                    msg.topic, msg.partition, msg.offset, letter.reason)
        out.dead_letters.append(letter)

    def _process_partition(self, partition: int, batch: PartitionRows, out: BatchOutput) -> None:
        try:
            applied = [self._apply(self.partitions[partition], batch)]
        except Exception:
            log.exception("processing partition %d failed: rolling back to find the message", partition)
            applied, failed = isolate(batch, lambda rows: self._apply(self.partitions[partition], rows),
                                      lambda done: self._rebuild(partition, done))
            for msg, error in failed:
                self._dead_letter(msg, dead_letter(msg, "processing_error", error), out)
        for done in applied:
            self._journal.record(partition, done.rows)
            self._publish(self.partitions[partition], done, out)

    def _apply(self, state: PartitionState, batch: PartitionRows) -> Applied:
        """Everything rows change in a partition's state (and only there): deterministic, so
        applying the same rows to the same state again gives the same state."""
        rows, events_before = batch.rows, state.events
        cols = columns(rows)
        times = cols["event_time"].tolist()
        data = state.monitor.update(cols)
        model = self.tracker.update(state.tracker, [r.CustomerID for r in rows], [r.InvoiceNo for r in rows],
                                    cols["line_total"].tolist(), times)
        changes = episode_log.feed(state.episodes, data, model, [m.offset for m in batch.messages], times,
                                   events_before, self.tracker, state.tracker)
        state.watermark = max(state.watermark, float(cols["event_time"].max()))
        state.evaluations += sum(o.kind == "evaluation" for o in data)
        state.events += len(rows)
        state.offset = max(state.offset, batch.last_offset)
        return Applied(batch, data, model, events_before, changes)

    def _rebuild(self, partition: int, applied: list[Applied]) -> None:
        """The partition's state as of its journal's snapshot, then the rows applied since."""
        entry, current = self._journal.entry(partition), self.partitions[partition]
        state = (self._new_state(current.topic, partition) if entry.snapshot is None else
                 PartitionState.from_snapshot(entry.snapshot, current.topic, partition))
        for rows in [*entry.since, *(done.rows for done in applied)]:
            self._apply(state, rows)
        self.partitions[partition] = state

    def _publish(self, state: PartitionState, applied: Applied, out: BatchOutput) -> None:
        """What applied rows produced: drift events, metrics, the report."""
        triggers = [self.replays.observe(h) for h in applied.rows.headers]
        offsets = [m.offset for m in applied.rows.messages]  # the events' ids start with theirs
        for outcome in applied.data:
            out.drift_events.extend(self._data_events(state, outcome, triggers[outcome.position],
                                                      offsets[outcome.position]))
        for outcome in applied.model:
            out.drift_events.append(self._model_event(state, outcome, applied.events_before,
                                                      triggers[outcome.position], offsets[outcome.position]))
        for change, episode in applied.episodes:
            out.drift_events.append(self._episode_event(change, episode))
        self.metrics.processed.inc(len(applied.rows.rows))

    def _data_events(self, state: PartitionState, outcome: Outcome, trigger: dict | None, offset: int
                     ) -> list[tuple[bytes, bytes]]:
        cfg, partition = self.config, state.partition

        def event(kind: str, results: list, context: tuple = (None, None)) -> drift_event.DriftEvent:
            made = events.data_event(kind, partition, outcome, results, cfg.window_size, cfg.panes,
                                     self.model_version, trigger, *context)
            made.id = events.event_id(partition, offset, kind, results)
            return made

        out = []
        if outcome.kind == "evaluation":
            self.exporter.evaluation(partition, outcome)
            out.append((b"data", drift_event.encode(event("evaluation", outcome.results))))
        for alarm in outcome.alarms:
            self.metrics.alarm(alarm, partition)
            log.warning("drift alarm feature=%s test=%s statistic=%.4f threshold=%.4f partition=%d "
                        "events_processed=%d", alarm.feature, alarm.test, alarm.statistic,
                        alarm.threshold, partition, outcome.events_processed)
            context = self._alarm_context(state, outcome, alarm)
            self._segments[alarm.feature] = [(f"{s.kind}={s.name}", s.contribution) for s in context[1]]
            episode = state.episodes.open.get(alarm.feature)
            peak = episode_log.severity(alarm.test, alarm.statistic, alarm.threshold)
            if episode is not None and peak >= episode.peak and context[1]:  # its peak alarm's
                episode.segments = [(s.kind, s.name, s.contribution, s.count) for s in context[1]]
            self._report = event("alarm", [alarm], context)
            out.append((alarm.feature.encode(), drift_event.encode(self._report)))
        return out

    def _model_event(self, state: PartitionState, outcome: ModelOutcome, events_before: int,
                     trigger: dict | None, offset: int) -> tuple[bytes, bytes]:
        result, partition = outcome.result, state.partition
        self.metrics.model_check(result, outcome.alarm, partition)
        if (result.feature, result.test) == ("prediction", "ks"):  # once per cutoff
            self.metrics.model_predictions.inc(outcome.size)
        elif result.test == "out_of_range":  # once per scored cutoff
            self.metrics.model_scored.inc(outcome.size)
            self.metrics.performance(self.tracker.performance(self._tracker_states()))
        compared = None
        if outcome.alarm and outcome.values is not None and self.model is not None:
            if result.test == "spend_level":  # each returning buyer's basket now over before: 1 = as before
                compared = [distributions.numeric("basket_ratio", np.ones(1), outcome.values, "unchanged",
                                                  "returning buyers' last-week basket over their earlier")]
            elif result.test in IMPACT_SIGNALS:  # expected, shown so far or realised absolute errors
                holdout = np.abs(self.model.holdout_errors)
                name = {"so_far": "errors so far"}.get(result.test, f"{result.test} absolute errors")
                values = np.abs(outcome.values)
                compared = [distributions.numeric(result.feature, holdout, values,
                                                  "holdout absolute errors", f"the cutoff's {name}")]
            else:
                holdout = (self.model.predictions if result.feature == "prediction"
                           else self.model.holdout_errors)
                compared = [distributions.numeric(
                    result.feature, holdout, outcome.values, f"holdout {result.feature}s",
                    f"the cutoff's {result.feature}s")]
        if outcome.figures is not None:
            self.metrics.cutoff_error(partition, outcome.figures, state.tracker.impact)
        event = events.model_event(partition, outcome, events_before + outcome.position + 1,
                                   self.tracker.horizon, self.model_version, trigger, compared,
                                   self.tracker.holdout()[0] if outcome.figures is not None else None)
        event.id = events.event_id(partition, offset, event.kind, [result], f"{outcome.cutoff:.0f}")
        if outcome.alarm:
            log.warning("model alarm check=%s/%s statistic=%.4f threshold=%.4f partition=%d cutoff=%s",
                        result.feature, result.test, result.statistic, result.threshold, partition,
                        events.iso(outcome.cutoff))
            self._report = event
        return b"model", drift_event.encode(event)

    def _episode_event(self, change: str, episode: Episode) -> tuple[bytes, bytes]:
        margin = self.tracker.config.impact_margin
        material = episode.material(margin)
        impact = "unmeasured" if material is None else "material" if material else "immaterial"
        self.metrics.episode(change, episode.feature, impact)
        log.log(logging.WARNING if change == "open" or material else logging.INFO,
                "drift episode %s feature=%s partition=%d alarms=%d tests=%s impact=%s", change,
                episode.feature, episode.partition, episode.alarms, ",".join(episode.tests), impact)
        event = events.episode_event(change, episode, margin, self.model_version)
        event.id = f"{episode.id}:{change}"
        return episode.feature.encode(), drift_event.encode(event)

    def _alarm_context(self, state: PartitionState, outcome: Outcome, alarm: Verdict) -> tuple[list, list]:
        """What an alarm compared, and the segments that drive it (a streaming detection: in
        the partition's latest evaluated window)."""
        window = outcome.window
        if window is None and state.partition in self.exporter.latest:
            window = self.exporter.latest[state.partition].window
        reference, feature = state.monitor.reference, alarm.feature
        if window is None or reference is None:
            return [], []
        segments = attribute(alarm, reference, window)
        if feature in reference.numeric:
            values, current = reference.numeric[feature], window[feature]
            # a test inside a segment of rows (a country): that segment's rows, reference and window;
            # a segment that is no column (a joint test's histogram cell): the feature's whole window
            if isinstance(alarm, SegmentVerdict) and alarm.where[0] in window:
                kind, name = alarm.where
                values = values[reference.segments.get(feature, {}).get(kind, np.array([])) == name]
                current = current[window[kind] == name]
                if values.size == 0 or current.size == 0:
                    return [], segments
            return [distributions.numeric(feature, values, current, reference_sorted=True)], segments
        return [distributions.categorical(feature, reference.categorical[feature], window[feature])], segments

    def material_impact(self) -> tuple[list[str], list[int]]:
        """The signals (estimated, realised) whose impact is material on an owned partition, and
        those partitions."""
        found = {(signal, p) for p, s in self.partitions.items() for signal in IMPACT_SIGNALS
                 if self.tracker.material(s.tracker, signal)}
        return sorted({s for s, _ in found}), sorted({p for _, p in found})

    def _tracker_states(self) -> list:
        """In partition order: the rolling figures take ties of cutoffs in that order."""
        return [self.partitions[p].tracker for p in sorted(self.partitions)]

    def _write_report(self, alarm: drift_event.DriftEvent) -> None:
        state = self.partitions[alarm.partition]
        write_report(self.reports_dir, build_report(
            alarm, self.exporter.latest.get(alarm.partition), state, self.config,
            sum(s.events for s in self.partitions.values()), self.model, self.tracker,
            self._tracker_states()))
