"""Detector throughput against a bare Faust agent, and the full replay's wall time.

In one run, on one real Apache Kafka broker (started here, as in the tests):
0. with model tracking on (the default), a CLV model is trained first (rows before
   2011-06-01, H = 14 days) and the replays are in time order, so the detector keeps
   customer state, predicts at weekly cutoffs and scores predictions throughout;
1. the full data set is replayed once onto a topic;
2. a bare Faust agent (bench/bare_agent.py, same Faust settings and batching, no work)
   reads it all: events/s from its first to its last event;
3. the detector (python -m detector, fresh consumer group) reads the same topic:
   events/s from its first processed event (scraped /metrics) to the last;
4. end to end: a fresh topic, the detector started, then the producer replays every row;
   wall time from the producer's start until the detector has processed them all.
Steps 2 and 3 alternate --repeat times. Ratio = detector events/s / bare events/s.

    python bench/throughput.py --data ../shared/data/online_retail.parquet
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from kafka_broker import KafkaBroker, free_port, wait_for  # noqa: E402

from detector.metrics import scrape  # noqa: E402

PY = sys.executable


def processed(port: int) -> float:
    return scrape(f"http://127.0.0.1:{port}/metrics", timeout=2).get("clv_events_processed_total", 0.0)


def replay(env: dict, data: Path, topic: str) -> None:
    subprocess.run([PY, "-m", "producer", "replay", "--data", str(data), "--topic", topic,
                    "--order", env.get("PRODUCER_ORDER", "shuffled"), "--no-progress"],
                   env=env, check=True, cwd=ROOT)


def train(env: dict, data: Path, models: Path) -> None:
    subprocess.run([PY, "-m", "trainer", "--data", str(data), "--models-dir", str(models),
                    "--until", "2011-06-01", "--horizon-days", "14", "--publish", "false"],
                   env=env, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def start_detector(env: dict, topic: str, group: str, workdir: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    denv = dict(env, TRANSACTIONS_TOPIC=topic, DETECTOR_APP_ID=group, DETECTOR_METRICS_PORT=str(port),
                DETECTOR_DATA_DIR=str(workdir / group), DETECTOR_REPORTS_DIR=str(workdir / "reports"),
                DETECTOR_LOG_LEVEL="warning")
    log = (workdir / f"{group}.log").open("wb")
    proc = subprocess.Popen([PY, "-m", "detector"], env=denv, cwd=ROOT, stdout=log,
                            stderr=subprocess.STDOUT)
    return proc, port


def detector_rate(env: dict, topic: str, total: int, group: str, workdir: Path) -> float:
    proc, port = start_detector(env, topic, group, workdir)
    try:
        first = wait_for(lambda: processed(port) > 0 and time.time(), 120, "first event", 0.1)
        wait_for(lambda: processed(port) >= total, 900, "all events", 0.5)
        return total / (time.time() - first)
    finally:
        proc.terminate()
        proc.wait(60)


def bare_rate(env: dict, topic: str, total: int, group: str, workdir: Path) -> float:
    out = workdir / f"{group}.txt"
    subprocess.run([PY, str(ROOT / "bench" / "bare_agent.py"), "--topic", topic, "--expect", str(total),
                    "--group", group, "--out", str(out)], env=env, cwd=ROOT, check=True, timeout=900,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first, last, n = out.read_text().split()
    return int(n) / (float(last) - float(first))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    default_data = ROOT.parent / "shared" / "data" / "online_retail.parquet"
    parser.add_argument("--data", type=Path, default=default_data)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--no-model", action="store_true", help="no model: warm-up references, "
                        "shuffled replay (data drift only)")
    args = parser.parse_args()
    import pandas as pd

    total = len(pd.read_parquet(args.data, columns=["Quantity"]))
    broker = KafkaBroker().start()
    workdir = Path(tempfile.mkdtemp(prefix="driftstream-bench-"))
    env = dict(os.environ, KAFKA_BOOTSTRAP_SERVERS=broker.bootstrap, PYTHONPATH=str(ROOT),
               DETECTOR_MODELS_DIR=str(workdir / "models"))
    if not args.no_model:
        train(env, args.data, workdir / "models")
        env["PRODUCER_ORDER"] = "time"
    try:
        replay(env, args.data, "bench.filled")
        for i in range(args.repeat):
            bare = bare_rate(env, "bench.filled", total, f"bare-{i}", workdir)
            det = detector_rate(env, "bench.filled", total, f"detector-{i}", workdir)
            print(f"run {i}: bare agent {bare:,.0f} events/s, detector {det:,.0f} events/s, "
                  f"ratio {det / bare:.2f}", flush=True)
        proc, port = start_detector(env, "bench.e2e", "detector-e2e", workdir)
        try:
            wait_for(lambda: processed(port) == 0, 120, "detector up", 0.1)
            started = time.time()
            replay(env, args.data, "bench.e2e")
            produced = time.time() - started
            wait_for(lambda: processed(port) >= total, 900, "all events", 0.5)
            print(f"end to end: {total:,} rows replayed in {produced:.1f} s, all processed by the "
                  f"detector {time.time() - started:.1f} s after the replay started", flush=True)
            metrics = scrape(f"http://127.0.0.1:{port}/metrics", timeout=2)
            print(f"model tracking: {metrics['clv_model_predictions_total']:,.0f} predictions, "
                  f"{metrics['clv_model_scored_total']:,.0f} scored", flush=True)
        finally:
            proc.terminate()
            proc.wait(60)
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
