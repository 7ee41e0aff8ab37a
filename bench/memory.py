"""Memory over several passes of the year: bounded by the live population, not the stream.

One real broker, one detector worker with the tests' CLV model (rows before 2011-06-01,
H = 14 days), the year replayed --passes times in time order (each pass shifted forward by
the data's span, so event time keeps increasing: the same customers come back every year).
After each pass has been processed, the resident memory (RSS) of the worker (Faust)
process and of its pipeline process, the customers and pending predictions held, and the
snapshot sizes are printed.

With --separate-runs the passes are separate `producer replay` runs of the same rows, one
after another, as a user replaying the year again would do: event time does not advance
between them (a shuffled replay's event time does not advance inside a pass either).

    python bench/memory.py --passes 4
    python bench/memory.py --passes 4 --order shuffled --no-model --separate-runs
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd
from fleet import DATA, ROOT, Detector, KafkaBroker, environment, train, wait_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--passes", type=int, default=4)
    parser.add_argument("--order", default="time", choices=["time", "shuffled"])
    parser.add_argument("--no-model", action="store_true")
    parser.add_argument("--separate-runs", action="store_true", help="each pass its own producer run, "
                        "same rows, same event times (default: one run, later passes shifted forward)")
    args = parser.parse_args()
    rows = len(pd.read_parquet(args.data, columns=["Quantity"]))
    broker = KafkaBroker().start()
    workdir = Path(tempfile.mkdtemp(prefix="driftstream-memory-"))
    env = environment(broker, TRANSACTIONS_TOPIC="bench.memory", DETECTOR_APP_ID="memory",
                      DETECTOR_MODELS_DIR=str(workdir / "models"))
    try:
        if not args.no_model:
            train(env, args.data, workdir / "models", "--publish", "false")
        worker = Detector(env, workdir / "worker").start()
        replay = [sys.executable, "-m", "producer", "replay", "--data", str(args.data), "--order", args.order,
                  "--no-progress"]
        runs = 1 if not args.separate_runs else args.passes
        producer = subprocess.Popen([*replay, "--passes", str(args.passes // runs)], env=env, cwd=ROOT,
                                    stdout=subprocess.DEVNULL)
        first = None
        for k in range(1, args.passes + 1):
            if args.separate_runs and k > 1:
                assert producer.wait(600) == 0, "the replay failed"
                producer = subprocess.Popen([*replay, "--passes", "1"], env=env, cwd=ROOT,
                                            stdout=subprocess.DEVNULL)
            wait_for(lambda n=k: worker.state_events() >= n * rows, 3600, f"pass {k}", 1.0)
            faust_mb, pipeline_mb = worker.rss_mb()
            first = first or (faust_mb, pipeline_mb)
            metrics = worker.scrape()
            kb = sum(v / 1024 for key, v in metrics.items() if key.startswith("clv_state_snapshot_bytes{"))
            print(f"after pass {k} ({k * rows:,} events): worker {faust_mb:.0f} MB "
                  f"({faust_mb / first[0] - 1:+.1%}), pipeline {pipeline_mb:.0f} MB "
                  f"({pipeline_mb / first[1] - 1:+.1%}); {metrics['clv_model_customers']:,.0f} customers, "
                  f"{metrics['clv_model_pending_predictions']:,.0f} pending predictions, snapshots "
                  f"{kb:,.0f} KiB", flush=True)
        producer.wait(60)
        worker.stop()
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
