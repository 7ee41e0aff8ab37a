"""The retrain loop through a real broker: requests, the trainer service, champion against
challenger, outcomes recorded once, promotions reaching every worker."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema
import orjson
import pytest
from confluent_kafka import Producer
from kafka_broker import wait_for
from services import JULY, ROOT, base_env, read_topic, replay

from schemas import artifacts, retrain
from schemas.topics import HEADER_ERROR_REASON, HEADER_SOURCE_OFFSET

pytestmark = pytest.mark.kafka
SCHEMAS = ROOT / "schemas"
OUTCOME_SCHEMA = orjson.loads((SCHEMAS / "retrain_outcome.schema.json").read_bytes())
REQUEST_SCHEMA = orjson.loads((SCHEMAS / "retrain_request.schema.json").read_bytes())


def serving_copy(june_model: Path, models: Path) -> str:
    """``models`` with the June model as its champion; its version."""
    version = artifacts.read_latest(june_model)
    models.mkdir(parents=True)
    (models / version).symlink_to(june_model / version)
    artifacts.write_latest(models, version)
    return version


def trainer(env: dict, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trainer", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)


def outcomes(bootstrap: str, topic: str) -> list[dict]:
    found = [orjson.loads(m.value()) for m in read_topic(bootstrap, topic)]
    for outcome in found:
        jsonschema.validate(outcome, OUTCOME_SCHEMA)
    return found


def test_a_challenger_trained_on_a_corrupted_window_is_rejected_and_bad_requests_go_to_the_dlq(
        kafka_bootstrap, topics, data_path, june_model, tmp_path) -> None:
    """The topic's rows before July carry outliers (a broken feed), July's are clean: the
    challenger learns the outliers, loses to the June champion on the first July cutoff, and
    is rejected; nothing is announced and `latest` stays. A malformed request is a dead letter."""
    env = base_env(kafka_bootstrap, topics)
    models = tmp_path / "models"
    champion = serving_copy(june_model, models)
    broken = replay(env, "--data", str(data_path), "--order", "time", "--limit", str(JULY),
                    "--scenario", "outliers", "--onset", "0")
    clean = replay(env, "--data", str(data_path), "--order", "time", "--skip", str(JULY),
                   "--limit", "270000")
    assert broken.returncode == 0 and clean.returncode == 0, broken.stderr + clean.stderr
    asked = trainer(env, "request", "--reason", "monthly retrain")
    assert asked.returncode == 0, asked.stderr
    request_id = asked.stdout.strip()
    bad = Producer({"bootstrap.servers": kafka_bootstrap})
    bad.produce(topics["RETRAIN_REQUESTS_TOPIC"], key=b"clv", value=b'{"reason": "no id"}')
    assert bad.flush(30) == 0
    served = trainer(env, "serve", "--once", "--models-dir", str(models), "--horizon-days", "14")
    assert served.returncode == 0, served.stderr
    [outcome] = outcomes(kafka_bootstrap, topics["RETRAIN_OUTCOMES_TOPIC"])
    assert (outcome["request_id"], outcome["outcome"], outcome["reason"]) == (request_id, "rejected",
                                                                              "monthly retrain")
    assert outcome["champion_version"] == champion
    assert outcome["challenger_mae"] > outcome["champion_mae"] > 0
    assert outcome["cutoff"] == "2011-07-05" and outcome["window"]["rows"] > 0
    assert artifacts.read_latest(models) == champion
    challenger = orjson.loads((models / outcome["challenger_version"] / artifacts.METADATA).read_bytes())
    assert challenger["retrain"]["outcome"] == "rejected"
    assert read_topic(kafka_bootstrap, topics["MODEL_UPDATES_TOPIC"]) == []
    [letter] = read_topic(kafka_bootstrap, topics["DLQ_TOPIC"])
    headers = dict(letter.headers())
    assert headers[HEADER_ERROR_REASON] == b"invalid_request"
    assert (letter.value(), headers[HEADER_SOURCE_OFFSET]) == (b'{"reason": "no id"}', b"1")
    again = trainer(env, "serve", "--once", "--models-dir", str(models))  # committed: nothing to answer
    assert again.returncode == 0 and "0 request(s) answered" in again.stderr
    [request] = [orjson.loads(m.value()) for m in read_topic(kafka_bootstrap, topics[
        "RETRAIN_REQUESTS_TOPIC"]) if m.offset() == 0]
    jsonschema.validate(request, REQUEST_SCHEMA)


def test_policy_auto_asks_the_trainer_which_survives_a_kill_promotes_once_and_every_worker_swaps(
        kafka_bootstrap, topics, data_path, june_model, tmp_path, start_detector,
        background) -> None:
    """Scale from mid-January: the workers' error impact turns material and (policy auto) they ask
    for retraining. The trainer is SIGKILLed while it trains; restarted, it trains the same
    request again, the challenger (trained on scaled months) beats the June champion, and it is
    promoted once: one announcement, each request answered once, every worker on the new
    version (each with its own model directory)."""
    rows = 180_000
    env = base_env(kafka_bootstrap, topics, DETECTOR_RETRAIN_POLICY="auto")
    workers = []
    for name in ("a", "b"):
        serving_copy(june_model, tmp_path / name / "models")
        workers.append(start_detector(env, tmp_path / name))
    drifted = replay(env, "--data", str(data_path), "--order", "time", "--limit", str(rows),
                     "--scenario", "scale", "--onset", "60000")
    assert drifted.returncode == 0, drifted.stderr
    wait_for(lambda: sum(w.state_events() for w in workers) >= rows, 600, "every event in a state",
             interval=1)
    assert sum(w.value("clv_retrain_requests_sent_total") for w in workers) >= 1
    assert max(w.value("clv_retrain_recommended") for w in workers) == 1
    requests = [orjson.loads(m.value()) for m in read_topic(kafka_bootstrap,
                                                            topics["RETRAIN_REQUESTS_TOPIC"])]
    assert requests and {r["requested_by"] for r in requests} == {"policy"}
    for request in requests:
        jsonschema.validate(request, REQUEST_SCHEMA)
    models = tmp_path / "trainer"
    champion = serving_copy(june_model, models)
    log = tmp_path / "trainer.log"
    args = [sys.executable, "-m", "trainer", "serve", "--models-dir", str(models)]
    first = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
    try:
        wait_for(lambda: "• fitting" in log.read_text() or first.poll() is not None, 300,
                 "the trainer to start training", interval=0.2)
        assert first.poll() is None, log.read_text()
    finally:
        first.kill()
        first.wait(30)
    assert read_topic(kafka_bootstrap, topics["RETRAIN_OUTCOMES_TOPIC"]) == []
    restarted = trainer(env, "serve", "--once", "--models-dir", str(models))
    assert restarted.returncode == 0, restarted.stderr
    answered = outcomes(kafka_bootstrap, topics["RETRAIN_OUTCOMES_TOPIC"])
    assert sorted(o["request_id"] for o in answered) == sorted(r["id"] for r in requests)
    promoted = [o for o in answered if o["outcome"] == "promoted"]
    assert [o["request_id"] for o in promoted] == [requests[0]["id"]]
    assert {o["outcome"] for o in answered[1:]} <= {"superseded"}
    [winner] = promoted
    assert winner["champion_version"] == champion
    assert winner["challenger_mae"] < winner["champion_mae"] * (1 - 0.02)
    version = winner["challenger_version"]
    assert artifacts.read_latest(models) == version
    announced = [orjson.loads(m.value())["version"] for m in read_topic(
        kafka_bootstrap, topics["MODEL_UPDATES_TOPIC"])]
    assert announced == [version]
    for worker in workers:
        wait_for(lambda w=worker: w.value(f'clv_model_version_info{{version="{version}"}}') == 1, 120,
                 f"every worker to use {version}", interval=0.5)
        assert worker.value(f'clv_reference_info{{source="{version}"}}') == 1  # the reference follows
        assert worker.alive
    assert all((tmp_path / name / "models" / version).is_dir() for name in ("a", "b"))


def test_a_trainer_killed_between_deciding_and_recording_finishes_without_training_again(
        kafka_bootstrap, topics, june_model, tmp_path) -> None:
    """A challenger's metadata holds its promotion, but the trainer died before retrain.outcomes
    had it (and before `latest` moved): restarted, the service records that outcome, moves
    `latest` and announces the version, without training (there is nothing to train on here)."""
    env = base_env(kafka_bootstrap, topics)
    models = tmp_path / "models"
    champion = serving_copy(june_model, models)
    asked = trainer(env, "request", "--reason", "weekly")
    assert asked.returncode == 0, asked.stderr
    request_id = asked.stdout.strip()
    challenger = "29990101T000000000000Z"
    shutil.copytree(june_model / champion, models / challenger)
    metadata = orjson.loads((models / challenger / artifacts.METADATA).read_bytes())
    decided = retrain.RetrainOutcome(request_id=request_id, outcome="promoted", reason="weekly",
                                     requested_by="person", detail="challenger MAE 90.0 beats 100.0",
                                     finished_at="2026-11-30T10:00:00+00:00", seconds=12.5,
                                     champion_version=champion, challenger_version=challenger,
                                     champion_mae=100.0, challenger_mae=90.0)
    metadata.update(version=challenger, retrain=retrain.to_builtins(decided))
    artifacts.atomic_write(models / challenger / artifacts.METADATA, orjson.dumps(metadata))
    served = trainer(env, "serve", "--once", "--models-dir", str(models))
    assert served.returncode == 0, served.stderr
    assert "not trained again" in served.stderr and "fitting" not in served.stderr
    [outcome] = outcomes(kafka_bootstrap, topics["RETRAIN_OUTCOMES_TOPIC"])
    assert outcome == retrain.to_builtins(decided)
    assert artifacts.read_latest(models) == challenger
    assert [orjson.loads(m.value())["version"] for m in read_topic(
        kafka_bootstrap, topics["MODEL_UPDATES_TOPIC"])] == [challenger]
