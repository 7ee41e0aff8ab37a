"""The pipeline in a child process, so drift detection runs beside Faust, not inside it.

Faust's event loop and its consumer thread share one GIL; every microsecond of detection
there also stalls fetching. The child owns the pipeline, the Prometheus registry and the
/metrics server, and everything it writes to Kafka (dead letters, drift events, state
snapshots: runtime/outbox.py). The Faust process sends it each fetch raw and commits the
offsets only once it answers that a snapshot on the state topic covers them (nothing lost
on a crash).
It follows model.updates itself (runtime/model_updates.py).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import time
from multiprocessing.connection import Connection

from detector.runtime.settings import DetectorSettings
from schemas.topics import KafkaSettings

log = logging.getLogger(__name__)


class PipelineProcess:
    def __init__(self, settings: DetectorSettings, kafka: KafkaSettings) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.child = context.Process(target=_serve, args=(child, settings.model_dump(), kafka.model_dump()),
                                     name="driftstream-pipeline", daemon=True)
        self._lock = asyncio.Lock()
        self._ready = False

    def launch(self) -> None:
        """Start the child: it imports its modules (seconds) while the caller checks the broker
        and makes the topics, and touches Kafka only once ``start`` says go."""
        self.child.start()

    def start(self, timeout: float = 120.0) -> int:
        """Let the child (launched if not yet) start its work; return its /metrics port, or raise
        with its error."""
        if self.child.pid is None:
            self.launch()
        self._send("go", None)
        if not self._conn.poll(timeout):
            raise RuntimeError("the pipeline process did not start")
        kind, detail = self._conn.recv()
        if kind != "ready":
            raise RuntimeError(detail)
        self._ready = True
        return detail

    async def _call(self, kind: str, payload: object) -> object:
        async with self._lock:
            self._send(kind, payload)
            return await asyncio.get_running_loop().run_in_executor(None, self._recv)

    def _send(self, kind: str, payload: object) -> None:
        try:
            self._conn.send((kind, payload))
        except OSError:  # a broken pipe
            raise RuntimeError(f"the pipeline process died (exit code {self.child.exitcode})") from None

    async def process(self, messages: list[tuple]) -> bool:
        """Process (key, value, headers, topic, partition, offset) messages; True when the state
        topic now holds every state they went into (so their offsets may be committed)."""
        return await self._call("batch", messages)

    async def checkpoint(self) -> bool:
        """Save what changed; True when the state topic holds everything processed."""
        return await self._call("checkpoint", None)

    async def release(self, partitions: list[int]) -> bool:
        """Save revoked partitions' states and let them go; True once they are saved."""
        return await self._call("release", partitions)

    def group(self, metadata: bytes) -> None:
        """The consumer group member's metadata (generation), for transactional commits."""
        self._send("group", metadata)

    async def assign(self, partitions: list[int]) -> None:
        """Have the assigned partitions' states in place (restored from the state topic)."""
        await self._call("assign", partitions)

    def _recv(self) -> object:
        try:
            return self._conn.recv()
        except (EOFError, OSError):  # closed, or reset as it died
            raise RuntimeError(f"the pipeline process died (exit code {self.child.exitcode})") from None

    def lag(self, lags: dict[int, int]) -> None:
        if self.child.is_alive():  # else the worker is crashing already (a call said so)
            self._send("lag", lags)

    def stop(self) -> None:
        if self.child.is_alive() and self._ready:
            self._conn.send(("stop", None))
            self.child.join(30)
        if self.child.is_alive():  # hung, or never told to go: it holds nothing to save
            self.child.terminate()
            self.child.join(10)


