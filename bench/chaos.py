"""A chaos run: a replay with a model, a fleet of workers, a seeded random schedule of faults,
and the invariants checked at the end.

One real broker (its own, on log dirs it keeps across restarts); the year (or --rows of it)
replayed in time order at the rate that spans --minutes, with --malformed bad messages mixed
in; workers on 6 partitions (3 to start), exactly once on unless --at-least-once. Faults, one
after another at seeded random times (the next waits for the previous one's recovery; when
recoveries push one past the end of the replay, as on a loaded machine, it still comes, on the
idle fleet, and its recovery is not timed):

  kill    SIGKILL of a worker (both its processes), a new one started in its place
  term    SIGTERM of a worker (a clean stop), a new one started in its place
  join    one more worker joins (at most 4; at 4 a worker is stopped instead)
  freeze  a worker's Faust process SIGSTOPped past the session timeout, then SIGCONTed
          (it is fenced out; a worker that stops by itself is restarted, as by compose)
  broker-kill    the broker SIGKILLed and restarted on its log dirs
  broker-freeze  the broker SIGSTOPped past the session timeout, then SIGCONTed
  state-unwritable  the state topic refuses writes for as long (min.insync.replicas above its
          replicas: NOT_ENOUGH_REPLICAS, what producers see when its leader lost its followers;
          one broker cannot take one topic's leader away alone), then writable again
  save-fails  the state topic refuses every snapshot for as long (max.message.bytes 512:
          MSG_SIZE_TOO_LARGE, not retriable), then takes them again

Recovery of a fault: from its start until every partition's state has grown past what it
held then (the replay keeps every partition busy). At the end, the invariants:
  - per partition, events in the state = valid events on the topic (none lost or doubled);
  - predictions made and scored = the offline tracker's on the same rows;
  - drift.events at read_committed: each id once, and the same ids as a worker of another
    group that read the same topic unharmed (at least once: how many repeats);
  - the DLQ holds each bad message once.

    python bench/chaos.py --seed 1 --faults 100 --minutes 30

(tests/test_chaos.py runs a short one on a slice: --skip to July, --burn-in-days 7, so the
model predicts and scores in it.)
"""

from __future__ import annotations

import argparse
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

import orjson
from confluent_kafka.admin import AdminClient, AlterConfigOpType, ConfigEntry, ConfigResource, ResourceType
from fleet import DATA, PY, ROOT, Detector, KafkaBroker, environment, train, wait_for
from services import expected_model_counts, metric_sum, partition_events_of, partition_sizes, read_topic

from detector.runtime.state_store import state_topic

PARTITIONS = 6
KINDS = ("kill", "term", "join", "freeze", "broker-kill", "broker-freeze", "state-unwritable", "save-fails")
STATE_TOPIC_FAULTS = {"state-unwritable": ("min.insync.replicas", "2"),
                      "save-fails": ("max.message.bytes", "512")}
SESSION_TIMEOUT = 6.0


def figures(workers: list[Detector]) -> tuple[dict[int, float], tuple[float, float]]:
    """Events in each partition's state, from whichever live worker reports it (the largest),
    and predictions made and scored over the live workers; a worker not answering counts none."""
    counts: dict[int, float] = {}
    made = scored = 0.0
    for worker in workers:
        if not worker.alive:
            continue
        try:
            metrics = worker.scrape()
        except OSError:  # not answering
            continue
        for p, value in partition_events_of(metrics).items():
            counts[p] = max(counts.get(p, 0.0), value)
        made += metric_sum(metrics, "clv_state_model_predictions")
        scored += metric_sum(metrics, "clv_state_model_scored")
    return counts, (made, scored)


def partition_counts(workers: list[Detector]) -> dict[int, float]:
    return figures(workers)[0]


