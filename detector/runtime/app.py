"""The Faust worker: hands each fetch of transactions to the pipeline process.

Faust keeps the group, the rebalance hooks, the timers and the lifecycle; the events come
a fetch at a time from its consumer (runtime/batch_reader.py), not through an agent.
Offsets follow the state: the worker commits, itself, exactly the offsets its saved
snapshots cover — after a checkpoint, on revocation, on a clean stop — and nothing else
commits (Faust never sees an ack). With DETECTOR_EXACTLY_ONCE the pipeline process commits
them in the transaction that writes the snapshots (runtime/outbox.py), with the group
member's generation this process hands it. On revocation the revoked partitions' states are saved
and their offsets committed before Faust lets them go; the next owner restores them before
processing any of their events and skips the events a snapshot already covers
(runtime/state_store.py, pipeline/pipeline.py).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import faust
from faust.types import TP

from detector.runtime.batch_reader import BatchApp, Fetch
from detector.runtime.outbox import group_metadata
from detector.runtime.ownership import Chunk, Ownership
from detector.runtime.pipeline_process import PipelineProcess
from detector.runtime.settings import DetectorSettings
from schemas.kafka import ssl_context
from schemas.topics import KafkaSettings

log = logging.getLogger(__name__)


def faust_broker(bootstrap: str, transport: str = "kafka") -> str:
    return ";".join(f"{transport}://{host.strip()}" for host in bootstrap.split(",") if host.strip())


def faust_credentials(kafka: KafkaSettings) -> faust.types.auth.CredentialsT | None:
    """The broker's security for Faust (aiokafka): SASL over plaintext or TLS, or TLS alone."""
    context = ssl_context(kafka)
    if kafka.kafka_security_protocol.startswith("SASL"):
        password = kafka.kafka_sasl_password.get_secret_value() if kafka.kafka_sasl_password else ""
        return faust.SASLCredentials(username=kafka.kafka_sasl_username or "", password=password,
                                     ssl_context=context, mechanism=kafka.kafka_sasl_mechanism)
    return faust.SSLCredentials(context) if context is not None else None


def faust_app(app_id: str, settings: DetectorSettings, kafka: KafkaSettings, transport: str = "kafka",
              app_class: type[faust.App] = faust.App, max_poll_records: int | None = None) -> faust.App:
    """A Faust app with driftstream's consumer settings (the bench's bare agent uses it too).

    ``transport`` is Faust's driver: kafka (aiokafka). Its confluent driver read no event in
    60 s here (bench/throughput.py --transports kafka,confluent), so the worker uses kafka.
    """
    return app_class(
        app_id,
        broker=faust_broker(kafka.kafka_bootstrap_servers, transport),
        broker_credentials=faust_credentials(kafka),
        store="memory://",
        datadir=str(settings.data_dir),
        topic_partitions=kafka.topic_partitions,
        topic_disable_leader=True,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        stream_buffer_maxsize=16_384,
        broker_max_poll_records=max_poll_records or settings.batch_size,
        value_serializer="raw",
        key_serializer="raw",
        broker_session_timeout=settings.session_timeout,
        stream_wait_empty=False,  # an agent's unacked events wait for a snapshot, not for shutdown
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 4),
        consumer_group_instance_id=settings.group_instance_id,
        # A broker restarting can answer for a while without the topic: the group then assigns
        # nothing until the next metadata refresh (aiokafka's default: 5 min; bench/chaos.py).
        consumer_metadata_max_age_ms=30_000,
    )