def _serve(conn: Connection, settings_fields: dict, kafka_fields: dict) -> None:
    from prometheus_client import CollectorRegistry, start_http_server
    from threadpoolctl import threadpool_limits

    # The model predicts a few thousand customers at a time; OpenMP's pool of one thread per
    # core spins for the Faust process's core as well: with it the cutoffs' predictions took
    # 3 times as long on a busy 2-core machine (bench/RESULTS.md, the reading ladder).
    threadpool_limits(1)

    import river.drift  # noqa: F401  the slowest import (scikit-learn, pandas): done before the go

    from detector.metrics import Metrics
    from detector.pipeline.messages import Message
    from detector.pipeline.pipeline import Pipeline
    from detector.runtime.outbox import Outbox, TransactionFailed
    from detector.runtime.state_store import StateStore

    if conn.recv()[0] != "go":  # the parent found no broker (it says so) or stopped
        return
    settings, kafka = DetectorSettings(**settings_fields), KafkaSettings(**kafka_fields)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    registry = CollectorRegistry()
    metrics = Metrics(registry)
    try:
        follower, model = _start_models(settings, kafka)
        outbox = Outbox(kafka, settings.state_max_bytes, _transactional_id(settings),
                        settings.transaction_timeout)
        store = StateStore(kafka, outbox, settings.app_id, kafka.transactions_topic, settings.state_max_bytes,
                           on_rejected=metrics.state_rejected.inc,
                           on_restored=lambda p, skipped: metrics.restore_skipped.labels(str(p)).set(skipped),
                           transaction_timeout=settings.transaction_timeout)
    except Exception as error:  # a broken model, an unreachable broker: one line, no traceback
        conn.send(("error", str(error) or type(error).__name__))
        return
    pipeline = Pipeline(settings.monitor, metrics, settings.reports_dir, settings.model, model,
                        settings.limits(), load_state=store.load)
    ask = _retrain_asker(settings, kafka, pipeline, metrics, outbox)
    try:  # /metrics answers once the worker is ready (a readiness probe for compose and tests)
        server, _ = start_http_server(settings.metrics_port, settings.metrics_host, registry)
    except OSError as error:
        conn.send(("error", f"cannot serve /metrics on port {settings.metrics_port}: {error}"))
        return
    conn.send(("ready", server.server_port))
    last_save, group = time.monotonic(), None

    def process(messages: list[tuple]) -> None:
        out = pipeline.process([Message(*m) for m in messages])
        for letter in out.dead_letters:
            outbox.send(kafka.dlq_topic, letter.key, letter.value, letter.headers)
        for key, value in out.drift_events:
            outbox.send(kafka.drift_events_topic, key, value)
        ask()
    _watch_broker(outbox, metrics.kafka_connected)

    def save(states=None) -> bool:
        nonlocal last_save
        states = pipeline.dirty() if states is None else states
        started = time.perf_counter()
        offsets = None
        if outbox.transactional:  # the transaction covers every owned partition's outputs
            if not states:
                return True
            offsets = {(kafka.transactions_topic, p): s.offset + 1 for p, s in pipeline.partitions.items()
                       if s.offset >= 0}
        try:
            sizes = store.save(states, pipeline.snapshots(states), offsets, group)
        except TransactionFailed as error:
            # Its outputs are aborted and the states are past the last commit: only a restart from
            # the committed snapshots is exact again (a worker fenced out of the group ends here).
            log.error("%s; stopping the worker (the partitions go on from their last committed "
                      "snapshots)", error)
            raise SystemExit(3) from None
        if sizes is None:
            metrics.save_failures.inc()
            return False
        pipeline.saved(states, sizes)
        metrics.save_seconds.observe(time.perf_counter() - started)
        last_save = time.monotonic()
        return True

    while True:
        try:
            if conn.poll(0.25):
                kind, payload = conn.recv()
            else:
                kind, payload = "idle", None
        except EOFError:  # the worker is gone
            return
        if kind == "batch":
            process(payload)
            conn.send(time.monotonic() - last_save >= settings.checkpoint_seconds and save())
        elif kind == "checkpoint":
            conn.send(save())
        elif kind == "group":
            group = payload or None  # empty: out of the group, so no commit may carry offsets
        elif kind == "release":
            # A transaction commits every partition's outputs at once: their states go with it.
            revoked = [s for s in pipeline.dirty() if s.partition in payload]
            saved = save(None if outbox.transactional else revoked)
            released = pipeline.release(payload)
            if saved:
                store.keep(released)
            conn.send(saved)
        elif kind == "assign":
            for partition in payload:
                state = pipeline.state(kafka.transactions_topic, partition)
                if store.skipped.get(partition) and state.offset >= 0:
                    # Restored from an older snapshot than the latest: the committed offset may be
                    # past it. Read what lies between, so the partition goes on from there exactly.
                    missed = store.missed(partition, state.offset + 1)
                    log.warning("%s[%d]: %d events between the restored snapshot and the committed offset "
                                "read again", kafka.transactions_topic, partition, len(missed))
                    process(missed)
            conn.send(True)
        elif kind == "lag":
            for partition, lag in payload.items():
                if partition in pipeline.partitions:
                    metrics.lag.labels(str(partition)).set(lag)
        elif kind == "stop":
            save()
            metrics.up.set(0)
            return
        announcement = follower.poll()
        if announcement is not None:
            _update_model(pipeline, follower, announcement)


