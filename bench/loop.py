"""The retrain loop on the time-ordered year: when does retraining pay?

A model trained before --train-until serves from there. The year is replayed in time order
(clean, and with each --scenarios drift from --onset) through the detector's ModelTracker,
partitioned as librdkafka does; at each weekly cutoff a policy may retrain:

  never      the first model serves all year
  every-N    a retrain request every N weeks (a fixed schedule)
  auto       DETECTOR_RETRAIN_POLICY=auto: a request when a partition's error impact is
             material (the ModelErrorUp signal), or the model's training data is older than
             --max-age-days (0: impact only), at most one per cooldown of event time

A request trains a challenger as the trainer service does (trainer.train.fit on the last
--window-days of rows before the cutoff) and judges it against the champion
(trainer.champion.judge, margin --margin): promoted or rejected. Every policy is scored on
the same predictions: at each weekly cutoff from --train-until to the end − H, every
customer with history is predicted by the model serving then, against spend over the next
H days. Printed per scenario and policy: the MAE over all of them, retrains, promotions,
rejections, ModelErrorUp pages (rising edges of material impact per signal), and after the
onset the event-days until the per-cutoff MAE is back within 20 % of its level over the
4 weeks before (absolute, and relative to the mean realised spend: a lasting scale change
moves every model's absolute error).

    python bench/loop.py --horizon-days 14 --train-until 2011-06-01 --onset 2011-07-01
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.model.config import IMPACT_SIGNALS  # noqa: E402
from detector.model.loader import load  # noqa: E402
from detector.model.retrain_policy import DAY, RetrainConfig, RetrainPolicy  # noqa: E402
from detector.model.tracker import ModelConfig, ModelTracker  # noqa: E402
from producer import data, scenarios  # noqa: E402
from producer.replay import partitions_of  # noqa: E402
from schemas import artifacts, features  # noqa: E402
from trainer import versions  # noqa: E402
from trainer.champion import Champion, judge  # noqa: E402
from trainer.features import customer_features, line_totals, target  # noqa: E402
from trainer.train import fit  # noqa: E402

WEEK = 7 * DAY


class Challengers:
    """Challengers trained at decision times, cached: fixed schedules share them."""

    def __init__(self, frame: pd.DataFrame, horizon: int, window_days: int, models_dir: Path) -> None:
        self.frame, self.horizon, self.window_days, self.dir = frame, horizon, window_days, models_dir
        self.cache: dict[float, tuple] = {}

    def at(self, t: float) -> tuple:
        """(trained, training window, Champion, LoadedModel) of a challenger trained at t."""
        if t not in self.cache:
            end = pd.Timestamp(t, unit="s")
            rows = self.frame[(self.frame["InvoiceDate"] < end)
                              & (self.frame["InvoiceDate"] >= end - pd.Timedelta(days=self.window_days))]
            rows = rows.reset_index(drop=True)
            trained = fit(rows, self.horizon)
            version, path = versions.save(self.dir, trained, rows, self.horizon, f"bench {end:%Y-%m-%d}")
            self.cache[t] = (trained, rows, Champion(version, path, self.horizon), load(path))
        return self.cache[t]


def simulate(frame: pd.DataFrame, first: Champion, challengers: Challengers, policy: str, start: float,
             margin: float, auto_config: RetrainConfig, chunk: int = 2000) -> dict:
    """Replay the year through the tracker under ``policy``; the serving timeline and counts."""
    parts = partitions_of(frame, 3)
    events = features.customer_events(frame)
    times = frame["InvoiceDate"].astype("int64").to_numpy() / 1e9
    tracker = ModelTracker(ModelConfig(), load(first.path))
    states = [tracker.new_state() for _ in range(3)]
    auto = RetrainPolicy(auto_config)
    every = int(policy.removeprefix("every-")) if policy.startswith("every-") else 0
    champion, timeline = first, [(-np.inf, first)]
    counts = {"retrains": 0, "promoted": 0, "rejected": 0, "pages": 0}
    firing = dict.fromkeys(IMPACT_SIGNALS, False)
    decision = start  # the next weekly decision time
    for begin in range(0, len(frame), chunk):
        stop = min(begin + chunk, len(frame))
        for p in range(3):
            idx = np.flatnonzero(parts[begin:stop] == p) + begin
            if idx.size:
                tracker.update(states[p], *([column[i] for i in idx] for column in events))
        for signal in firing:  # ModelErrorUp: max over partitions, per signal
            now = any(tracker.material(s, signal) for s in states)
            counts["pages"] += now and not firing[signal]
            firing[signal] = now
        while times[stop - 1] >= decision:
            week = round((decision - start) / WEEK)
            material = any(tracker.material(s, sig) for s in states for sig in firing)
            asked = policy == "auto" and auto.should_request(material, decision, tracker.model.trained_until)
            if asked or (every and week % every == 0):
                trained, rows, challenger, loaded = challengers.at(decision)
                verdict = judge(champion, rows, trained, margin)
                counts["retrains"] += 1
                counts["promoted" if verdict.promote else "rejected"] += 1
                if verdict.promote:
                    champion = challenger
                    timeline.append((decision, champion))
                    tracker.model = loaded
                    for s in states:
                        tracker.adopt(s)
            decision += WEEK
    return {**counts, "timeline": timeline}


def evaluate(frame: pd.DataFrame, timeline: list, cutoffs: list[pd.Timestamp], horizon: int,
             cache: dict) -> pd.DataFrame:
    """Per cutoff: customers, MAE of the model serving then, mean realised spend."""
    rows, out = line_totals(frame), []
    for cut in cutoffs:
        t = cut.value / 1e9
        serving = [c for start, c in timeline if start <= t][-1]
        if serving.path not in cache:
            cache[serving.path] = (joblib.load(serving.path / artifacts.MODEL),
                                   joblib.load(serving.path / artifacts.SCALER))
        model, scaler = cache[serving.path]
        if ("x", cut) not in cache:
            x = customer_features(rows, cut, horizon)
            cache[("x", cut)] = (x, target(rows, x.index, cut, horizon).to_numpy())
        x, y = cache[("x", cut)]
        predicted = np.clip(model.predict(scaler.transform(x)), 0, None)
        out.append((cut, len(y), float(np.abs(predicted - y).sum()), float(y.sum())))
    return pd.DataFrame(out, columns=["cutoff", "customers", "abs_error", "spend"])


def recovery(scores: pd.DataFrame, onset: pd.Timestamp, horizon: int) -> dict:
    """After the onset: the mean per-cutoff MAE of cutoffs labelled after it, and the event-days
    from the onset to the first cutoff whose MAE (absolute; relative to the mean realised spend)
    is back within 20 % of its level over the 4 weeks of cutoffs labelled before the onset,
    after it had left that band (0: it never left; None: it never came back)."""
    mae = scores["abs_error"] / scores["customers"]
    relative = scores["abs_error"] / scores["spend"].clip(lower=1e-9)
    labelled_before = scores["cutoff"] + pd.Timedelta(days=horizon) <= onset
    before = labelled_before & (scores["cutoff"] >= onset - pd.Timedelta(days=28 + horizon))
    after = ~labelled_before
    out = {"mae_after": round(float(scores["abs_error"][after].sum() / scores["customers"][after].sum()), 1)}
    for name, series in (("absolute", mae), ("relative", relative)):
        inside = (series <= 1.2 * series[before].mean())[after].to_numpy()
        cuts = scores["cutoff"][after].to_numpy()
        left = np.flatnonzero(~inside)
        back = np.flatnonzero(inside[left[0]:]) + left[0] if left.size else np.array([0])
        out[f"back_{name}_days"] = (0.0 if not left.size else None if not back.size else
                                    round((pd.Timestamp(cuts[back[0]]) - onset).total_seconds() / DAY, 1))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/online_retail.parquet"))
    parser.add_argument("--train-until", default="2011-06-01")
    parser.add_argument("--horizon-days", type=int, default=14)
    parser.add_argument("--onset", default="2011-07-01", help="event time the scenarios start at")
    parser.add_argument("--scenarios", default="none,scale")
    parser.add_argument("--policies", default="never,every-1,every-2,every-4,every-8,auto")
    parser.add_argument("--margin", type=float, default=0.02, help="TRAINER_PROMOTE_MARGIN")
    parser.add_argument("--window-days", type=int, default=365, help="TRAINER_WINDOW_DAYS")
    parser.add_argument("--cooldown-days", type=float, default=14.0, help="DETECTOR_RETRAIN_COOLDOWN_DAYS")
    parser.add_argument("--max-age-days", type=float, default=0.0, help="DETECTOR_RETRAIN_MAX_AGE_DAYS")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    auto_config = RetrainConfig(policy="auto", cooldown_days=args.cooldown_days,
                                max_age_days=args.max_age_days)
    frame = data.load_online_retail(args.data).sort_values("InvoiceDate", kind="stable")
    frame = frame.reset_index(drop=True)
    until, onset_time, h = pd.Timestamp(args.train_until), pd.Timestamp(args.onset), args.horizon_days
    start = (until.value / 1e9 // WEEK + 1) * WEEK  # the first weekly cutoff after training
    cutoffs = list(pd.date_range(pd.Timestamp(start, unit="s"), frame["InvoiceDate"].max()
                                 - pd.Timedelta(days=h), freq="7D"))
    with tempfile.TemporaryDirectory() as tmp:
        clean = frame[frame["InvoiceDate"] < until].reset_index(drop=True)
        version, path = versions.save(Path(tmp), fit(clean, h), clean, h, "bench: first model")
        first = Champion(version, path, h)
        print(f"first model trained before {until:%Y-%m-%d}, H = {h}; {len(cutoffs)} weekly cutoffs scored "
              f"from {cutoffs[0]:%Y-%m-%d}; margin {args.margin}, window {args.window_days} d, "
              f"auto cooldown {args.cooldown_days} d, max age {args.max_age_days} d", flush=True)
        for name in args.scenarios.split(","):
            onset = int((frame["InvoiceDate"] < onset_time).sum()) if name != "none" else len(frame)
            drifted, onset = scenarios.apply(frame, scenarios.Scenario(name, onset), args.seed)
            challengers = Challengers(drifted, h, args.window_days, Path(tmp) / name)
            cache: dict = {}
            for policy in args.policies.split(","):
                began = time.monotonic()
                result = simulate(drifted, first, challengers, policy, start, args.margin, auto_config)
                scores = evaluate(drifted, result.pop("timeline"), cutoffs, h, cache)
                mae = scores["abs_error"].sum() / scores["customers"].sum()
                after = recovery(scores, onset_time, h) if name != "none" else {}
                print(f"{name:6} {policy:8} year MAE {mae:7.2f} over {scores['customers'].sum():,} "
                      f"predictions; retrains {result['retrains']:2}, promoted {result['promoted']:2}, "
                      f"rejected {result['rejected']:2}; pages {result['pages']}; {after} "
                      f"[{time.monotonic() - began:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
