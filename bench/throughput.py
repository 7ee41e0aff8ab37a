"""Throughput of 1, 2, 3... detector workers on one topic, beside a bare Faust agent.

In one run, on one real Apache Kafka broker (started here, as in the tests):
0. with model tracking on (the default), the tests' CLV model is trained first (rows
   before 2011-06-01, H = 14 days) and the year is replayed in time order, so the
   detector keeps customer state, predicts at weekly cutoffs and scores throughout;
1. the full data set is replayed once onto a topic of --partitions partitions;
2. a bare Faust agent (bench/bare_agent.py: same Faust settings and batching, no work)
   reads it all: events/s from its first to its last event;
3. for each fleet size in --workers, that many detector workers (one consumer group,
   fresh) read the same topic: events/s from the first event any of them processed to
   the moment their partition states hold every event (clv_state_events summed);
4. the snapshot size per partition and the mean time to save and to restore one, read
   from the workers' metrics.
The machine's cores bound the fleet: on 2 cores, 3 workers (6 processes) share them.

    python bench/throughput.py --workers 1,2,3 --partitions 6
"""

from __future__ import annotations

import argparse
import subprocess
import tempfile
import time
from pathlib import Path

from fleet import DATA, PY, ROOT, Detector, KafkaBroker, environment, fleet_sum, replay, train, wait_for


def bare_rate(env: dict, topic: str, total: int, group: str, workdir: Path, transport: str = "kafka",
              timeout: float = 900) -> float | None:
    """Events/s of a bare Faust agent; None if it read nothing in ``timeout``."""
    out = workdir / f"{group}.txt"
    try:
        subprocess.run([PY, str(ROOT / "bench" / "bare_agent.py"), "--topic", topic, "--expect", str(total),
                        "--group", group, "--out", str(out), "--transport", transport], env=env, cwd=ROOT,
                       check=True, timeout=timeout, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    first, last, n = out.read_text().split()
    return int(n) / (float(last) - float(first))


def fleet_rate(env: dict, topic: str, total: int, group: str, workdir: Path, size: int) -> dict:
    workers = [Detector(dict(env, TRANSACTIONS_TOPIC=topic, DETECTOR_APP_ID=group), workdir / f"{group}-{i}")
               for i in range(size)]
    for worker in workers:
        worker.start()
    try:
        first = wait_for(lambda: fleet_sum(workers, "clv_events_processed_total") > 0 and time.time(),
                         300, "a first event", 0.05)
        wait_for(lambda: fleet_sum(workers, "clv_state_events") >= total, 1800, "every event", 0.5)
        seconds = time.time() - first
        sizes = [v for w in workers for k, v in w.scrape().items()
                 if k.startswith("clv_state_snapshot_bytes{")]

        def mean(histogram: str) -> float:
            return fleet_sum(workers, f"{histogram}_sum") / max(fleet_sum(workers, f"{histogram}_count"), 1)

        return {"rate": total / seconds, "seconds": seconds, "snapshot_bytes": sizes,
                "save_s": mean("clv_state_save_seconds"), "restore_s": mean("clv_state_restore_seconds")}
    finally:
        for worker in workers:
            worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--workers", default="1,2,3", help="fleet sizes to measure, in one run")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--transports", default="kafka", help="Faust drivers for the bare agent, e.g. "
                        "kafka,confluent (the detector uses the first)")
    parser.add_argument("--no-model", action="store_true", help="no model: warm-up references, "
                        "shuffled replay (data drift only)")
    args = parser.parse_args()
    import pandas as pd

    total = len(pd.read_parquet(args.data, columns=["Quantity"]))
    broker = KafkaBroker().start()
    workdir = Path(tempfile.mkdtemp(prefix="driftstream-bench-"))
    env = environment(broker, TOPIC_PARTITIONS=str(args.partitions),
                      DETECTOR_MODELS_DIR=str(workdir / "models"))
    order = "shuffled" if args.no_model else "time"
    try:
        if not args.no_model:
            train(env, args.data, workdir / "models", "--publish", "false")
        replay(env, args.data, "bench.filled", "--order", order)
        for transport in args.transports.split(",")[1:]:
            rate = bare_rate(env, "bench.filled", total, f"bare-{transport}", workdir, transport, 120)
            print(f"bare Faust agent, {transport}:// driver: " + (f"{rate:,.0f} events/s" if rate else
                  "read no event in 120 s"), flush=True)
        bare = bare_rate(env, "bench.filled", total, "bare", workdir)
        print(f"bare Faust agent: {bare:,.0f} events/s ({total / bare:.1f} s for {total:,} events, "
              f"{args.partitions} partitions, {order} order)", flush=True)
        for size in (int(n) for n in args.workers.split(",")):
            r = fleet_rate(env, "bench.filled", total, f"detector-{size}", workdir, size)
            kb = [b / 1024 for b in r["snapshot_bytes"]]
            print(f"{size} worker(s): {r['rate']:,.0f} events/s ({r['rate'] / size:,.0f} per worker, "
                  f"{r['rate'] / bare:.2f} of the bare agent), the year in {r['seconds']:.1f} s; "
                  f"snapshots {min(kb):,.0f}–{max(kb):,.0f} KiB per partition, "
                  f"save {r['save_s'] * 1000:.0f} ms, restore {r['restore_s'] * 1000:.0f} ms (means)",
                  flush=True)
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
