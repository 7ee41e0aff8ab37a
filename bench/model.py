"""Model tracking offline: error figures and model alarms per scenario, on the real data.

Trains a model on the rows before --train-until (the trainer's own code, H days), then
replays the whole year in time order through the detector's ModelTracker, partitioned as
librdkafka does (CRC32 of the key), and reports per scenario: predictions made and scored,
rolling MAE/RMSE vs the holdout and the naive baseline, model alarms before the onset and
the first one after it (events since onset).

    python bench/model.py --data ../shared/data/online_retail.parquet
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.model.loader import load  # noqa: E402
from detector.model.tracker import ModelConfig, ModelTracker  # noqa: E402
from producer import data, scenarios  # noqa: E402
from producer.replay import partitions_of  # noqa: E402
from schemas import features  # noqa: E402
from trainer import versions  # noqa: E402
from trainer.train import fit  # noqa: E402


def run(frame: pd.DataFrame, onset: int, model, config: ModelConfig, chunk: int = 500,
        verbose: bool = False) -> dict:
    parts = partitions_of(frame, 3)
    events = features.customer_events(frame)
    tracker = ModelTracker(config, model)
    states = [tracker.new_state() for _ in range(3)]  # one per partition, as in the worker
    before, first, alarms = 0, None, {}
    for start in range(0, len(frame), chunk):
        stop = min(start + chunk, len(frame))
        for p in range(3):
            idx = [i for i in range(start, stop) if parts[i] == p]
            if not idx:
                continue
            for outcome in tracker.update(states[p], *([column[i] for i in idx] for column in events)):
                if not outcome.alarm:
                    continue
                name = f"{outcome.result.feature}/{outcome.result.test}"
                alarms[name] = alarms.get(name, 0) + 1
                row = idx[outcome.position]
                if verbose:
                    print(f"  alarm row {row} partition {p} {name} {outcome.result.statistic:.3f} "
                          f"> {outcome.result.threshold:.3f}")
                if row < onset:
                    before += 1
                elif first is None:
                    first = (row - onset, name, round(outcome.result.statistic, 3))
    figures = {k: round(v, 1) for k, v in tracker.performance(states).items()}
    return {"predictions": sum(s.predictions for s in states), "scored": sum(s.scored for s in states),
            **figures,
            "model_alarms": alarms, "alarms_before_onset": before, "first_alarm_after_onset": first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/online_retail.parquet"))
    parser.add_argument("--train-until", default="2011-07-01")
    parser.add_argument("--horizon-days", type=int, default=30)
    parser.add_argument("--limit", type=int, default=0, help="replay the first N time-ordered rows only")
    parser.add_argument("--onset", type=float, default=0.6, help="fraction of the replayed rows")
    parser.add_argument("--scenarios", default="none,outliers,scale,country-mix")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--verbose", action="store_true", help="print every model alarm")
    args = parser.parse_args()
    frame = data.load_online_retail(args.data).sort_values("InvoiceDate", kind="stable")
    frame = frame.reset_index(drop=True)
    replayed = frame.iloc[:args.limit] if args.limit else frame
    train = frame[frame["InvoiceDate"] < pd.Timestamp(args.train_until)].reset_index(drop=True)
    trained = fit(train, args.horizon_days)
    with tempfile.TemporaryDirectory() as tmp:
        _, path = versions.save(Path(tmp), trained, train, args.horizon_days, "bench")
        model = load(path)
    print(f"model trained before {args.train_until}, H = {args.horizon_days} days: holdout "
          f"{ {k: round(v, 1) for k, v in model.holdout.items()} }")
    config = ModelConfig()
    print(f"config {config}")
    for name in args.scenarios.split(","):
        onset = int(args.onset * len(replayed)) if name != "none" else len(replayed)
        drifted, onset = scenarios.apply(replayed, scenarios.Scenario(name, onset), args.seed)
        result = run(drifted, onset, model, config, verbose=args.verbose)
        print(name, f"onset row {onset}" if name != "none" else "", result, flush=True)


if __name__ == "__main__":
    main()
