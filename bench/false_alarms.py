"""False alarms at scale: a stationary stream of 10M events through the monitors, offline.

The shuffled year, reshuffled pass after pass (seed 42, 43, ...), split by customer into 3
partitions as librdkafka does, each partition's DriftMonitor at the defaults kept across
passes (its reference: its first 20,000 events). Every alarm is false. Prints, per pass,
the events so far, the alarms, the pane evaluations and the largest statistic/threshold
seen per test (how close the null came), and at the end the runtime.

    python bench/false_alarms.py --events 10000000
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from detection import run

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.drift.monitor import DriftMonitor, MonitorConfig  # noqa: E402
from producer import data  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" /
                        "online_retail.parquet")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    frame = data.load_online_retail(args.data)
    config = MonitorConfig()
    monitors = [DriftMonitor(config) for _ in range(args.partitions)]
    events = alarms = evaluations = 0
    margin: dict[str, float] = {}
    start, k = time.perf_counter(), 0
    while events < args.events:
        rows = min(len(frame), args.events - events)
        order = np.random.default_rng(args.seed + k).permutation(len(frame))[:rows]
        shuffled = frame.iloc[order].reset_index(drop=True)
        result = run(shuffled, len(shuffled), args.partitions, config, monitors=monitors)
        events += rows
        alarms += result["alarms_before_onset"]
        evaluations += result["evaluations"]
        for test, value in result["null_margin"].items():
            margin[test] = max(margin.get(test, 0.0), value)
        k += 1
        print(f"pass {k}: {events:,} events, {alarms} alarms, {evaluations:,} evaluations, null margin "
              f"{margin}, {time.perf_counter() - start:,.0f} s", flush=True)
    print(f"{events:,} stationary events: {alarms} false alarms ({alarms / events * 1e6:.2f} per 1M; budget "
          f"{config.false_alarms_per_million:g}), {evaluations:,} pane evaluations, "
          f"{time.perf_counter() - start:,.0f} s", flush=True)


if __name__ == "__main__":
    main()
