"""Every dashboard query and alert rule, run against a real Prometheus scraping the detector
and a real Pushgateway that the batch jobs push to."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pandas as pd
import pytest
import yaml
from conftest import train
from kafka_broker import wait_for
from prometheus_stack import Prometheus, Pushgateway
from services import JULY, SLICE_BURN_IN_DAYS, SLICE_START, base_env, read_topic, replay
from services import ROOT as SERVICES_ROOT

from detector.model.config import IMPACT_SIGNALS, LABEL_FREE_SIGNALS

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[1]
PROM = ROOT / "monitoring" / "prometheus"
ROWS = 60_000
DRIFT_ALERTS = {"DataDriftEpisode", "ModelDriftDetected", "ModelErrorUp", "InputBreakage"}


def panel_queries() -> list[str]:
    exprs = []
    for path in sorted((ROOT / "monitoring" / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            exprs += [t["expr"].replace("$__rate_interval", "1m") for t in panel["targets"]]
    return exprs


def rule_queries() -> dict[str, str]:
    """Each alert's expression without its final comparison: the series it judges."""
    rules = {}
    for path in sorted((PROM / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in (r for r in group["rules"] if "alert" in r):
                expr = " ".join(rule["expr"].split())
                rules[rule["alert"]] = re.sub(r"\s*(==|!=|>=|<=|>|<)\s*[\d.e+-]+\s*$", "", expr)
    return rules


@pytest.fixture
def stack(kafka_bootstrap, topics, data_path, tmp_path, start_detector):
    """``stack(*replay_args, rows=, skip=, training=, **env)``: a detector; a Pushgateway; a
    Prometheus scraping both; (a training run, a batch job, and) a replay of rows ``skip`` to
    ``rows`` − 1 that pushed their metrics and that Prometheus has fully scraped. Stopped when
    the test ends."""
    started: list = []

    def run(*args: str, rows: int = ROWS, skip: int = 0, training: bool = False, **env_extra: str) -> tuple:
        pushgateway = Pushgateway(tmp_path)
        started.append(pushgateway)
        env = base_env(kafka_bootstrap, topics, DETECTOR_REFERENCE_SIZE="5000",
                       PUSHGATEWAY_URL=pushgateway.url, **env_extra)
        detector = start_detector(env)
        prometheus = Prometheus(tmp_path, [detector.port], pushgateway)
        started.append(prometheus)
        if training:  # through the retrain service, which pushes the training and retraining figures
            trainer = [sys.executable, "-m", "trainer"]
            asked = subprocess.run([*trainer, "request", "--reason", "panels"], env=env, cwd=SERVICES_ROOT,
                                   capture_output=True, text=True, timeout=120)
            served = subprocess.run([*trainer, "serve", "--once", "--data", str(data_path), "--until",
                                     "2011-04-01", "--horizon-days", "14", "--publish", "false",
                                     "--models-dir", str(tmp_path / "trained")], env=env, cwd=SERVICES_ROOT,
                                    capture_output=True, text=True, timeout=600)
            assert asked.returncode == 0 and served.returncode == 0, asked.stderr + served.stderr
            assert "promoted" in served.stderr
        result = replay(env, "--data", str(data_path), "--skip", str(skip), "--limit", str(rows),
                        "--malformed", "300", *args)
        assert result.returncode == 0, result.stderr
        wait_for(lambda: prometheus.query(f"clv_events_processed_total >= {rows - skip}"), 300,
                 "Prometheus to scrape every processed event", interval=1)
        sent = rows - skip + 300
        wait_for(lambda: prometheus.query(f'clv_replay_messages{{outcome="delivered"}} == {sent}'), 60,
                 "Prometheus to scrape the replay's pushed metrics", interval=1)
        return detector, prometheus

    yield run
    for service in started:
        service.stop()


def test_every_panel_and_alert_query_returns_data_and_drift_alerts_fire(stack) -> None:
    _, prometheus = stack("--scenario", "scale", "--onset", "0.5", training=True)
    firing = wait_for(lambda: prometheus.query('ALERTS{alertname="DataDriftEpisode"}'), 60,
                      "DataDriftEpisode in ALERTS", interval=1)
    assert {a["metric"]["feature"] for a in firing} & {"quantity", "unit_price", "line_total"}
    assert {a["metric"]["severity"] for a in firing} == {"info"}  # data drift alone pages nobody
    empty = [e for e in panel_queries() if not prometheus.query(e)]
    assert empty == [], f"panel queries without data: {empty}"
    empty = [name for name, e in rule_queries().items() if not prometheus.query(e)]
    assert empty == [], f"alert expressions without data: {empty}"


def test_no_drift_alert_on_a_clean_shuffled_replay(stack) -> None:
    detector, prometheus = stack()
    wait_for(prometheus.evaluated(3), 60, "three rule evaluations on complete data", interval=0.5)
    alerts = {a["metric"]["alertname"] for a in prometheus.query("ALERTS")}
    assert not alerts & DRIFT_ALERTS
    assert detector.total("clv_drift_detected_total") == 0


def test_model_panels_show_scored_figures_and_scale_pages_on_model_impact(stack, june_model, kafka_bootstrap,
                                                                         topics) -> None:
    """With a model and a time-ordered replay (May 8 to July 19, 2011, a 14-day burn-in, scale
    from 2011-07-01): real model figures, and the model's error up by the margin pages a person
    (ModelErrorUp); before the onset no cutoff's error was (the clean slice pages nobody)."""
    onset = pd.Timestamp("2011-07-01")
    _, prometheus = stack("--order", "time", "--scenario", "scale", "--onset", str(JULY - SLICE_START),
                          rows=270_000, skip=SLICE_START, DETECTOR_MODELS_DIR=str(june_model),
                          DETECTOR_MODEL_BURN_IN_DAYS=str(SLICE_BURN_IN_DAYS))  # the onset counts from skip
    firing = wait_for(lambda: prometheus.query('ALERTS{alertname="ModelErrorUp",alertstate="firing"}'), 60,
                      "ModelErrorUp in ALERTS", interval=1)
    assert {a["metric"]["severity"] for a in firing} == {"page"}
    assert prometheus.query('ALERTS{alertname="ModelDriftDetected",severity="info"}')
    version = (june_model / "latest").read_text().strip()
    model_panels = [e for e in panel_queries() if "clv_model" in e]
    assert len(model_panels) >= 9
    empty = [e for e in model_panels if not [r for r in prometheus.query(e)
                                             if r["value"][1] not in ("NaN", "0")]]
    assert empty == [], f"model panels without figures: {empty}"
    shown = prometheus.query("clv_model_version_info == 1")
    assert [r["metric"]["version"] for r in shown] == [version]
    events = [orjson.loads(m.value()) for m in read_topic(kafka_bootstrap, topics["DRIFT_EVENTS_TOPIC"])]
    impact = [e for e in events if e["detector"] == "model" and e["kind"] == "alarm"
              and e["results"][0]["test"] in IMPACT_SIGNALS]
    assert impact, "no impact alarm on drift.events"
    for event in impact:  # labels seen cover [cutoff, window end): up only if that reaches the onset
        labelled = event["results"][0]["test"] not in LABEL_FREE_SIGNALS
        end = pd.Timestamp(event["window"]["event_time_end" if labelled else "event_time_start"])
        assert end > onset, event
        assert {m["population"] for m in event["model_error"]} == {"all", "active"}


def test_batch_jobs_show_in_prometheus_through_the_pushgateway(kafka_bootstrap, topics, data_path, tmp_path,
                                                              start_detector) -> None:
    """The trainer and the producer push their run's metrics; Prometheus scrapes them with
    their own labels (job, instance), and the two panels' queries answer with them."""
    pushgateway = Pushgateway(tmp_path)
    prometheus = Prometheus(tmp_path, [], pushgateway)
    try:
        env = base_env(kafka_bootstrap, topics, PUSHGATEWAY_URL=pushgateway.url)
        version = train(env, tmp_path / "models", "--data", str(data_path), "--until", "2011-04-01",
                        "--publish", "false")
        result = replay(env, "--data", str(data_path), "--limit", "2000", "--malformed", "20",
                        "--scenario", "scale", "--onset", "0.5")
        assert result.returncode == 0, result.stderr
        delivered = wait_for(lambda: prometheus.query('clv_replay_messages{outcome="delivered"} == 2020'), 60,
                             "the replay's metrics in Prometheus", interval=0.5)
        assert [r["metric"]["job"] for r in delivered] == ["driftstream_producer"]
        assert prometheus.query('clv_replay_info{scenario="scale",order="shuffled"} == 1')
        mae = wait_for(lambda: prometheus.query('clv_training_holdout{metric="mae"}'), 60,
                       "the training run's metrics in Prometheus", interval=0.5)
        assert mae[0]["metric"]["job"] == "driftstream_trainer" and float(mae[0]["value"][1]) > 0
        assert prometheus.query(f'clv_training_model_info{{version="{version}"}} == 1')
        assert float(prometheus.query("clv_training_success")[0]["value"][1]) == 1
        panels = [e for e in panel_queries() if "clv_training" in e or "clv_replay" in e]
        assert len(panels) >= 10 and [e for e in panels if not prometheus.query(e)] == []
        # A failed run is pushed too: bad input, nothing trained.
        failed = subprocess.run([sys.executable, "-m", "trainer", "--data", str(tmp_path / "missing.csv")],
                                env=env, cwd=SERVICES_ROOT, capture_output=True, text=True, timeout=120)
        assert failed.returncode == 2
        wait_for(lambda: prometheus.query("clv_training_success == 0"), 60, "the failed run", interval=0.5)
    finally:
        prometheus.stop()
        pushgateway.stop()
