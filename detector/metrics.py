"""Every Prometheus metric the detector exports, defined in one place.

``Metrics(registry)`` registers them in the registry it is given (the worker's, or a test's
fresh ``CollectorRegistry``) and binds every label child once, so each series exists from
the start and nothing is looked up per event. Label values are bounded: features, tests,
DLQ reasons, quality kinds, model versions in use, owned partitions. The seed pipeline's
names stay (clv_drift_score, clv_drifted_columns_count, clv_drift_detected_total,
clv_model_performance) so its dashboards keep working. ``scrape`` reads an endpoint back
(the demo, the tests and the benchmarks use it).
"""

from __future__ import annotations

import urllib.request

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.parser import text_string_to_metric_families

from detector.drift.checks import Verdict
from detector.model.config import IMPACT_SIGNALS
from schemas.features import CATEGORICAL, NUMERIC
from schemas.transaction import DLQ_REASONS

TESTS_BY_FEATURE = {
    **{f: ("ks", "out_of_range", "values", "tail", "adwin", "ks_segment",
           *(("product_price",) if f == "unit_price" else ()),
           *(("joint_country",) if f in ("quantity", "unit_price") else ()),
           *(("joint_quantity",) if f == "unit_price" else ())) for f in NUMERIC},
    **{f: ("categorical", "categorical_long", "adwin", *(("customer_country",) if f == "country" else ()))
       for f in CATEGORICAL},
}
MODEL_CHECKS = (("prediction", "ks"), ("prediction", "ks_active"), ("error", "out_of_range"),
                ("error", "adwin"), ("error", "estimated"), ("error", "spend_level"), ("error", "so_far"),
                ("error", "realised"))
POPULATIONS = ("all", "active")  # detector/model/health.py
BOUNDS = ("estimate", "low", "high")  # an estimated MAE and its band
EPISODE_IMPACTS = ("material", "immaterial", "unmeasured")
PERFORMANCE = ("mae", "rmse", "naive_mae", "holdout_mae", "holdout_rmse", "baseline_mae")
QUALITY_KINDS = ("out_of_range:quantity", "out_of_range:unit_price", "out_of_range:line_total",
                 "unseen:country", "null:customer_id", "null:description")


class Metrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        r = registry
        self.drift_score = Gauge("clv_drift_score", "Latest drift statistic per feature and test "
                                 "(KS D, categorical or value-mix deviance over its bound's, "
                                 "out-of-range share, tail: most extreme value / critical value, "
                                 "ADWIN |mean rank - 0.5|)",
                                 ["feature", "test"], registry=r)
        self.drift_threshold = Gauge("clv_drift_threshold", "Alarm threshold for clv_drift_score "
                                     "(for adwin: its delta)", ["feature", "test"], registry=r)
        self.drift_state = Gauge("clv_drift_state", "1 while the latest evaluation is drifted",
                                 ["feature", "test"], registry=r)
        self.drifted_columns = Gauge("clv_drifted_columns_count", "Features drifted in the latest "
                                     "evaluation", registry=r)
        self.drift_share = Gauge("clv_drift_share", "Share of monitored features drifted in the "
                                 "latest evaluation", registry=r)
        self.detected = Counter("clv_drift_detected", "Drift alarms (rising edges, ADWIN detections) "
                                "per input partition", ["kind", "feature", "test", "partition"], registry=r)
        self.model_performance = Gauge("clv_model_performance", "Model error figures (rolling)",
                                       ["metric"], registry=r)
        self.processed = Counter("clv_events_processed", "Valid transactions processed", registry=r)
        self.invalid = Counter("clv_events_invalid", "Invalid messages sent to the DLQ", ["reason"],
                               registry=r)
        self.evaluations = Counter("clv_evaluations", "Pane evaluations run", registry=r)
        self.window_fill = Gauge("clv_window_fill_ratio", "Fill of the reference warm-up and the "
                                 "current window", ["window"], registry=r)
        self.window_events = Gauge("clv_window_size_events", "Configured sizes in events",
                                   ["window"], registry=r)
        self.quality = Gauge("clv_data_quality_share", "Share of the current window per data "
                             "quality issue", ["kind"], registry=r)
        self.watermark = Gauge("clv_event_time_watermark_seconds", "Max event time seen (Unix "
                               "seconds, InvoiceDate as UTC)", registry=r)
        self.batch_seconds = Histogram("clv_processing_seconds", "Processing time per batch",
                                       buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5),
                                       registry=r)
        self.lag = Gauge("clv_consumer_lag_messages", "Consumer lag (high watermark - position) of an "
                         "owned partition", ["partition"], registry=r)
        self.state_events = Gauge("clv_state_events", "Valid events in an owned partition's state, "
                                  "whichever worker processed them (moves with the state)",
                                  ["partition"], registry=r)
        self.state_evaluations = Gauge("clv_state_evaluations", "Pane evaluations in an owned "
                                       "partition's state", ["partition"], registry=r)
        self.state_predictions = Gauge("clv_state_model_predictions", "Predictions made in an owned "
                                       "partition's state", ["partition"], registry=r)
        self.state_scored = Gauge("clv_state_model_scored", "Predictions scored in an owned "
                                  "partition's state", ["partition"], registry=r)
        self.snapshot_bytes = Gauge("clv_state_snapshot_bytes", "Size of an owned partition's latest "
                                    "state snapshot", ["partition"], registry=r)
        self.partitions_owned = Gauge("clv_partitions_owned", "Input partitions this worker owns",
                                      registry=r)
        self.save_seconds = Histogram("clv_state_save_seconds", "Time to write snapshots to the state "
                                      "topic and have them acknowledged",
                                      buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10), registry=r)
        self.restore_seconds = Histogram("clv_state_restore_seconds", "Time to read a partition's "
                                         "snapshot back from the state topic",
                                         buckets=(.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10),
                                         registry=r)
        self.reference_info = Gauge("clv_reference_info", "The reference in use (1)", ["source"],
                                    registry=r)
        self.model_version = Gauge("clv_model_version_info", "The model version in use (1)",
                                   ["version"], registry=r)
        self.model_predictions = Counter("clv_model_predictions", "CLV predictions made at cutoffs",
                                         registry=r)
        self.model_scored = Counter("clv_model_scored", "Predictions scored against realised spend",
                                    registry=r)
        self.model_pending = Gauge("clv_model_pending_predictions", "Predictions waiting for their "
                                   "label (event time < cutoff + H)", registry=r)
        self.model_customers = Gauge("clv_model_customers", "Customers with state", registry=r)
        self.state_rejected = Counter("clv_state_rejected", "Saved states ignored because they were "
                                      "damaged, foreign or of another format", registry=r)
        self.restore_skipped = Gauge("clv_state_restore_skipped", "Unusable records at the end of an "
                                     "owned partition's state topic that its restore walked back over "
                                     "(0: the latest snapshot was usable)", ["partition"], registry=r)
        self.save_failures = Counter("clv_state_save_failures", "Saves that did not reach the state topic "
                                     "(broker unreachable, snapshot too large): offsets stay uncommitted",
                                     registry=r)
        self.segment_score = Gauge("clv_drift_segment_score", "The latest alarm's top segments per feature "
                                   "(country=..., stock_code=..., category=...): their part in its statistic",
                                   ["feature", "segment"], registry=r)
        self._segments: dict[str, list[str]] = {}
        self.estimated_mae = Gauge("clv_model_estimated_mae", "The latest cutoff's MAE as the loss model "
                                   "estimates it before labels (bound: estimate, low, high: its 95 % band)",
                                   ["partition", "population", "bound"], registry=r)
        self.realised_mae = Gauge("clv_model_realised_mae", "The latest scored cutoff's realised MAE",
                                  ["partition", "population"], registry=r)
        self.spend_level = Gauge("clv_model_spend_level", "The latest cutoff's spend level: the returning "
                                 "buyers' median basket in the last week over their own before it (1: "
                                 "unchanged)", ["partition"], registry=r)
        self.holdout_mae = Gauge("clv_model_holdout_mae", "The holdout's realised MAE per population "
                                 "(what the cutoffs are compared with)", ["population"], registry=r)
        self.impact_cutoffs = Gauge("clv_model_impact_cutoffs", "Consecutive cutoffs of a partition whose "
                                    "error was above the holdout's by the impact margin",
                                    ["partition", "signal"], registry=r)
        self.impact_material = Gauge("clv_model_impact_material", "1 while an owned partition's error has "
                                     "been above the margin for the configured number of cutoffs",
                                     ["signal"], registry=r)
        self.episode_open = Gauge("clv_drift_episode_open", "1 while an owned partition has a drift episode "
                                  "open on the feature", ["feature"], registry=r)
        self.episodes_opened = Counter("clv_drift_episodes_opened", "Drift episodes opened", ["feature"],
                                       registry=r)
        self.episodes_closed = Counter("clv_drift_episodes_closed", "Drift episodes closed, by their impact "
                                       "on the model's estimated error", ["feature", "impact"], registry=r)
        for feature in TESTS_BY_FEATURE:
            self.episode_open.labels(feature).set(0)
            self.episodes_opened.labels(feature)
            for impact in EPISODE_IMPACTS:
                self.episodes_closed.labels(feature, impact)
        for signal in IMPACT_SIGNALS:
            self.impact_material.labels(signal).set(0)
        for population in POPULATIONS:
            self.holdout_mae.labels(population).set(float("nan"))
        self.retrain_recommended = Gauge("clv_retrain_recommended", "1 while the retrain policy (recommend, "
                                         "auto) recommends retraining: an owned partition's error impact "
                                         "is material", registry=r)
        self.retrain_requests = Counter("clv_retrain_requests_sent", "Retrain requests this worker wrote "
                                        "to retrain.requests (policy auto)", registry=r)
        self.kafka_connected = Gauge("clv_kafka_connected", "1 while the broker answers the pipeline "
                                     "process (checked every few seconds)", registry=r)
        self.up = Gauge("clv_detector_up", "1 while the detector worker runs", registry=r)
        # Bind label children once, so every series exists from the start.
        self._score = {(f, t): self.drift_score.labels(f, t)
                       for f, tests in TESTS_BY_FEATURE.items() for t in tests}
        self._threshold = {k: self.drift_threshold.labels(*k) for k in self._score}
        self._state = {k: self.drift_state.labels(*k) for k in self._score}
        self._data_checks = list(self._score)
        self._invalid = {reason: self.invalid.labels(reason) for reason in DLQ_REASONS}
        self._quality = {k: self.quality.labels(k) for k in QUALITY_KINDS}
        self._fill = {w: self.window_fill.labels(w) for w in ("reference", "current")}
        self._score.update({k: self.drift_score.labels(*k) for k in MODEL_CHECKS})
        self._threshold.update({k: self.drift_threshold.labels(*k) for k in MODEL_CHECKS})
        self._state.update({k: self.drift_state.labels(*k) for k in MODEL_CHECKS})
        self._detected: dict[tuple, object] = {}  # (kind, feature, test, partition), while owned
        self._owned: set[int] = set()
        self._performance = {m: self.model_performance.labels(m) for m in PERFORMANCE}
        self.performance({m: float("nan") for m in PERFORMANCE})  # NaN until a model is scored
        self._version = "none"
        self.model_version.labels("none").set(1)
        self._reference = "warm-up"
        self.reference_info.labels("warm-up").set(1)

    def invalid_event(self, reason: str) -> None:
        self._invalid[reason].inc()

    def own(self, partition: int) -> None:
        """A partition's series, from when this worker owns it (all at 0 until counted)."""
        if partition in self._owned:
            return
        self._owned.add(partition)
        label = str(partition)
        for kind, checks in (("data", self._data_checks), ("model", MODEL_CHECKS)):
            for feature, test in checks:
                self._detected[(kind, feature, test, partition)] = self.detected.labels(
                    kind, feature, test, label)
        for gauge in self._partition_gauges:
            gauge.labels(label)
        for population in POPULATIONS:  # NaN until the partition's first cutoff
            for bound in BOUNDS:
                self.estimated_mae.labels(label, population, bound).set(float("nan"))
            self.realised_mae.labels(label, population).set(float("nan"))
        self.spend_level.labels(label).set(float("nan"))
        for signal in IMPACT_SIGNALS:
            self.impact_cutoffs.labels(label, signal).set(0)
        self.partitions_owned.set(len(self._owned))

    def disown(self, partition: int) -> None:
        """Remove a revoked partition's series: another worker reports it now."""
        if partition not in self._owned:
            return
        self._owned.discard(partition)
        label = str(partition)
        for key in [k for k in self._detected if k[3] == partition]:
            del self._detected[key]
            self.detected.remove(*key[:3], label)
        for gauge in self._partition_gauges:
            gauge.remove(label)
        for population in POPULATIONS:
            for bound in BOUNDS:
                self.estimated_mae.remove(label, population, bound)
            self.realised_mae.remove(label, population)
        self.spend_level.remove(label)
        for signal in IMPACT_SIGNALS:
            self.impact_cutoffs.remove(label, signal)
        self.partitions_owned.set(len(self._owned))

    @property
    def _partition_gauges(self) -> tuple:
        return (self.lag, self.state_events, self.state_evaluations, self.state_predictions,
                self.state_scored, self.snapshot_bytes, self.restore_skipped)

    def segments(self, feature: str, parts: list[tuple[str, float]]) -> None:
        """The top segments of the latest alarm on ``feature`` (those of the one before go)."""
        for segment in self._segments.pop(feature, []):
            self.segment_score.remove(feature, segment)
        for segment, contribution in parts:
            self.segment_score.labels(feature, segment).set(contribution)
        self._segments[feature] = [segment for segment, _ in parts]

    def alarm(self, result: Verdict, partition: int) -> None:
        self._detected[("data", result.feature, result.test, partition)].inc()

    def evaluation(self, results: list[Verdict], drift_share: float, drifted_columns: int,
                   quality: dict[str, float]) -> None:
        for r in results:
            self._show(r)
        self.drift_share.set(drift_share)
        self.drifted_columns.set(drifted_columns)
        for kind, share in quality.items():
            self._quality[kind].set(share)

    def model_check(self, result: Verdict, alarm: bool, partition: int) -> None:
        self._show(result)
        if alarm:
            self._detected[("model", result.feature, result.test, partition)].inc()

    def _show(self, result: Verdict) -> None:
        key = (result.feature, result.test)
        self._score[key].set(result.statistic)
        self._threshold[key].set(result.threshold)
        self._state[key].set(1.0 if result.drifted else 0.0)

    def performance(self, figures: dict[str, float]) -> None:
        for metric, value in figures.items():
            self._performance[metric].set(value)

    def using(self, version: str, reference: str) -> None:
        """The model version and reference in use: the old series drop to 0."""
        self.model_version.labels(self._version).set(0)
        self.reference_info.labels(self._reference).set(0)
        self._version, self._reference = version, reference
        self.model_version.labels(version).set(1)
        self.reference_info.labels(reference).set(1)

    def cutoff_error(self, partition: int, figures, streaks: dict[str, int]) -> None:
        """A cutoff's error figures (detector/model/health.py) as its partition's latest."""
        label = str(partition)
        for population, (mae, low, high) in figures.estimated.items():
            for bound, value in zip(BOUNDS, (mae, low, high), strict=True):
                self.estimated_mae.labels(label, population, bound).set(value)
        for population, mae in figures.realised.items():
            self.realised_mae.labels(label, population).set(mae)
        if figures.at_level:
            self.spend_level.labels(label).set(figures.spend_level)
        for signal in IMPACT_SIGNALS:
            self.impact_cutoffs.labels(label, signal).set(streaks.get(signal, 0))

    def episode(self, change: str, feature: str, impact: str | None = None) -> None:
        if change == "open":
            self.episodes_opened.labels(feature).inc()
        else:
            self.episodes_closed.labels(feature, impact).inc()

    def fill(self, reference: float, current: float) -> None:
        self._fill["reference"].set(reference)
        self._fill["current"].set(current)



def scrape(url: str, timeout: float = 5.0) -> dict[str, float]:
    """Read a /metrics endpoint: {'name{label="v",...}': value}, labels sorted by name."""
    text = urllib.request.urlopen(url, timeout=timeout).read().decode()  # noqa: S310 (http URL given)
    samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            samples[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
    return samples
