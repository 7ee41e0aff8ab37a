"""Where the pipeline process spends its time: cProfile of Pipeline.process, no Kafka.

The tests' model (rows before 2011-06-01, H = 14 days) is trained into a temporary folder,
then the first --rows rows in time order (keyed into --partitions partitions as the
producer does) go through one Pipeline with that model, in batches of --batch. Prints the
seconds, the drift events and the functions by cumulative time.

    python bench/pipeline_profile.py --rows 200000
"""

from __future__ import annotations

import argparse
import cProfile
import logging
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path

from fleet import DATA, ROOT, train

sys.path.insert(0, str(ROOT))

from prometheus_client import CollectorRegistry  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from detector.drift.monitor import MonitorConfig  # noqa: E402
from detector.metrics import Metrics  # noqa: E402
from detector.model.loader import load_latest  # noqa: E402
from detector.pipeline.messages import Message  # noqa: E402
from detector.pipeline.pipeline import Pipeline  # noqa: E402
from producer import data  # noqa: E402
from producer.replay import encode_rows, partitions_of  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--batch", type=int, default=500, help="events per Pipeline.process call")
    parser.add_argument("--sort", default="cumulative", choices=["cumulative", "tottime"],
                        help="order of the functions shown: by cumulative or by own time")
    parser.add_argument("--top", type=int, default=25, help="functions shown")
    parser.add_argument("--no-profile", action="store_true", help="time it only (cProfile slows "
                        "many small calls more than a few large ones)")
    parser.add_argument("--segments", type=int, default=None, help="DETECTOR_SEGMENT_COUNT (default: "
                        "the setting's default; 0: no segment-conditional tests)")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                        help="a monitor setting other than its default, e.g. customer_window=0 (repeatable)")
    args = parser.parse_args()
    overrides = dict(item.split("=", 1) for item in args.set)
    if args.segments is not None:
        overrides["segment_count"] = args.segments
    logging.disable(logging.WARNING)  # one log line per alarm is not what is measured
    work = Path(tempfile.mkdtemp(prefix="driftstream-profile-"))
    train({**os.environ, "PYTHONPATH": str(ROOT)}, args.data, work / "models", "--publish", "false")
    frame = data.arrange(data.load_online_retail(args.data), "time", 0, limit=args.rows)
    parts = partitions_of(frame, args.partitions)
    messages = [Message(k, v, [], "tx", int(p), i)
                for i, ((k, v), p) in enumerate(zip(encode_rows(frame), parts, strict=True))]
    config = MonitorConfig(**overrides)
    pipeline = Pipeline(config, Metrics(CollectorRegistry()), work / "reports",
                        model=load_latest(work / "models"))
    threadpool_limits(1)  # as in the pipeline process
    profile, events = cProfile.Profile(), 0
    started, cpu = time.perf_counter(), time.process_time()
    if not args.no_profile:
        profile.enable()
    for i in range(0, len(messages), args.batch):
        events += len(pipeline.process(messages[i:i + args.batch]).drift_events)
    profile.disable()
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    print(f"{len(messages):,} events in {seconds:.1f} s ({cpu / len(messages) * 1e6:.0f} CPU µs per event), "
          f"{events:,} drift events")
    if not args.no_profile:
        pstats.Stats(profile).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
