"""The model loop end to end on a real broker: error figures, model alarms, swap, restart.

A model is trained (the trainer's CLI) on the months before a cutoff with H = 14 days; the
year is replayed in time order, so the detector predicts at weekly event-time cutoffs and
scores each prediction 14 event-time days later. Counts are exact: the offline ModelTracker
on the same rows, split by partition as librdkafka splits them, says how many predictions
are made and scored.
"""

from __future__ import annotations

import math
import subprocess
import sys

import orjson
import pytest
from conftest import train
from kafka_broker import wait_for
from services import (
    JULY,
    ROOT,
    SLICE_BURN_IN_DAYS,
    SLICE_END,
    SLICE_START,
    base_env,
    expected_model_counts,
    read_topic,
    replay,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def model_events(bootstrap: str, topic: str) -> list[dict]:
    return [e for e in (orjson.loads(m.value()) for m in read_topic(bootstrap, topic))
            if e["detector"] == "model"]


# Clean from the slice's start to July, outliers after.
SKIP, ONSET, LIMIT, BURN_IN_DAYS = SLICE_START, JULY, SLICE_END, SLICE_BURN_IN_DAYS


def test_model_errors_are_scored_and_outliers_raise_a_model_alarm(
        kafka_bootstrap, topics, data_path, june_model, start_detector) -> None:
    # One replay: clean time-ordered rows up to the onset (no error-range alarm may come from
    # them), outliers after it (they must raise one).
    env = base_env(kafka_bootstrap, topics, DETECTOR_MODELS_DIR=str(june_model),
                   DETECTOR_MODEL_BURN_IN_DAYS=str(BURN_IN_DAYS))
    detector = start_detector(env)
    result = replay(env, "--data", str(data_path), "--order", "time", "--skip", str(SKIP),
                    "--limit", str(LIMIT), "--scenario", "outliers",
                    "--onset", str(ONSET - SKIP))  # the onset and the alarms' seq count from SKIP
    assert result.returncode == 0, result.stderr
    detector.wait_processed(LIMIT - SKIP)
    predictions, scored = expected_model_counts(data_path, june_model, LIMIT, skip=SKIP,
                                                burn_in_days=BURN_IN_DAYS)
    metrics = detector.scrape()
    assert metrics["clv_model_predictions_total"] == predictions > 0
    assert metrics["clv_model_scored_total"] == scored > 0
    figures = [metrics[f'clv_model_performance{{metric="{m}"}}']
               for m in ("mae", "rmse", "naive_mae", "holdout_mae", "baseline_mae")]
    assert all(math.isfinite(v) for v in figures)
    events = model_events(kafka_bootstrap, topics["DRIFT_EVENTS_TOPIC"])
    range_alarms = [e for e in events if e["kind"] == "alarm" and e["results"][0]["test"] == "out_of_range"]
    assert [e for e in range_alarms if e["trigger"]["seq"] < ONSET - SKIP] == []
    counted = sum(v for k, v in metrics.items() if k.startswith(
        'clv_drift_detected_total{feature="error",kind="model",') and k.endswith('test="out_of_range"}'))
    assert counted == len(range_alarms) > 0


def test_a_retrained_model_is_picked_up_without_restart(kafka_bootstrap, topics, data_path,
                                                        june_model, tmp_path, start_detector) -> None:
    models = tmp_path / "models"
    models.mkdir()
    first = (june_model / "latest").read_text().strip()
    (models / first).symlink_to(june_model / first)
    (models / "latest").write_text(first + "\n")
    env = base_env(kafka_bootstrap, topics, DETECTOR_MODELS_DIR=str(models))
    detector = start_detector(env)
    drifted = ("--data", str(data_path), "--order", "shuffled", "--limit", "75000",
               "--scenario", "outliers", "--onset", "0")
    assert replay(env, *drifted).returncode == 0
    detector.wait_processed(75_000)
    assert detector.value(f'clv_model_version_info{{version="{first}"}}') == 1
    data_alarms = detector.total('clv_drift_detected_total{feature="quantity",kind="data"')
    assert data_alarms > 0  # outliers against the clean model's profile
    second = train(env, models, "--from-topic", "true")  # on the drifted stream, announced
    assert second > first
    wait_for(lambda: detector.value(f'clv_model_version_info{{version="{second}"}}') == 1, 120,
             f"the worker to use {second}", interval=0.5)
    assert detector.value(f'clv_model_version_info{{version="{first}"}}') == 0
    assert detector.value(f'clv_reference_info{{source="{second}"}}') == 1
    assert replay(env, *drifted).returncode == 0  # a stream like the new training data
    detector.wait_processed(150_000)
    assert detector.alive  # swapped, not restarted
    events = [orjson.loads(m.value()) for m in read_topic(kafka_bootstrap, topics["DRIFT_EVENTS_TOPIC"])]
    after = [e for e in events if e["detector"] == "data" and e["model_version"] == second]
    assert after and [e for e in after if e["kind"] == "alarm"] == []


def test_a_broken_model_directory_is_a_clear_error(kafka_bootstrap, topics, tmp_path) -> None:
    models = tmp_path / "models"
    (models / "v1").mkdir(parents=True)
    (models / "latest").write_text("v1\n")
    env = base_env(kafka_bootstrap, topics, DETECTOR_MODELS_DIR=str(models),
                   DETECTOR_METRICS_PORT="0", DETECTOR_DATA_DIR=str(tmp_path / "state"))
    result = subprocess.run([sys.executable, "-m", "detector"], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 1
    assert "cannot load the model in" in result.stderr and "Traceback" not in result.stderr