def build_app(settings: DetectorSettings, kafka: KafkaSettings, pipeline: PipelineProcess) -> faust.App:
    app = faust_app(settings.app_id, settings, kafka, app_class=BatchApp)
    topic = kafka.transactions_topic
    processed: dict[int, int] = {}  # per partition: the next offset after the last one processed
    committed: dict[int, int] = {}  # per partition: the offset last committed
    unsaved = False  # events processed and not yet in a saved snapshot
    lock = asyncio.Lock()  # one batch, checkpoint, revocation, assignment or shutdown at a time
    member: list[bytes] = []  # the group metadata the pipeline process has (exactly once)
    stopping = asyncio.Event()
    restoring: set[asyncio.Future] = set()  # restore tasks: referenced until done
    ownership = Ownership()  # changed only under the lock

    async def on_fetch(records: Fetch) -> None:
        chunks = [(tp.partition, [(r.key, r.value, r.headers, r.topic, r.partition, r.offset) for r in batch])
                  for tp, batch in records.items() if tp.topic == topic and batch]
        async with lock:
            if stopping.is_set():  # not processed, not committed: the next owner reads them
                return
            # Events of partitions not (yet) owned wait for the assignment hook.
            await process(ownership.admit(chunks))

    def share_membership() -> None:
        """Hand the pipeline process the group member's current generation (before any call
        that may commit): a transaction's offsets are fenced by it."""
        if not settings.exactly_once:
            return
        coordinator = app.consumer._thread._ensure_consumer()._coordinator  # noqa: SLF001 (aiokafka's)
        # Out of the group (a member the coordinator dropped: generation reset to -1), nothing is
        # handed: the broker would take offsets without a generation unchecked, so none are sent.
        metadata = b"" if coordinator.generation < 0 else group_metadata(
            settings.app_id, coordinator.generation, coordinator.member_id, settings.group_instance_id)
        if member != [metadata]:
            member[:] = [metadata]
            pipeline.group(metadata)

    async def ask(call: Callable[..., Awaitable[bool | None]], *args: object) -> bool:
        """The pipeline process's answer to ``call(*args)``; False, and the worker crashed
        (non-zero exit), when that process is gone (it stops on purpose when a transaction
        cannot commit)."""
        try:
            share_membership()
            return bool(await call(*args))
        except RuntimeError as error:
            log.error("%s: stopping the worker", error)
            await app.crash(error)
            return False

    async def process(chunks: list[Chunk]) -> None:
        nonlocal unsaved
        messages = [m for _, batch in chunks for m in batch]
        if not messages:
            return
        try:
            share_membership()
            saved = await pipeline.process(messages)
        except Exception as error:
            # Crash the worker (non-zero exit, restarted by its supervisor) rather than go on
            # with a batch that is in no state.
            log.exception("pipeline failed; stopping the worker")
            await app.crash(error)
            return
        for partition, batch in chunks:
            processed[partition] = batch[-1][5] + 1
        unsaved = True
        if saved:
            await commit_saved()

    async def commit_saved(partitions: list[int] | None = None) -> bool:
        """Commit what the saved snapshots cover (every processed event, once a save answered
        True) for ``partitions`` (default: the owned ones); False if the commit failed."""
        nonlocal unsaved
        if partitions is None:
            unsaved, partitions = False, sorted(ownership.owned)
        offsets = {TP(topic, p): processed[p] for p in partitions
                   if p in processed and committed.get(p) != processed[p]}
        if not offsets:
            return True
        # Exactly once: the transaction that saved the snapshots committed these offsets.
        done = settings.exactly_once or await app.consumer._commit(offsets)  # noqa: SLF001 (no acks)
        if done:
            committed.update({tp.partition: offset for tp, offset in offsets.items()})
        return done

    app.read(app.topic(topic), on_fetch)

    @app.timer(interval=settings.checkpoint_seconds)
    async def checkpoint_when_idle() -> None:
        async with lock:
            if stopping.is_set():
                return
            if not unsaved or await ask(pipeline.checkpoint):
                await commit_saved()  # also retries a commit that failed

    @app.on_partitions_revoked.connect
    async def save_revoked(app: faust.App, revoked: set, **_: object) -> None:
        """Save the revoked partitions' states, then commit their offsets, before another
        worker takes them."""
        partitions = sorted(tp.partition for tp in revoked if tp.topic == topic)
        if not partitions:
            return
        async with lock:
            saved = await ask(pipeline.release, partitions)
            ownership.revoke(partitions)
            if not saved:
                # Events processed since the last snapshot are in no saved state; their offsets
                # stay uncommitted, and stopping keeps it so: whoever owns these partitions next
                # restores the last snapshot and reads on from the committed offsets.
                log.error("partitions %s revoked but their states could not be saved: stopping the "
                          "worker so nothing is committed past them (the next owner continues from "
                          "the last snapshot)", partitions)
                for p in partitions:
                    processed.pop(p, None)
                await app.crash(RuntimeError(f"states of partitions {partitions} not saved on revocation"))
                return
            done = await commit_saved(partitions)
            for p in partitions:
                processed.pop(p, None)
                committed.pop(p, None)
            log.info("partitions %s revoked: states saved, offsets %s", partitions,
                     "committed" if done else "not committed (the next owner skips what the "
                     "snapshot covers)")

    @app.on_partitions_assigned.connect
    async def restore_assigned(app: faust.App, assigned: set, **_: object) -> None:
        """Restore the assigned partitions' states before any of their events is processed:
        in a task that holds the lock from here on, not in this hook. aiokafka sends no
        heartbeat until the hook returns, and a restore longer than the session timeout
        (large states, a busy machine) got the member dropped from the group, its next
        commit refused (bench/RESULTS.md, the chaos run)."""
        partitions = sorted(tp.partition for tp in assigned if tp.topic == topic)
        await lock.acquire()  # batches, checkpoints and the next revocation wait for the restore
        task = asyncio.ensure_future(restore(partitions))
        restoring.add(task)
        task.add_done_callback(restoring.discard)

    async def restore(partitions: list[int]) -> None:
        try:
            await ask(pipeline.assign, partitions)
            held = ownership.assign(partitions)
            await process(held)  # events fetched before the hook ran
            log.info("partitions %s assigned: states in place (%d events that came before it processed)",
                     partitions, sum(len(batch) for _, batch in held))
        except Exception as error:  # not lost in a task nobody awaits: the worker stops, non-zero
            log.exception("restoring partitions %s failed; stopping the worker", partitions)
            await app.crash(error)
        finally:
            lock.release()

    @app.on_before_shutdown.connect
    async def save_on_stop(app: faust.App, **_: object) -> None:
        """A clean stop commits everything processed: save, then commit."""
        async with lock:
            stopping.set()
            if (not unsaved or await ask(pipeline.checkpoint)) and await commit_saved():
                log.info("stopped cleanly: states saved and offsets committed")

    @app.timer(interval=2.0)
    async def report_lag() -> None:
        consumer = app.consumer
        lags = {}
        for tp in consumer.assignment():
            if tp.topic != topic:
                continue
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lags[tp.partition] = max(highwater - processed.get(tp.partition, 0), 0)
        if lags:
            pipeline.lag(lags)

    return app
