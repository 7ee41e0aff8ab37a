"""A secured cluster: SASL_SSL with a client certificate, for every client of every service."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import train
from kafka_broker import wait_for
from secure_kafka import PASSWORD, SecureKafkaBroker
from services import ROOT, base_env, replay

pytestmark = pytest.mark.kafka
WRONG = "not-the-password"  # noqa: S105 (a test's wrong password)


@pytest.fixture(scope="module")
def secure_broker():
    broker = SecureKafkaBroker().start()
    yield broker
    broker.stop()


def test_every_service_works_over_sasl_ssl(secure_broker, topics, data_path, start_detector,
                                           tmp_path) -> None:
    """SCRAM-SHA-512 over TLS, the broker asking for a client certificate: the detector (Faust's
    aiokafka consumer, the pipeline's librdkafka clients), the producer and the trainer."""
    env = base_env(secure_broker.secure_bootstrap, topics, DETECTOR_REFERENCE_SIZE="2000",
                   **secure_broker.client_env())
    detector = start_detector(env)
    result = replay(env, "--data", str(data_path), "--limit", "5000")
    assert result.returncode == 0, result.stderr
    detector.wait_processed(5_000)
    version = train(env, tmp_path / "models", "--data", str(data_path), "--until", "2011-04-01")
    wait_for(lambda: detector.value(f'clv_model_version_info{{version="{version}"}}') == 1, 120,
             f"the worker to use {version}", interval=0.5)
    plain = replay({**env, **secure_broker.client_env(mechanism="PLAIN")}, "--data", str(data_path),
                   "--limit", "100")
    assert plain.returncode == 0, plain.stderr
    detector.wait_processed(5_100)
    assert PASSWORD not in detector.log.read_text()  # secrets are never logged


def test_a_wrong_password_is_one_clear_error(secure_broker, topics, data_path, tmp_path) -> None:
    env = base_env(secure_broker.secure_bootstrap, topics, KAFKA_CONNECT_TIMEOUT="5",
                   DETECTOR_METRICS_PORT="0", DETECTOR_DATA_DIR=str(tmp_path / "state"),
                   DETECTOR_MODELS_DIR=str(tmp_path / "models"),
                   **secure_broker.client_env(password=WRONG))
    producer = ["producer", "replay", "--data", str(data_path), "--limit", "10", "--no-progress"]
    for args, code in ((producer, 1), (["detector"], 1)):
        result = subprocess.run([sys.executable, "-m", *args], env=env, cwd=ROOT, capture_output=True,
                                text=True, timeout=120)
        output = result.stdout + result.stderr
        assert result.returncode == code, output
        lines = [line for line in output.splitlines() if "Authentication failed" in line]
        assert len(lines) == 1 and "cannot reach Kafka" in lines[0], output
        assert "Traceback" not in output and WRONG not in output
