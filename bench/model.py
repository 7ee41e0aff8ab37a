"""Model tracking offline: error figures and model alarms per scenario, on the real data.

Trains a model on the rows before --train-until (the trainer's own code, H days), then
replays the whole year in time order through the detector's ModelTracker, partitioned as
librdkafka does (CRC32 of the key), and reports per scenario: predictions made and scored,
rolling MAE/RMSE vs the holdout and the naive baseline, model alarms before the onset and
the first one after it (rows and event-days since onset), the first label-free one, the
first material impact (the ModelErrorUp page), and how the loss model's estimated MAE per
cutoff compares with the realised MAE of the same cutoff (partition cutoffs, population
"all"): median absolute % difference, share within ±20 %, share inside the band, correlation,
and the share within ±20 % of an oracle that knows every label (a cubic in time fitted to the
realised figures): how much of the miss is week-to-week noise.

    python bench/model.py --data ../shared/data/online_retail.parquet
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.model.config import IMPACT_SIGNALS  # noqa: E402
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
    before, first, first_free, first_page, alarms, figures = 0, None, None, None, {}, []
    times = frame["InvoiceDate"]
    label_free = {"prediction/ks", "prediction/ks_active", "error/estimated", "error/spend_level"}

    def since(row: int, name: str, statistic: float) -> tuple:
        return (row - onset, round((times.iloc[row] - times.iloc[onset]).total_seconds() / 86400, 1),
                name, round(statistic, 3))

    for start in range(0, len(frame), chunk):
        stop = min(start + chunk, len(frame))
        for p in range(3):
            idx = [i for i in range(start, stop) if parts[i] == p]
            if not idx:
                continue
            for outcome in tracker.update(states[p], *([column[i] for i in idx] for column in events)):
                name = f"{outcome.result.feature}/{outcome.result.test}"
                row = idx[outcome.position]
                if outcome.result.test == "realised":
                    figures.append(outcome.figures)
                if (outcome.result.test in IMPACT_SIGNALS and onset < len(frame) and row >= onset
                        and first_page is None and tracker.material(states[p], outcome.result.test)):
                    first_page = since(row, name, outcome.result.statistic)
                if not outcome.alarm:
                    continue
                alarms[name] = alarms.get(name, 0) + 1
                if row >= onset and first_free is None and name in label_free:
                    first_free = since(row, name, outcome.result.statistic)
                if verbose:
                    print(f"  alarm row {row} partition {p} {name} {outcome.result.statistic:.3f} "
                          f"> {outcome.result.threshold:.3f}")
                if row < onset:
                    before += 1
                elif first is None:
                    first = since(row, name, outcome.result.statistic)
    performance = {k: round(v, 1) for k, v in tracker.performance(states).items()}
    return {"predictions": sum(s.predictions for s in states), "scored": sum(s.scored for s in states),
            **performance, "estimated_vs_realised": agreement(figures, verbose),
            "model_alarms": alarms, "alarms_before_onset": before, "first_alarm_after_onset": first,
            "first_label_free_alarm": first_free, "first_material_impact": first_page}


def fleet_cutoffs(figures: list) -> list[tuple[float, float, float, float, float]]:
    """Per cutoff over every partition (customer-weighted): (cutoff, estimated, low, high,
    realised) of population "all"; the band's half-widths add in quadrature."""
    by_cutoff: dict[float, list] = {}
    for f in figures:
        by_cutoff.setdefault(f.cutoff, []).append(f)
    out = []
    for cutoff, parts in sorted(by_cutoff.items()):
        n = np.array([p.customers["all"] for p in parts], dtype=float)
        est = np.array([p.estimated["all"][0] for p in parts])
        half = np.array([p.estimated["all"][2] - p.estimated["all"][0] for p in parts])
        real = np.array([p.realised["all"] for p in parts])
        mean = float((n * est).sum() / n.sum())
        width = float(np.sqrt(((n * half) ** 2).sum()) / n.sum())
        out.append((cutoff, mean, max(mean - width, 0.0), mean + width, float((n * real).sum() / n.sum())))
    return out


def agreement(figures: list, verbose: bool = False) -> dict:
    """Estimated against realised MAE per cutoff of the fleet (population "all")."""
    rows = fleet_cutoffs(figures)
    if verbose:
        for cutoff, e, lo, hi, r in rows:
            print(f"  cutoff {pd.Timestamp(cutoff, unit='s'):%Y-%m-%d} estimated {e:8.1f} "
                  f"[{lo:8.1f}, {hi:8.1f}] realised {r:8.1f}")
    est, low, high, real = (np.array([row[k] for row in rows]) for k in (1, 2, 3, 4))
    keep = np.isfinite(est) & np.isfinite(real) & (real > 0)
    if not keep.any():
        return {}
    est, low, high, real = est[keep], low[keep], high[keep], real[keep]
    diff = np.abs(est / real - 1)
    # An oracle for scale: a cubic in time fitted to the realised figures themselves (every
    # label known). What it misses is the week-to-week noise no smooth estimate can follow.
    weeks = np.arange(real.size)
    trend = np.polyval(np.polyfit(weeks, real, 3), weeks) if real.size > 4 else real
    return {"cutoffs": int(keep.sum()), "median_abs_pct_diff": round(100 * float(np.median(diff)), 1),
            "within_20pct": round(float((diff <= 0.2).mean()), 3),
            "inside_band": round(float(((real >= low) & (real <= high)).mean()), 3),
            "correlation": round(float(np.corrcoef(est, real)[0, 1]), 3),
            "oracle_trend_within_20pct": round(float((np.abs(trend / real - 1) <= 0.2).mean()), 3)}


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
