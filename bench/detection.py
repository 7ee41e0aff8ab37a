"""Detection quality offline: false alarms and delays per scenario, on the real data.

Replays the data set through per-partition DriftMonitors exactly as the worker splits it
(librdkafka's default partitioner: CRC32 of the key), interleaving partitions in chunks as
a consumer does, and reports, per scenario: alarms before the onset (all false on a
shuffled replay), the first alarm after it (events since onset, all partitions), and the
largest statistic/threshold seen on clean data per test (the null margin); and the first
alarm of the joint tests (two-way histograms) after the onset, with the cell it names.

    python bench/detection.py --data ../shared/data/online_retail.parquet
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.drift.monitor import DriftMonitor, MonitorConfig  # noqa: E402
from producer import data, scenarios  # noqa: E402
from producer.replay import partitions_of  # noqa: E402
from schemas import features  # noqa: E402


def run(frame, onset: int, n_partitions: int, config: MonitorConfig, chunk: int = 100,
        monitors: list[DriftMonitor] | None = None) -> dict:
    """``monitors``: carry on with these (one per partition) instead of fresh ones."""
    cols = features.from_frame(frame)
    parts = partitions_of(frame, n_partitions)
    index = [np.flatnonzero(parts == p) for p in range(n_partitions)]
    monitors = monitors if monitors is not None else [DriftMonitor(config) for _ in range(n_partitions)]
    pos = [0] * n_partitions
    since_onset = 0
    false_alarms, first, first_joint, margin, evaluations = 0, None, None, defaultdict(float), 0
    while any(pos[p] < len(index[p]) for p in range(n_partitions)):
        for p in range(n_partitions):
            sel = index[p][pos[p]:pos[p] + chunk]
            pos[p] += chunk
            if not len(sel):
                continue
            before = np.cumsum(sel >= onset) + since_onset
            for outcome in monitors[p].update({k: v[sel] for k, v in cols.items()}):
                if sel[outcome.position] < onset and outcome.kind == "evaluation":
                    evaluations += 1
                    for r in outcome.results:
                        if r.test != "adwin":
                            margin[r.test] = max(margin[r.test], r.statistic / r.threshold)
                for alarm in outcome.alarms:
                    if sel[outcome.position] < onset:
                        false_alarms += 1
                        continue
                    seen = (int(before[outcome.position]), alarm.feature, alarm.test)
                    first = first or seen
                    if first_joint is None and alarm.test.startswith("joint"):
                        first_joint = (*seen, getattr(alarm, "segment", ""))
            since_onset = int(before[-1])
    return {"alarms_before_onset": false_alarms, "first_alarm_after_onset": first,
            "first_joint_alarm_after_onset": first_joint, "evaluations": evaluations,
            "null_margin": {k: round(v, 3) for k, v in sorted(margin.items())}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/online_retail.parquet"))
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--scenarios", default="none,scale,outliers,country-mix,gradual")
    args = parser.parse_args()
    frame = data.load_online_retail(args.data)
    shuffled = frame.iloc[np.random.default_rng(args.seed).permutation(len(frame))]
    shuffled = shuffled.reset_index(drop=True)
    config = MonitorConfig()
    print(f"config {config}, alpha per test {config.alpha:.3g}")
    for name in args.scenarios.split(","):
        onset = len(shuffled) if name == "none" else len(shuffled) // 2
        drifted, onset = scenarios.apply(shuffled, scenarios.Scenario(name, onset), args.seed)
        print(name, run(drifted, onset, args.partitions, config), flush=True)
    ordered = frame.sort_values("InvoiceDate", kind="stable").reset_index(drop=True)
    result = run(ordered, len(ordered), args.partitions, config)
    print("time-ordered (real drift, not false)", {"alarms": result["alarms_before_onset"]})


if __name__ == "__main__":
    main()
