"""The reading ladder: from the Kafka driver alone to the detector fleet, in one run.

On one real Apache Kafka broker (started here, as in the tests), with model tracking on
(the tests' CLV model: rows before 2011-06-01, H = 14 days) unless --no-model:
1. the year is replayed once onto a topic of --partitions partitions (time order with a
   model: the detector keeps customer state, predicts at weekly cutoffs and scores);
2. each rung reads it all, in a fresh consumer group, one after another
   (bench/readers.py): confluent-kafka alone, aiokafka alone (Faust's driver), a bare Faust
   agent, the worker's batch reader without work; events/s from its first to its last
   event, process CPU (every thread, start-up included) per 1M events;
3. for each fleet size in --workers, that many detector workers (one consumer group):
   events/s from the first event any of them processed to the moment their partition
   states hold every event (clv_state_events summed), CPU of every worker and its pipeline
   process per 1M events, snapshot sizes and the mean save and restore times;
4. end to end: one worker waits on an empty topic, the year is replayed onto it; seconds
   from the replay's start to the last event in the states.
The machine's cores bound the fleet: on 2 cores, 3 workers (6 processes) share them.

    python bench/throughput.py --workers 1,2,3 --partitions 6
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from fleet import DATA, PY, ROOT, Detector, KafkaBroker, environment, fleet_sum, replay, train, wait_for

READERS = {"confluent": "confluent-kafka Consumer.consume(10000), nothing else",
           "aiokafka": "aiokafka getmany(10000), nothing else (Faust's driver)",
           "agent": "bare Faust agent (take_events(1000), no work)",
           "batch": "the worker's batch reader, no work"}


def reader_rate(env: dict, reader: str, topic: str, total: int, workdir: Path, timeout: float = 900
                ) -> tuple[float, float] | None:
    """(events/s, CPU s per 1M events) of one rung; None if it did not read all in ``timeout``."""
    out = workdir / f"{reader}.txt"
    try:
        subprocess.run([PY, str(ROOT / "bench" / "readers.py"), "--reader", reader, "--topic", topic,
                        "--expect", str(total), "--group", f"ladder-{reader}", "--out", str(out)], env=env,
                       cwd=ROOT, check=True, timeout=timeout, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None
    first, last, n, cpu = (float(x) for x in out.read_text().split())
    return n / (last - first), cpu / n * 1e6


def cpu_seconds(pid: int) -> tuple[float, float]:
    """User + system CPU of a process, and of its children (Linux /proc)."""
    def cpu(p: int) -> float:
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    return cpu(pid), sum(cpu(c) for c in children)


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
        faust, pipeline = (sum(parts) for parts in zip(*(cpu_seconds(w.process.pid) for w in workers),
                                                         strict=True))
        sizes = [v for w in workers for k, v in w.scrape().items()
                 if k.startswith("clv_state_snapshot_bytes{")]

        def mean(histogram: str) -> float:
            return fleet_sum(workers, f"{histogram}_sum") / max(fleet_sum(workers, f"{histogram}_count"), 1)

        return {"rate": total / seconds, "seconds": seconds, "cpu": (faust + pipeline) / total * 1e6,
                "faust_cpu": faust / total * 1e6, "pipeline_cpu": pipeline / total * 1e6,
                "snapshot_bytes": sizes, "save_s": mean("clv_state_save_seconds"),
                "restore_s": mean("clv_state_restore_seconds")}
    finally:
        for worker in workers:
            worker.stop()


def end_to_end(env: dict, data: Path, topic: str, total: int, workdir: Path, order: str) -> float:
    """Seconds from the replay's start to the last event in one waiting worker's states."""
    worker = Detector(dict(env, TRANSACTIONS_TOPIC=topic, DETECTOR_APP_ID="end-to-end"), workdir / "e2e")
    worker.start()
    try:
        wait_for(lambda: worker.sum("clv_partitions_owned") > 0, 120, "the worker's partitions", 0.2)
        started = time.time()
        producer = threading.Thread(target=replay, args=(env, data, topic, "--order", order))
        producer.start()
        wait_for(lambda: worker.state_events() >= total, 1800, "every event", 0.5)
        producer.join()
        return time.time() - started
    finally:
        worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--workers", default="1,2,3", help="fleet sizes to measure, in one run")
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--readers", default=",".join(READERS), help="the ladder's rungs to run "
                        f"(of {', '.join(READERS)}; empty: none)")
    parser.add_argument("--no-end-to-end", action="store_true", help="skip the end-to-end replay")
    parser.add_argument("--also-with", action="append", default=[], metavar="SETTING=VALUE",
                        help="measure the detector fleets again with this setting (e.g. "
                        "DETECTOR_SEGMENT_COUNT=0), in the same run; repeatable")
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
        print(f"{total:,} events on {args.partitions} partitions, {order} order, "
              f"model {'off' if args.no_model else 'on'}", flush=True)
        agent = None
        for reader in filter(None, args.readers.split(",")):
            result = reader_rate(env, reader, "bench.filled", total, workdir)
            if result is None:
                print(f"{READERS[reader]}: did not read the year in 900 s", flush=True)
                continue
            rate, cpu = result
            agent = rate if reader == "agent" else agent
            print(f"{READERS[reader]}: {rate:,.0f} events/s, {cpu:.1f} CPU s per 1M events", flush=True)
        variants = [("", {})] + [(f" with {o}", dict([o.split("=", 1)])) for o in args.also_with]
        runs = ((i, v, int(n)) for i, v in enumerate(variants) for n in args.workers.split(",") if n)
        for index, (label, setting), size in runs:
            group = f"detector-{size}" + (f"-{index}" if index else "")  # a variant repeated: a new group
            r = fleet_rate(dict(env, **setting), "bench.filled", total, group, workdir, size)
            kb = [b / 1024 for b in r["snapshot_bytes"]]
            ratio = f", {r['rate'] / agent:.2f}× the bare agent" if agent else ""
            print(f"detector{label}, {size} worker(s): {r['rate']:,.0f} events/s{ratio}, "
                  f"{r['cpu']:.0f} CPU s per 1M events ({r['faust_cpu']:.0f} Faust, "
                  f"{r['pipeline_cpu']:.0f} pipeline processes), "
                  f"the year in {r['seconds']:.1f} s; "
                  f"snapshots {min(kb):,.0f}–{max(kb):,.0f} KiB per partition, "
                  f"save {r['save_s'] * 1000:.0f} ms, "
                  f"restore {r['restore_s'] * 1000:.0f} ms (means)", flush=True)
        if not args.no_end_to_end:
            seconds = end_to_end(env, args.data, "bench.live", total, workdir, order)
            print(f"end to end, one worker: {seconds:.1f} s from the replay's start to the last event "
                  "in the states", flush=True)
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
