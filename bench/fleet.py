"""What the benchmarks share: the tests' real broker and detector processes, data, commands.

Benchmarks run the same real parts as the tests: Apache Kafka from the Maven jars
(tests/kafka_broker.py) and `python -m detector` processes (tests/services.py).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from kafka_broker import KafkaBroker, wait_for  # noqa: E402
from services import Detector  # noqa: E402

PY = sys.executable
DATA = ROOT.parent / "shared" / "data" / "online_retail.parquet"
__all__ = ["DATA", "ROOT", "Detector", "KafkaBroker", "environment", "fleet_sum", "replay", "train",
           "wait_for"]


def environment(broker: KafkaBroker, **extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DETECTOR_", "PRODUCER_", "TRAINER_"))}
    return dict(env, KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, PYTHONPATH=str(ROOT), **extra)


def replay(env: dict, data: Path, topic: str, *args: str) -> None:
    subprocess.run([PY, "-m", "producer", "replay", "--data", str(data), "--transactions-topic", topic,
                    "--no-progress", *args], env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def train(env: dict, data: Path, models: Path, *args: str) -> None:
    """The model of the tests: rows before 2011-06-01, H = 14 days."""
    subprocess.run([PY, "-m", "trainer", "--data", str(data), "--models-dir", str(models),
                    "--until", "2011-06-01", "--horizon-days", "14", *args],
                   env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def fleet_sum(workers: list[Detector], name: str) -> float:
    """A metric summed over the live workers (a worker that does not answer counts 0)."""
    total = 0.0
    for worker in workers:
        if worker.alive:
            try:
                total += worker.sum(name)
            except OSError:
                pass
    return total
