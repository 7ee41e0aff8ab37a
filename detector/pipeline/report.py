"""latest_drift_report.json: the last alarm and the full evaluation around it; and the
same as a page a person can open, latest_drift_report.html (pipeline/report_page.py)."""

from __future__ import annotations

import socket
from pathlib import Path

import msgspec
import orjson

from detector.drift.monitor import MonitorConfig, Outcome
from detector.model.loader import LoadedModel
from detector.model.tracker import ModelTracker, TrackerState
from detector.pipeline.report_page import render
from detector.pipeline.state import PartitionState
from schemas import drift_event
from schemas.artifacts import atomic_write

REPORT_NAME = "latest_drift_report.json"
PAGE_NAME = "latest_drift_report.html"


def build_report(alarm: drift_event.DriftEvent, latest: Outcome | None, state: PartitionState,
                 config: MonitorConfig, processed: int, model: LoadedModel | None,
                 tracker: ModelTracker, tracker_states: list[TrackerState]) -> dict:
    monitor = state.monitor
    return {
        "alarm": msgspec.to_builtins(alarm),
        "worker": socket.gethostname(),
        "partition_events": state.events,
        "latest_evaluation": None if latest is None else {
            "partition": alarm.partition,
            "results": [{"feature": r.feature, "test": r.test, "statistic": r.statistic,
                         "threshold": r.threshold, "drifted": r.drifted} for r in latest.results],
            "drift_share": latest.drift_share, "drifted_columns": latest.drifted_columns,
            "quality": latest.quality, "events_processed": latest.events_processed},
        "thresholds": [{"feature": f, "test": t, "threshold": v}
                       for f, t, v in (monitor.thresholds() if monitor.reference else [])],
        "alpha_per_test": config.alpha,
        "events_processed_owned_partitions": processed,
        "model": None if model is None else {
            "version": model.version, "horizon_days": model.horizon_days,
            "holdout": model.holdout, "performance": tracker.performance(tracker_states),
            "predictions": sum(s.predictions for s in tracker_states),
            "scored": sum(s.scored for s in tracker_states)},
    }


def write_report(reports_dir: Path, report: dict) -> Path:
    """Written atomically, so readers never see half a report."""
    data = orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SERIALIZE_NUMPY)
    atomic_write(reports_dir / PAGE_NAME, render(orjson.loads(data)["alarm"], orjson.loads(data)).encode())
    return atomic_write(reports_dir / REPORT_NAME, data)