class Chaos:
    def __init__(self, args: argparse.Namespace, workdir: Path) -> None:
        self.args, self.workdir = args, workdir
        self.rng = random.Random(args.seed)  # the schedule: times and kinds
        self.victims = random.Random(args.seed + 1)  # whom a fault hits (how many are alive varies)
        self.models = args.models or workdir / "models"
        self.broker = KafkaBroker().start()
        self.env = environment(
            self.broker, TOPIC_PARTITIONS=str(PARTITIONS), TRANSACTIONS_TOPIC="chaos.transactions",
            DLQ_TOPIC="chaos.dlq", DRIFT_EVENTS_TOPIC="chaos.events", DETECTOR_APP_ID="chaos",
            DETECTOR_MODELS_DIR=str(self.models), DETECTOR_SESSION_TIMEOUT=str(SESSION_TIMEOUT),
            DETECTOR_CHECKPOINT_SECONDS="2", DETECTOR_EXACTLY_ONCE=str(not args.at_least_once).lower(),
            DETECTOR_TRANSACTION_TIMEOUT="10",
            **({} if args.burn_in_days is None else {"DETECTOR_MODEL_BURN_IN_DAYS": str(args.burn_in_days)}))
        self.workers: list[Detector] = []
        self.started = 0
        self.log: list[dict] = []  # one entry per fault
        self.kinds = [k for k in args.kinds.split(",") if k]
        if not self.kinds or set(self.kinds) - set(KINDS):
            raise SystemExit(f"--kinds: choose from {', '.join(KINDS)}")

    def start_worker(self) -> None:
        self.started += 1
        worker = Detector(self.env, self.workdir / f"worker-{self.started}")
        self.workers.append(worker)
        self.restart(worker)

    def restart(self, worker: Detector) -> None:
        """Start (again) a worker's process; a broker that is away makes it fail: retried."""
        deadline = time.monotonic() + 300
        while True:
            try:
                worker.start()
                return
            except (RuntimeError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                worker.process = None

    def alive(self) -> list[Detector]:
        return [w for w in self.workers if w.alive]

    def supervise(self) -> int:
        """Restart workers that stopped by themselves (fenced, a failed transaction); how many."""
        stopped = [w for w in self.workers if w.process is not None and not w.alive]
        for worker in stopped:
            self.restart(worker)
        return len(stopped)

    def inject(self, kind: str) -> str:
        alive = self.alive()
        victim = self.victims.choice(alive) if alive else None
        if kind == "join" and len(alive) >= 4:
            kind = "term"
        if kind in ("kill", "term"):
            if kind == "kill":
                victim.kill()
            else:
                victim.stop()
            self.workers.remove(victim)
            if len(self.alive()) < 3:
                self.start_worker()
        elif kind == "join":
            self.start_worker()
        elif kind == "freeze":
            victim.process.send_signal(signal.SIGSTOP)
            time.sleep(SESSION_TIMEOUT + 4)  # the fault's length, not a wait for a condition
            victim.process.send_signal(signal.SIGCONT)
        elif kind == "broker-kill":
            self.broker.process.kill()
            self.broker.process.wait(30)
            self.broker.start()
        elif kind == "broker-freeze":
            self.broker.process.send_signal(signal.SIGSTOP)
            time.sleep(SESSION_TIMEOUT + 4)
            self.broker.process.send_signal(signal.SIGCONT)
        elif kind in STATE_TOPIC_FAULTS:
            name, value = STATE_TOPIC_FAULTS[kind]
            self.configure_state_topic(name, value)
            time.sleep(SESSION_TIMEOUT + 4)
            self.configure_state_topic(name, None)
        return kind

    def configure_state_topic(self, name: str, value: str | None) -> None:
        """Set (or, with None, remove) one config of the state topic on the broker."""
        operation = AlterConfigOpType.SET if value is not None else AlterConfigOpType.DELETE
        resource = ConfigResource(ResourceType.TOPIC, state_topic("chaos"), incremental_configs=[
            ConfigEntry(name, value or "", incremental_operation=operation)])
        admin = AdminClient({"bootstrap.servers": self.broker.bootstrap})
        for future in admin.incremental_alter_configs([resource]).values():
            future.result(timeout=30)

    def recovery(self, before: dict[int, float], start: float,
                 producer: subprocess.Popen) -> tuple[float, int]:
        """Seconds from ``start`` until every partition's state grew past ``before`` (or, once
        the replay is over, the states hold every row), and how many workers were restarted
        meanwhile (they had stopped by themselves)."""
        restarted = 0

        def recovered() -> bool:
            nonlocal restarted
            restarted += self.supervise()
            now = partition_counts(self.workers)
            if producer.poll() is not None and sum(now.values()) >= self.args.rows:
                return True
            return all(now.get(p, 0) > before.get(p, 0) for p in range(PARTITIONS))

        timeout = min(600.0, max(180.0, self.args.minutes * 30))
        try:
            wait_for(recovered, timeout, "every partition processing again", interval=0.25)
        except TimeoutError:
            self.diagnose(f"not every partition processing again {timeout:.0f} s after the fault: "
                          f"events per partition before {before}")
            return float("inf"), restarted
        return time.monotonic() - start, restarted

    def run(self) -> dict:
        args = self.args
        if not args.no_model and args.models is None:
            train(self.env, args.data, self.models, "--publish", "false")
        for _ in range(3):
            self.start_worker()
        rate = max(int(args.rows / (args.minutes * 60)), 1)
        producer = subprocess.Popen(
            [PY, "-m", "producer", "replay", "--no-progress", "--data", str(args.data), "--order", "time",
             "--skip", str(args.skip), "--limit", str(args.skip + args.rows), "--rate", str(rate),
             "--malformed", str(args.malformed)],
            env=self.env, cwd=ROOT, stdout=subprocess.DEVNULL,
            stderr=(self.workdir / "producer.log").open("wb"))
        began = time.monotonic()
        span = args.minutes * 60
        times = sorted(self.rng.uniform(0.05 * span, 0.9 * span) for _ in range(args.faults))
        for n, at in enumerate(times, 1):
            while time.monotonic() - began < at:
                self.supervise()
                time.sleep(0.5)  # the schedule's clock
            after = producer.poll() is not None  # the replay ended: the fleet is idle
            before = partition_counts(self.workers)
            start = time.monotonic()
            kind = self.inject(self.rng.choice(self.kinds))
            seconds, restarted = self.recovery(before, start, producer)
            self.log.append({"kind": kind, "at": start - began, "recovery": seconds, "restarted": restarted,
                             "after_replay": after})
            print(f"fault {n:>3} at {start - began:6.0f} s: {kind:<16} recovered in {seconds:5.1f} s"
                  + (" (after the replay: every event held again; not timed)" if after else "")
                  + (f" ({restarted} worker(s) restarted after stopping by themselves)" if restarted else ""),
                  flush=True)
        try:
            failed = producer.wait(max(began + span * 1.5 + 300 - time.monotonic(), 1)) != 0
        except subprocess.TimeoutExpired:
            producer.kill()
            raise RuntimeError(f"the replay did not end in {span * 1.5 + 300:.0f} s: "
                               f"{(self.workdir / 'producer.log').read_text()[-2000:]}") from None
        if failed:
            raise RuntimeError(f"the replay failed: {(self.workdir / 'producer.log').read_text()[-2000:]}")
        return self.check()

    def settle(self, offline: tuple[int, int] | None
               ) -> tuple[dict[int, float], tuple[float, float], dict[int, int]]:
        """The fleet's final figures: once they reach the expected ones and stay the same for a
        session timeout with no worker restarted (a worker restarted here rejoins, and until
        the rebalance moves its partitions the old owners still report them: one look can
        catch the figures just before they drop); and the valid events per partition they are
        held to: the topic's less its dead letters, read again at each look until the DLQ
        holds every bad message sent (when the replay ends the fleet is still writing the last
        ones; at read_committed they show once their transaction commits). On a timeout, the
        last figures seen, and what each live worker held and its log's last lines (the
        invariants then say which broke)."""
        sizes = partition_sizes(self.broker.bootstrap, "chaos.transactions")
        dead: list = []
        valid: dict[int, int] = {}
        seen = figures(self.workers)
        since = time.monotonic()

        def settled() -> bool:
            nonlocal seen, since
            if not valid or len(dead) < self.args.malformed:
                dead[:] = read_topic(self.broker.bootstrap, "chaos.dlq")
                per_source = Counter(int(dict(m.headers())["source-partition"]) for m in dead)
                valid.update({p: sizes[p] - per_source[p] for p in range(PARTITIONS)})
            restarted = self.supervise()
            now = figures(self.workers)
            if restarted or now != seen:
                seen, since = now, time.monotonic()
            done = seen[0] == valid and (offline is None or seen[1] == offline)
            return done and time.monotonic() - since >= SESSION_TIMEOUT

        timeout = max(300.0, self.args.rows / 1000)
        try:
            wait_for(settled, timeout, "every valid event in the states, settled", interval=1.0)
        except TimeoutError:
            states = ", ".join(f"{p}: {seen[0].get(p, 0):,.0f}/{valid.get(p, 0):,}"
                               for p in range(PARTITIONS))
            made, scored = seen[1]
            self.diagnose(f"the fleet did not settle in {timeout:.0f} s: per partition state/valid {states} "
                          f"({len(dead)} dead letters); model made/scored {made:,.0f}/{scored:,.0f} "
                          f"(offline {offline})")
        return seen[0], seen[1], valid

    def diagnose(self, what: str) -> None:
        """What each worker holds and its log's last lines, after ``what`` did not happen."""
        print(f"\n{what}; the fleet now:", flush=True)
        for worker in self.workers:
            try:
                owned = worker.partition_events() if worker.alive else "not running"
            except OSError:
                owned = "not answering"
            tail = worker.log.read_text(errors="replace").splitlines()[-25:] if worker.log.exists() else []
            print(f"-- {worker.log.parent.name}: partition: events {owned}; its log ends:", *tail,
                  sep="\n  ", flush=True)

    def check(self) -> dict:
        args, bootstrap = self.args, self.broker.bootstrap
        offline = None if args.no_model else expected_model_counts(
            args.data, self.models, args.skip + args.rows, PARTITIONS, skip=args.skip,
            burn_in_days=args.burn_in_days)
        counts, (made, scored), valid = self.settle(offline)
        for worker in self.workers:
            worker.stop()
        dead = read_topic(bootstrap, "chaos.dlq")
        dead_keys = Counter((dict(m.headers())["source-partition"], dict(m.headers())["source-offset"])
                            for m in dead)
        ids = [orjson.loads(m.value())["id"] for m in read_topic(bootstrap, "chaos.events")]
        reference = Detector(dict(self.env, DETECTOR_APP_ID="chaos-reference", DRIFT_EVENTS_TOPIC="chaos.ref",
                                  DLQ_TOPIC="chaos.ref-dlq"), self.workdir / "reference").start()
        total = sum(valid.values())
        wait_for(lambda: reference.state_events() >= total, 120 + args.rows / 500, "the unharmed reference",
                 interval=1.0)
        reference.stop()
        expected = [orjson.loads(m.value())["id"] for m in read_topic(bootstrap, "chaos.ref")]
        result = {
            "states": counts == valid, "valid": total, "in_states": sum(counts.values()),
            "per_partition": ", ".join(f"{p}: {counts.get(p, 0):,.0f}/{valid[p]:,}" for p in sorted(valid)
                                       if counts.get(p, 0) != valid[p]),
            "dlq": len(dead) == args.malformed and max(dead_keys.values(), default=1) == 1,
            "dlq_count": len(dead), "alarms": len(ids), "alarm_repeats": len(ids) - len(set(ids)),
            "alarms_match": sorted(set(ids)) == sorted(expected) and len(ids) == len(set(ids)),
            "reference_alarms": len(expected),
        }
        if offline is not None:
            result.update(model=(made, scored) == offline, made=made, scored=scored, offline=offline)
        return result


def report(result: dict, log: list[dict]) -> bool:
    by_kind: dict[str, list[float]] = defaultdict(list)
    for fault in log:
        if not fault["after_replay"]:
            by_kind[fault["kind"]].append(fault["recovery"])
    late = sum(fault["after_replay"] for fault in log)
    print("\nrecovery (s), per fault kind: n, median, max"
          + (f" (during the replay; {late} fault(s) came after it)" if late else ""))
    for kind in KINDS:
        if by_kind[kind]:
            times = by_kind[kind]
            print(f"  {kind:<16} {len(times):>3}  {statistics.median(times):6.1f}  {max(times):6.1f}")
    checks = [("states", f"events in the states = valid events on the topic, per partition "
                         f"({result['in_states']:,.0f} of {result['valid']:,}"
                         + (f"; state/valid where they differ: {result['per_partition']})"
                            if result["per_partition"] else ")")),
              ("dlq", f"the DLQ holds each bad message once ({result['dlq_count']} dead letters)"),
              ("alarms_match", f"drift.events: {result['alarms']:,} events, {result['alarm_repeats']} "
                               f"repeated; the unharmed reference {result['reference_alarms']:,}")]
    if "model" in result:
        checks.append(("model", f"predictions made/scored {result['made']:,.0f}/{result['scored']:,.0f}, "
                                f"offline {result['offline'][0]:,}/{result['offline'][1]:,}"))
    print("\ninvariants:")
    for key, text in checks:
        print(f"  {'holds ' if result[key] else 'BROKEN'}  {text}")
    return all(result[key] for key, _ in checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--faults", type=int, default=100)
    parser.add_argument("--minutes", type=float, default=30.0, help="how long the replay lasts")
    parser.add_argument("--rows", type=int, default=541_909, help="time-ordered rows replayed")
    parser.add_argument("--skip", type=int, default=0, help="start at this row of the time order "
                        "(e.g. past the model's training window, where it predicts and scores)")
    parser.add_argument("--malformed", type=int, default=200, help="bad messages mixed in")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--no-model", action="store_true", help="no CLV model")
    parser.add_argument("--models", type=Path, help="a models dir with the model to use (default: "
                        "train the tests' model: rows before 2011-06-01, H = 14 days)")
    parser.add_argument("--burn-in-days", type=float, help="DETECTOR_MODEL_BURN_IN_DAYS (a short slice "
                        "needs less than the default to see predictions scored)")
    parser.add_argument("--kinds", default=",".join(KINDS), help="the fault kinds to draw from")
    parser.add_argument("--at-least-once", action="store_true", help="exactly once off (count the repeats)")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="driftstream-chaos-"))
    chaos = Chaos(args, workdir)
    try:
        ok = report(chaos.run(), chaos.log)
    finally:
        for worker in chaos.workers:
            worker.stop()
        chaos.broker.stop()
    verdict = "every invariant holds" if ok else "AN INVARIANT IS BROKEN"
    print(f"\nseed {args.seed}: {verdict} (logs: {workdir})")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
