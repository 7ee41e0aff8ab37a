"""Delays of the relation scenarios over several shuffles: one seed's delay is one draw.

For each seed, the year is shuffled with that seed, the first --rows rows kept, the scenario
applied from --onset (as bench/detection.py: per-partition monitors, partitioned as
librdkafka does), and the first alarm after the onset recorded; the median over the seeds is
what a user can expect. Segment window and step can be varied (DETECTOR_SEGMENT_WINDOW/STEP).

    python bench/relation_delays.py --scenario swap-prices --seeds 6
    python bench/relation_delays.py --scenario swap-prices --seeds 6 --window 40 --step 10
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from detection import run

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.drift.monitor import MonitorConfig  # noqa: E402
from producer import data, scenarios  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/online_retail.parquet"))
    parser.add_argument("--scenario", default="swap-prices")
    parser.add_argument("--size", type=float, default=None)
    parser.add_argument("--seeds", type=int, default=6, help="seeds 1..N")
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--onset", type=int, default=100_000)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--window", type=int, default=None)
    parser.add_argument("--step", type=int, default=None)
    args = parser.parse_args()
    frame = data.load_online_retail(args.data)
    overrides = {k: v for k, v in (("segment_window", args.window), ("segment_step", args.step)) if v}
    config = MonitorConfig(**overrides)
    delays, false = [], 0
    for seed in range(1, args.seeds + 1):
        shuffled = frame.iloc[np.random.default_rng(seed).permutation(len(frame))].reset_index(drop=True)
        drifted, onset = scenarios.apply(shuffled.iloc[:args.rows], scenarios.Scenario(
            args.scenario, args.onset, size=args.size), seed)
        result = run(drifted, onset, args.partitions, config)
        first = result["first_alarm_after_onset"]
        false += result["alarms_before_onset"]
        delays.append(first[0] if first else None)
        print(f"seed {seed}: {result['alarms_before_onset']} alarms before the onset, first after it {first}",
              flush=True)
    caught = [d for d in delays if d is not None]
    print(f"{args.scenario} (window {config.segment_window}, step {config.segment_step}): caught in "
          f"{len(caught)} of {len(delays)} seeds, median delay "
          f"{np.median(caught) if caught else float('nan'):,.0f} events (range {min(caught, default=0):,}–"
          f"{max(caught, default=0):,}); {false} alarms before an onset")


if __name__ == "__main__":
    main()
