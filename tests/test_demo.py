"""The demo command, as a smoke test on the embedded Tansu broker (no Kafka, no Docker)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from kafka_broker import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_demo_runs_and_catches_the_drift(data_path, tmp_path) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("KAFKA_", "DETECTOR_", "PRODUCER_"))}
    env["DETECTOR_REPORTS_DIR"] = str(tmp_path / "reports")
    env["DETECTOR_MODELS_DIR"] = str(tmp_path / "models")  # empty: the demo trains one first
    result = subprocess.run(
        [sys.executable, "-m", "demo", "--data", str(data_path), "--limit", "30000",
         "--reference-size", "3000", "--metrics-port", str(free_port()), "--no-live"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    output = " ".join(result.stdout.split())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "embedded Tansu broker" in output
    assert "holdout MAE" in output  # the model it trained first
    assert (tmp_path / "models" / "latest").exists()
    assert "alarms before onset (false): 0" in output
    assert "first alarm after onset:" in output
    # The time-ordered phase: the model's figures are real, not 0 or NaN.
    made, scored = re.search(r"([\d,]+) predictions at weekly cutoffs, ([\d,]+) scored", output).groups()
    assert int(made.replace(",", "")) > 0 and int(scored.replace(",", "")) > 0
    mae = float(re.search(r"rolling MAE ([\d.]+)", output).group(1))
    assert mae > 0
    # ... read as a person would: episodes with their impact, estimated against realised error,
    # and no page while the model beats its holdout.
    alarms, episodes = re.search(r"data: ([\d,]+) alarms in ([\d,]+) drift episodes", output).groups()
    assert int(alarms.replace(",", "")) > int(episodes.replace(",", "")) > 0
    assert "model error per cutoff (all customers): estimated before labels, realised after" in output
    assert "pages a person would have received: 0" in output
    assert (tmp_path / "reports" / "latest_drift_report.html").exists()
    assert "where to look" in output
