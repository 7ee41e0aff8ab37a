"""With no broker: every command says so in one line, within its connect timeout, and exits
with the code its --help documents (no traceback, no storm of librdkafka lines)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from kafka_broker import free_port

ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], tmp_path: Path) -> tuple[subprocess.CompletedProcess, float, str]:
    address = f"127.0.0.1:{free_port()}"  # nothing listens there
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KAFKA_", "DETECTOR_", "PRODUCER_"))}
    env.update(KAFKA_BOOTSTRAP_SERVERS=address, KAFKA_CONNECT_TIMEOUT="3", DETECTOR_METRICS_PORT="0",
               DETECTOR_MODELS_DIR=str(tmp_path / "none"), DETECTOR_DATA_DIR=str(tmp_path / "state"))
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=300)
    return result, time.monotonic() - started, address


def one_line_about(result: subprocess.CompletedProcess, address: str) -> None:
    output = result.stdout + result.stderr
    assert f"cannot reach Kafka at {address}" in output
    assert "Traceback" not in output
    lines = output.splitlines()
    assert sum("cannot reach Kafka" in line for line in lines) == 1
    assert sum("Connection refused" in line or "rdkafka" in line for line in lines) <= 1  # no storm


def test_the_producer_says_nothing_was_produced(data_path, tmp_path) -> None:
    result, seconds, address = run(["producer", "replay", "--data", str(data_path), "--limit", "100",
                                    "--no-progress"], tmp_path)
    assert result.returncode == 1
    one_line_about(result, address)
    assert "nothing produced" in result.stderr
    assert seconds < 30


def test_the_detector_exits_with_the_reason(tmp_path) -> None:
    result, seconds, address = run(["detector"], tmp_path)
    assert result.returncode == 1
    one_line_about(result, address)
    assert seconds < 30


@pytest.mark.parametrize(("args", "code"), [((), 3), (("--publish", "false"), 0)])
def test_the_trainer_saves_the_model_and_says_it_was_not_announced(data_path, tmp_path, args, code) -> None:
    models = tmp_path / "models"
    result, _, address = run(["trainer", "--data", str(data_path), "--until", "2011-04-01", "--horizon-days",
                              "14", "--models-dir", str(models), *args], tmp_path)
    assert result.returncode == code, result.stderr
    assert "model " in result.stderr and (models / "latest").exists()  # training succeeded either way
    if code:
        one_line_about(result, address)
        assert "saved, but not announced" in result.stderr
    else:
        assert "Kafka" not in result.stderr  # offline use: the broker is never asked
