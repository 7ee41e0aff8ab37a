"""Fixtures: one real Apache Kafka broker per session, unique topics and groups per test."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kafka_broker import KafkaBroker
from services import Detector
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DRIFTSTREAM_DATA", ROOT.parent / "shared" / "data" / "online_retail.parquet"))


# The longest test files first (a fresh-clone CI run's durations, bench/RESULTS.md): two test
# processes each take a file at a time (make test), so the long ones start early and the short
# ones fill the end. pytest-xdist's own order (most tests first) put the one-test chaos and
# demo files last, each finishing alone.
LONGEST_FIRST = ("test_kafka_scale.py", "test_chaos.py", "test_prometheus_live.py", "test_demo.py",
                 "test_kafka_retrain.py", "test_kafka_model.py", "test_kafka_detection.py",
                 "test_kafka_faults.py", "test_model_tracking.py", "test_kafka_exactly_once.py",
                 "test_trainer.py")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: a file's own order kept


@pytest.fixture(scope="session")
def data_path() -> Path:
    if not DATA.exists():
        pytest.fail(f"the Online Retail data set is missing at {DATA} (set DRIFTSTREAM_DATA)")
    return DATA


@pytest.fixture(scope="session", autouse=True)
def one_openmp_thread():
    """The tests' own predictions (the offline counts they compare with) can run while workers
    are busy: one OpenMP thread, as in the pipeline process, not a pool spinning on their cores."""
    with threadpool_limits(1):
        yield


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """An external broker from KAFKA_BOOTSTRAP_SERVERS, else a fresh KRaft broker."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    broker = KafkaBroker().start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def topics() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {
        "TRANSACTIONS_TOPIC": f"tx-{suffix}",
        "DLQ_TOPIC": f"dlq-{suffix}",
        "DRIFT_EVENTS_TOPIC": f"events-{suffix}",
        "MODEL_UPDATES_TOPIC": f"models-{suffix}",
        "RETRAIN_REQUESTS_TOPIC": f"requests-{suffix}",
        "RETRAIN_OUTCOMES_TOPIC": f"outcomes-{suffix}",
        "DETECTOR_APP_ID": f"detector-{suffix}",
    }


@pytest.fixture
def start_detector(tmp_path):
    """Start `python -m detector` processes (``start(env, workdir=tmp_path)``); all are
    stopped when the test ends."""
    started: list[Detector] = []

    def start(env: dict[str, str], workdir: Path | None = None) -> Detector:
        detector = Detector(env, workdir or tmp_path)
        started.append(detector)
        return detector.start()

    yield start
    for detector in started:
        detector.stop()


@pytest.fixture
def background(tmp_path):
    """Start a command in the background (``background(args, env)``); killed when the test ends."""
    started: list[subprocess.Popen] = []

    def start(args: list[str], env: dict[str, str]) -> subprocess.Popen:
        process = subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                   stderr=(tmp_path / f"background-{len(started)}.log").open("wb"))
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait(30)


MODEL_HORIZON = "14"


def train(env: dict, models: Path, *args: str) -> str:
    """`python -m trainer` with H = 14 days into ``models``; the new version."""
    result = subprocess.run([sys.executable, "-m", "trainer", "--models-dir", str(models),
                             "--horizon-days", MODEL_HORIZON, *args], env=env, cwd=ROOT,
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr
    return (models / "latest").read_text().strip()


@pytest.fixture(scope="session")
def june_model(data_path, tmp_path_factory) -> Path:
    """A models dir with one version trained on the rows before 2011-06-01 (H = 14 days)."""
    models = tmp_path_factory.mktemp("models")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRAINER_")}
    train(env, models, "--data", str(data_path), "--until", "2011-06-01", "--publish", "false")
    return models
