"""How long a worker takes to start: from `python -m detector` to /metrics answering (ready),
to owning a partition, and how long a clean stop takes. One real broker, a 3-partition topic,
no model; --runs workers one after another (the first pays the topic creation).

Every worker restart pays this: a chaos run's recovery after a kill, a rolling update.

    python bench/startup.py --runs 5
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from fleet import Detector, KafkaBroker, environment, wait_for


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--runs", type=int, default=5, help="workers started, one after another")
    args = parser.parse_args()
    broker = KafkaBroker().start()
    rows = []
    try:
        env = environment(broker, TOPIC_PARTITIONS="3", DETECTOR_APP_ID="bench-startup")
        for _ in range(args.runs):
            worker = Detector(env, Path(tempfile.mkdtemp(prefix="driftstream-startup-")))
            began = time.monotonic()
            worker.start()
            ready = time.monotonic() - began
            wait_for(lambda w=worker: w.value("clv_partitions_owned") >= 1, 120, "a partition owned",
                     interval=0.1)
            owns = time.monotonic() - began
            stopping = time.monotonic()
            worker.stop()
            rows.append((ready, owns, time.monotonic() - stopping))
            print(f"ready {ready:4.1f} s, owns a partition {owns:4.1f} s, stopped in {rows[-1][2]:4.1f} s",
                  flush=True)
    finally:
        broker.stop()
    medians = [statistics.median(column) for column in zip(*rows, strict=True)]
    print(f"median: ready {medians[0]:.1f} s, owns a partition {medians[1]:.1f} s, "
          f"stopped in {medians[2]:.1f} s")


if __name__ == "__main__":
    main()
