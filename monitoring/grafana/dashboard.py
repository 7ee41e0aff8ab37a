"""The "CLV Drift Dashboard", built with Grafana's typed SDK (grafana-foundation-sdk).

Panels read the fleet's aggregates (Prometheus recording rules `fleet:*` over every worker
and partition, monitoring/prometheus/rules/driftstream.yml); one breaks alarms down by
worker and partition. The committed JSON is this file's output (a test compares them):

    python monitoring/grafana/dashboard.py      # rewrites dashboards/clv_drift.json
"""

from __future__ import annotations

import json
from pathlib import Path

from grafana_foundation_sdk.builders import dashboard, prometheus, stat, timeseries
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.dashboard import DataSourceRef, GridPos

OUT = Path(__file__).resolve().parent / "dashboards" / "clv_drift.json"
DATASOURCE = DataSourceRef(type_val="prometheus", uid="driftstream-prometheus")

# (title, kind, description, [(expr, legend)], unit)
PANELS = [
    ("Data Drift Events", "timeseries", "Alarms in the last 5 minutes per feature and test, all workers",
     [('fleet:clv_drift_detected:increase5m{kind="data"}', "{{feature}} / {{test}}")], "short"),
    ("Model Drift Events", "timeseries", "Model alarms in the last 5 minutes, all workers",
     [('fleet:clv_drift_detected:increase5m{kind="model"}', "{{feature}} / {{test}}")], "short"),
    ("Alarms by worker and partition", "timeseries", "Where the alarms come from",
     [("sum by (instance, partition) (increase(clv_drift_detected_total[$__rate_interval]))",
       "{{instance}} p{{partition}}")], "short"),
    ("Where the drift comes from", "timeseries", "The latest alarm's top segments per feature (countries, "
     "stock codes, categories) and their part in its statistic", [
         ("max by (feature, segment) (clv_drift_segment_score)", "{{feature}}: {{segment}}")], "short"),
    ("Drift score vs threshold", "timeseries", "Per feature and test, the partition closest to (or "
     "furthest past) its threshold; state 1 while drifted", [
         ("fleet:clv_drift_score:max", "score {{feature}} / {{test}}"),
         ("fleet:clv_drift_threshold:max", "threshold {{feature}} / {{test}}"),
         ("fleet:clv_drift_state:max", "state {{feature}} / {{test}}")], "short"),
    ("Drift share", "timeseries", "Share of the monitored features drifted in any partition",
     [("fleet:clv_drift_share:ratio", "drift share")], "percentunit"),
    ("Drifted columns", "stat", "Features drifted in any partition, and in the most drifted "
     "worker's latest evaluations", [("fleet:clv_drifted_columns:count", "anywhere"),
                                      ("max(clv_drifted_columns_count)", "worst worker")], "short"),
    ("Model error: rolling vs holdout", "timeseries", "Rolling MAE/RMSE and the naive baseline beside "
     "the trainer's holdout figures (average over workers)", [
         ('fleet:clv_model_performance:avg{metric=~"mae|rmse|naive_mae"}', "{{metric}}"),
         ('fleet:clv_model_performance:avg{metric=~"holdout_mae|holdout_rmse|baseline_mae"}',
          "{{metric}}")], "short"),
    ("Model health: estimated vs realised MAE", "timeseries", "Per cutoff: the MAE the loss model "
     "estimates before labels (with its 95 % band) and, H days later, the realised MAE of a cutoff, "
     "against the holdout's; all customers and the like-for-like active ones (average over partitions)", [
         ('fleet:clv_model_estimated_mae:avg', "estimated {{population}} {{bound}}"),
         ('fleet:clv_model_realised_mae:avg', "realised {{population}}"),
         ("max by (population) (clv_model_holdout_mae)", "holdout {{population}}")], "short"),
    ("Model impact", "timeseries", "Consecutive cutoffs whose error band was above the holdout's by the "
     "margin, per partition and signal (estimated and spend_level before labels, so_far from the labels' "
     "first days, realised); material (1) pages a person (ModelErrorUp). The spend level: the "
     "returning buyers' median basket in the last week over their own before it (1 = unchanged)", [
         ("max by (partition, signal) (clv_model_impact_cutoffs)", "p{{partition}} {{signal}}"),
         ("fleet:clv_model_impact_material:max", "material {{signal}}"),
         ("max by (partition) (clv_model_spend_level)", "spend level p{{partition}}")], "short"),
    ("Drift episodes", "timeseries", "Features in an open drift episode anywhere (1), and episodes "
     "opened and closed (by their impact on the model's estimated error) in the last hour", [
         ("fleet:clv_drift_episode_open:max", "open {{feature}}"),
         ("sum by (feature) (increase(clv_drift_episodes_opened_total[1h]))", "opened {{feature}}"),
         ("sum by (feature, impact) (increase(clv_drift_episodes_closed_total[1h]))",
          "closed {{feature}} ({{impact}})")], "short"),
    ("Events per second", "timeseries", "Valid transactions processed, all workers",
     [("fleet:clv_events_processed:rate5m", "events/s")], "short"),
    ("Invalid events by reason", "timeseries", "Messages sent to the DLQ per second",
     [("fleet:clv_events_invalid:rate5m", "{{reason}}")], "short"),
    ("Window fill", "timeseries", "Reference warm-up and current window fill (the least filled "
     "partition), and the configured sizes", [
         ("fleet:clv_window_fill_ratio:min", "{{window}} fill"),
         ("max by (window) (clv_window_size_events)", "{{window}} size")], "short"),
    ("Model version", "stat", "Workers per model version in use",
     [("count by (version) (clv_model_version_info == 1)", "{{version}}")], "short"),
    ("Event-time watermark", "stat", "Latest event time seen by any worker",
     [("max(clv_event_time_watermark_seconds) * 1000", "watermark")], "dateTimeAsIso"),
    ("Consumer lag", "timeseries", "Messages behind, per partition",
     [("fleet:clv_consumer_lag_messages:max", "partition {{partition}}")], "short"),
    ("Data quality", "timeseries", "Out-of-range, unseen-country and null shares of the windows "
     "(worst worker)",
     [("max by (kind) (clv_data_quality_share)", "{{kind}}")], "percentunit"),
    ("Processing time per batch (p99)", "timeseries", "All workers",
     [("histogram_quantile(0.99, sum by (le) (rate(clv_processing_seconds_bucket[$__rate_interval])))",
       "p99")], "s"),
    ("Detector up", "stat", "Workers Prometheus can scrape, workers running, and whether each reaches Kafka",
     [('up{job="driftstream-detector"}', "scraped {{instance}}"), ("clv_detector_up", "running {{instance}}"),
      ("fleet:clv_detectors_up:sum", "running"), ("clv_kafka_connected", "Kafka reachable {{instance}}")],
     "short"),
    ("Evaluations per second", "timeseries", "Pane evaluations, all workers",
     [("sum(rate(clv_evaluations_total[$__rate_interval]))", "evaluations/s")], "short"),
    ("Reference in use", "stat", "Workers per reference (warm-up or a model version)",
     [("count by (source) (clv_reference_info == 1)", "{{source}}")], "short"),
    ("Model predictions and scores per second", "timeseries", "All workers", [
        ("sum(rate(clv_model_predictions_total[$__rate_interval]))", "predictions/s"),
        ("sum(rate(clv_model_scored_total[$__rate_interval]))", "scored/s")], "short"),
    ("Model state", "timeseries", "Customers with state and predictions waiting for labels, all workers", [
        ("sum(clv_model_customers)", "customers"),
        ("sum(clv_model_pending_predictions)", "pending predictions")], "short"),
    ("Events in partition states", "timeseries", "Valid events each partition's state holds, whichever "
     "worker processed them; their sum is exact through kills and rebalances", [
         ("max by (partition) (clv_state_events)", "partition {{partition}}"),
         ("fleet:clv_state_events:sum", "all partitions")], "short"),
    ("Partition states: evaluations, predictions, scores", "timeseries", "Counts held in the states", [
        ("sum(max by (partition) (clv_state_evaluations))", "evaluations"),
        ("sum(max by (partition) (clv_state_model_predictions))", "predictions"),
        ("sum(max by (partition) (clv_state_model_scored))", "scored")], "short"),
    ("Partitions per worker", "timeseries", "Input partitions each worker owns, and in all",
     [("clv_partitions_owned", "{{instance}}"), ("fleet:clv_partitions_owned:sum", "all workers")], "short"),
    ("State snapshots", "timeseries", "Snapshot size per partition; time to save and to restore (p99)", [
        ("max by (partition) (clv_state_snapshot_bytes)", "bytes, partition {{partition}}"),
        ("histogram_quantile(0.99, sum by (le) (rate(clv_state_save_seconds_bucket[$__rate_interval])))",
         "save p99 (s)"),
        ("histogram_quantile(0.99, sum by (le) (rate(clv_state_restore_seconds_bucket[$__rate_interval])))",
         "restore p99 (s)")], "short"),
    ("Last training run", "stat", "The trainer's last run (pushed to the Pushgateway): success, "
     "announced, duration, rows, holdout figures, model version", [
         ("max(clv_training_success)", "success"), ("max(clv_training_announced)", "announced"),
         ("max(clv_training_duration_seconds)", "duration (s)"), ("max(clv_training_rows)", "rows"),
         ("max by (metric) (clv_training_holdout)", "holdout {{metric}}"),
         ("max by (version) (clv_training_model_info)", "{{version}}"),
         ("max(clv_training_last_run_timestamp_seconds) * 1000", "ended")], "short"),
    ("Retraining", "timeseries", "The retrain loop: workers recommending a retrain (material impact), "
     "requests the policy wrote, the trainer service's outcomes (pushed), whether it is training, and the "
     "last comparison's champion and challenger MAE on the same labelled cutoff", [
         ("max(clv_retrain_recommended)", "recommended"),
         ("sum(clv_retrain_requests_sent_total)", "requests by the policy"),
         ("sum by (outcome) (clv_retrain_outcomes_total)", "{{outcome}}"),
         ("max(clv_retrain_in_progress)", "training"),
         ("max by (model) (clv_retrain_mae)", "{{model}} MAE"),
         ("max(clv_retrain_last_outcome_timestamp_seconds) * 1000", "last answered")], "short"),
    ("Replays", "stat", "The producer's last replay (pushed to the Pushgateway): messages, scenario, "
     "duration, success", [
         ("max by (outcome) (clv_replay_messages)", "{{outcome}}"),
         ("max by (scenario, order) (clv_replay_info)", "{{scenario}} ({{order}})"),
         ("max(clv_replay_duration_seconds)", "duration (s)"), ("max(clv_replay_success)", "success"),
         ("max(clv_replay_last_run_timestamp_seconds) * 1000", "ended")], "short"),
    ("Saved states rejected", "stat", "Snapshots ignored because they were damaged, foreign or of "
     "another format; per partition, how many unusable records its last restore walked back over to "
     "the newest usable snapshot", [("sum(clv_state_rejected_total)", "rejected"),
                                    ("max by (partition) (clv_state_restore_skipped)",
                                     "walked back, partition {{partition}}")], "short"),
    ("State saves failed", "stat", "Saves that did not reach the state topic (offsets stay uncommitted; "
     "a failed save on revocation stops the worker)",
     [("sum(clv_state_save_failures_total)", "failed saves")], "short"),
]


def build() -> dict:
    board = (dashboard.Dashboard("CLV Drift Dashboard").uid("clv-drift").tags(["driftstream"])
             .timezone("utc").refresh("5s").time("now-30m", "now").readonly())
    for number, (title, kind, description, queries, unit) in enumerate(PANELS):
        panel = (timeseries.Panel() if kind == "timeseries" else stat.Panel())
        place = GridPos(h=8, w=12, x=12 * (number % 2), y=8 * (number // 2))
        panel = (panel.id(number + 1).title(title).description(description).unit(unit)
                 .datasource(DATASOURCE).grid_pos(place))
        for ref, (expr, legend) in zip("ABCDEFGH", queries, strict=False):
            panel = panel.with_target(prometheus.Dataquery().ref_id(ref).datasource(DATASOURCE)
                                      .expr(expr).legend_format(legend))
        board = board.with_panel(panel)
    return json.loads(JSONEncoder(sort_keys=True, indent=2).encode(board.build()))


def render() -> str:
    return json.dumps(build(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    OUT.write_text(render())