def _transactional_id(settings: DetectorSettings) -> str | None:
    """With DETECTOR_EXACTLY_ONCE, the producer's transactional id: the static member's own, so a
    restarted worker aborts at once what it left open; else a new one (a killed worker's open
    transaction then blocks read_committed readers until the transaction timeout)."""
    import uuid

    if not settings.exactly_once:
        return None
    return f"{settings.app_id}-{settings.group_instance_id or uuid.uuid4().hex}"


def _retrain_asker(settings: DetectorSettings, kafka: KafkaSettings, pipeline, metrics, outbox):
    """After each batch: the retrain policy's recommendation, and (auto) its request."""
    import socket

    from detector.model.retrain_policy import RetrainPolicy, reason
    from schemas import retrain

    policy, who = RetrainPolicy(settings.retrain), f"detector {socket.gethostname()} pid {os.getpid()}"

    def ask() -> None:
        signals, partitions = pipeline.material_impact()
        metrics.retrain_recommended.set(1 if policy.recommends(bool(partitions)) else 0)
        if not pipeline.partitions:
            return
        now = max(s.watermark for s in pipeline.partitions.values())
        trained_until = pipeline.model.trained_until if pipeline.model else None
        why = policy.should_request(bool(partitions), now, trained_until)
        if why:
            request = retrain.new_request(reason(why, signals, partitions, now, trained_until), "policy", who)
            outbox.send(kafka.retrain_requests_topic, b"clv", retrain.encode(request))
            metrics.retrain_requests.inc()
            log.warning("asked for retraining (request %s): %s", request.id, request.reason)

    return ask


def _watch_broker(outbox, gauge, interval: float = 5.0) -> None:
    """Keep ``gauge`` at 1 while the broker answers, 0 while it does not (in a thread)."""
    import threading

    def watch() -> None:
        was = True
        while True:
            started = time.monotonic()
            connected = outbox.reachable(timeout=interval)
            if connected != was:
                log.warning("Kafka broker %s", "reachable again" if connected else "unreachable")
            gauge.set(1 if connected else 0)
            was = connected
            time.sleep(max(interval - (time.monotonic() - started), 0.1))  # the check's cadence

    gauge.set(1)
    threading.Thread(target=watch, name="broker-watch", daemon=True).start()


def _start_models(settings: DetectorSettings, kafka: KafkaSettings):
    """The follower of model.updates, and the model to start with: the newest of the local
    `latest` and the newest version announced (fetched if this machine lacks it)."""
    from detector.model import loader
    from detector.runtime.model_updates import ModelFollower
    from schemas import artifacts

    follower = ModelFollower(kafka, settings.models_dir)
    local = artifacts.read_latest(settings.models_dir)
    announced = follower.catch_up()
    if announced is not None and (local is None or announced["version"] > local):
        path = follower.install(announced)
        if path.parent == settings.models_dir:
            artifacts.write_latest(settings.models_dir, announced["version"])
        return follower, loader.load(path)
    return follower, loader.load_latest(settings.models_dir)


def _update_model(pipeline, follower, announcement: dict) -> None:
    """Swap to an announced version if it is newer than the one in use (versions sort by time)."""
    from detector.model import loader

    version = announcement["version"]
    if pipeline.model_version is not None and version <= pipeline.model_version:
        log.info("model update %s ignored: %s is in use", version, pipeline.model_version)
        return
    try:
        pipeline.use_model(loader.load(follower.install(announcement)))
    except (loader.ModelLoadError, RuntimeError, ValueError) as error:
        log.error("model update %s not applied: %s", version, error)
