"""What a person would receive over the time-ordered year: alarms, episodes, material
episodes and pages per month of event time, through the whole pipeline (no Kafka).

A model is trained on the rows before --train-until (H days, the trainer's code); the year,
clean or with a scenario from --onset, goes in time order through one Pipeline with that
model, keyed into --partitions partitions as the producer does. From its drift.events:

- data alarms, and drift episodes opened (per partition and feature; by the month they
  opened) and the material ones among those closed (by the month they closed: when their
  impact on the model's estimated error is known);
- pages, as the alert rules would send them: ModelErrorUp (a partition's estimated, at the
  spend level, so-far or realised error above the margin for DETECTOR_MODEL_IMPACT_CUTOFFS
  cutoffs: counted at the fleet flag's rising edges, at the event time the cutoff was judged:
  its cutoff for the label-free two, the labels' end or the event time reached for the others) and
  InputBreakage (an episode with a tail alarm; a rising edge of any partition's window
  being over 5 % out of range);
- the first page after the onset, in rows and event-days.

    python bench/model_health.py --horizon-days 14 --scenarios none,scale,outliers,country-mix
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
from collections import Counter
from pathlib import Path

import orjson
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from prometheus_client import CollectorRegistry  # noqa: E402

from demo.model_health import ModelErrorUp  # noqa: E402
from detector.drift.monitor import MonitorConfig  # noqa: E402
from detector.metrics import Metrics  # noqa: E402
from detector.model.config import LABEL_FREE_SIGNALS  # noqa: E402
from detector.model.loader import load  # noqa: E402
from detector.model.tracker import ModelConfig  # noqa: E402
from detector.pipeline.messages import Message  # noqa: E402
from detector.pipeline.pipeline import Pipeline  # noqa: E402
from producer import data, scenarios  # noqa: E402
from producer.replay import encode_rows, partitions_of  # noqa: E402
from trainer import versions  # noqa: E402
from trainer.train import fit  # noqa: E402

BREAKAGE_SHARE = 0.05  # InputBreakage's out-of-range share


def month(iso: str) -> str:
    return iso[:7]


def run(frame: pd.DataFrame, onset: int, model, partitions: int, config: ModelConfig) -> dict:
    parts = partitions_of(frame, partitions)
    messages = [Message(k, v, [], "tx", int(p), i)
                for i, ((k, v), p) in enumerate(zip(encode_rows(frame), parts, strict=True))]
    times = frame["InvoiceDate"]
    with tempfile.TemporaryDirectory() as reports:
        pipeline = Pipeline(MonitorConfig(), Metrics(CollectorRegistry()), Path(reports), config, model)
        events = []
        for start in range(0, len(messages), 1000):
            batch = messages[start:start + 1000]
            events += [(start + len(batch), orjson.loads(v)) for _, v in pipeline.process(batch).drift_events]
    alarms, opened, material, pages = Counter(), Counter(), Counter(), Counter()
    model_error = ModelErrorUp(config.impact_cutoffs)
    out_of_range: dict[int, bool] = {}  # per partition: its latest window over BREAKAGE_SHARE out of range
    broken, first_page = False, None
    onset_time = times.iloc[min(onset, len(frame) - 1)]
    for row, e in events:
        if e["kind"] == "alarm" and e["detector"] == "data":
            alarms[month(e["window"]["event_time_end"])] += 1
        elif e["kind"] == "episode_open":
            opened[month(e["episode"]["start_time"])] += 1
        elif e["kind"] == "episode_close":
            episode = e["episode"]
            if episode["material"]:  # counted when it closes: that is when its impact is known
                material[f"{times.iloc[row - 1]:%Y-%m}"] += 1
            if "tail" in episode["tests"]:
                pages[month(episode["start_time"])] += 1
                if row >= onset:
                    first_page = first_page or (row, "InputBreakage/tail", episode["start_time"])
        elif model_error.observe(e):
            test = e["results"][0]["test"]
            judged = e["window"]["event_time_start" if test in LABEL_FREE_SIGNALS else "event_time_end"]
            pages[month(judged)] += 1
            if row >= onset:
                first_page = first_page or (row, f"ModelErrorUp/{test}", judged)
        elif e["kind"] == "evaluation" and e["detector"] == "data":
            out_of_range[e["partition"]] = any(r["test"] == "out_of_range" and r["statistic"] > BREAKAGE_SHARE
                                               for r in e["results"])
            now = any(out_of_range.values())
            if now and not broken:
                when = e["window"]["event_time_end"]
                pages[month(when)] += 1
                if row >= onset:
                    first_page = first_page or (row, "InputBreakage/out_of_range", when)
            broken = now
    first = None
    if first_page is not None and first_page[0] >= onset:
        when = pd.Timestamp(first_page[2])
        first = (first_page[0] - onset, round((when - onset_time).total_seconds() / 86400, 1), first_page[1])
    months = sorted(set(alarms) | set(opened) | set(pages))
    table = {m: (alarms[m], opened[m], material[m], pages[m]) for m in months}
    return {"months": table, "totals": tuple(sum(v[i] for v in table.values()) for i in range(4)),
            "first_page_after_onset": first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/online_retail.parquet"))
    parser.add_argument("--train-until", default="2011-06-01")
    parser.add_argument("--horizon-days", type=int, default=14)
    parser.add_argument("--partitions", type=int, default=3)
    parser.add_argument("--onset", type=float, default=0.45377, help="fraction of the rows (2011-07-01)")
    parser.add_argument("--scenarios", default="none,scale,outliers,country-mix")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    frame = data.load_online_retail(args.data).sort_values("InvoiceDate", kind="stable")
    frame = frame.reset_index(drop=True)
    train = frame[frame["InvoiceDate"] < pd.Timestamp(args.train_until)].reset_index(drop=True)
    with tempfile.TemporaryDirectory() as tmp:
        _, path = versions.save(Path(tmp), fit(train, args.horizon_days), train, args.horizon_days, "bench")
        model = load(path)
    config = ModelConfig()
    print(f"model before {args.train_until}, H = {args.horizon_days}; {config}")
    for name in args.scenarios.split(","):
        onset = int(args.onset * len(frame)) if name != "none" else len(frame)
        drifted, onset = scenarios.apply(frame, scenarios.Scenario(name, onset), args.seed)
        result = run(drifted, onset, model, args.partitions, config)
        print(f"\n{name}: (data alarms, episodes, material episodes, pages) per month of event time")
        for m, row in result["months"].items():
            print(f"  {m}  {row}")
        print(f"  total {result['totals']}; first page after the onset (rows, event-days, alert): "
              f"{result['first_page_after_onset']}", flush=True)


if __name__ == "__main__":
    main()
