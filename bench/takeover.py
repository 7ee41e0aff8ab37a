"""Takeover after a SIGKILL: how long a dead worker's partitions wait for a survivor.

One real broker; for each --session-timeouts value: three workers on a 6-partition topic,
a steady replay (--rate events/s, shuffled, no model), then SIGKILL of the worker owning
the most partitions. Takeover = from the kill until every one of its partitions is owned
by a survivor and that partition's state has grown past what it held at the kill (the
survivor restored it from the state topic and is processing it again).

    python bench/takeover.py --session-timeouts 6,10,30
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fleet import DATA, ROOT, Detector, KafkaBroker, environment, wait_for


def owned(worker: Detector) -> dict[int, float]:
    """The partitions a worker owns, with the events their states hold."""
    return worker.partition_events()


def takeover(env: dict, data: Path, workdir: Path, session_timeout: float, rate: int) -> tuple[float, list]:
    topic = f"bench.takeover.{int(session_timeout)}"
    env = dict(env, TRANSACTIONS_TOPIC=topic, DETECTOR_APP_ID=f"takeover-{int(session_timeout)}",
               DETECTOR_SESSION_TIMEOUT=str(session_timeout), DETECTOR_REFERENCE_SIZE="2000")
    workers = [Detector(env, workdir / f"{topic}-{i}").start() for i in range(3)]
    producer = subprocess.Popen([sys.executable, "-m", "producer", "replay", "--data", str(data), "--rate",
                                 str(rate), "--no-progress"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL)
    try:
        wait_for(lambda: all(len(owned(w)) == 2 for w in workers), 300, "two partitions each", 0.5)
        wait_for(lambda: sum(w.state_events() for w in workers) > 20_000, 300, "a running stream", 0.5)
        victim = max(workers, key=lambda w: len(owned(w)))
        held = owned(victim)
        victim.kill()
        killed = time.monotonic()
        survivors = [w for w in workers if w is not victim]

        def taken_over() -> bool:
            now = {}
            for worker in survivors:
                now.update(owned(worker))
            return all(p in now and now[p] > events for p, events in held.items())

        wait_for(taken_over, 600, "the survivors to process the dead worker's partitions", 0.1)
        return time.monotonic() - killed, sorted(held)
    finally:
        producer.kill()
        for worker in workers:
            worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--session-timeouts", default="6,10,30")
    parser.add_argument("--rate", type=int, default=3000)
    args = parser.parse_args()
    broker = KafkaBroker().start()
    workdir = Path(tempfile.mkdtemp(prefix="driftstream-takeover-"))
    env = environment(broker, TOPIC_PARTITIONS="6", DETECTOR_MODELS_DIR=str(workdir / "models"))
    try:
        for timeout in (float(t) for t in args.session_timeouts.split(",")):
            seconds, partitions = takeover(env, args.data, workdir, timeout, args.rate)
            print(f"session timeout {timeout:g} s: partitions {partitions} processed again by a survivor "
                  f"{seconds:.1f} s after the SIGKILL", flush=True)
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
