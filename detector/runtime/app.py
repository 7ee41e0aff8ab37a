"""The Faust worker: a thin agent that hands batches to the pipeline process.

Offsets follow the state: events are acked (so their offsets committed) only once the
pipeline answers that the state topic holds a snapshot covering them. On revocation the
revoked partitions' states are saved (and their events acked) before Faust lets them go;
the next owner restores them before processing any of their events and skips the events
a snapshot already covers (runtime/state_store.py, pipeline/pipeline.py).
"""

from __future__ import annotations

import asyncio
import logging

import faust

from detector.runtime.ownership import Ownership
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


def faust_app(app_id: str, settings: DetectorSettings, kafka: KafkaSettings, transport: str = "kafka"
              ) -> faust.App:
    """A Faust app with driftstream's consumer settings (the bench's bare agent uses it too).

    ``transport`` is Faust's driver: kafka (aiokafka). Its confluent driver read no event in
    60 s here (bench/throughput.py --transports kafka,confluent), so the worker uses kafka.
    """
    return faust.App(
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
        broker_max_poll_records=2_000,
        value_serializer="raw",
        key_serializer="raw",
        broker_session_timeout=settings.session_timeout,
        stream_wait_empty=False,  # unacked events wait for a snapshot, not for shutdown
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 4),
        consumer_group_instance_id=settings.group_instance_id,
    )


def build_app(settings: DetectorSettings, kafka: KafkaSettings, pipeline: PipelineProcess) -> faust.App:
    app = faust_app(settings.app_id, settings, kafka)
    source = app.topic(kafka.transactions_topic)
    processed_offsets: dict = {}
    unacked: list = []  # processed, not yet in a snapshot
    streams: list = []
    lock = asyncio.Lock()  # one batch, checkpoint, revocation, assignment or shutdown at a time
    stopping = asyncio.Event()
    ownership = Ownership()  # changed only under the lock

    async def ack_all() -> None:
        for event in unacked:
            await streams[0].ack(event)
        unacked.clear()

    @app.agent(source, name="detect")
    async def detect(stream):
        streams[:] = [stream]
        async for batch in stream.noack_take(settings.batch_size, within=settings.batch_seconds):
            async with lock:
                if stopping.is_set():  # left unacked: redelivered to the next owner, skipped there
                    continue
                # Events of partitions not (yet) owned wait for the assignment hook.
                await process(ownership.admit(batch))

    async def process(batch) -> None:
        if not batch:
            return
        messages = [(m.key, m.value, m.headers, m.topic, m.partition, m.offset)
                    for m in (e.message for e in batch)]
        try:
            saved = await pipeline.process(messages)
        except Exception as error:
            # Crash the worker (non-zero exit, restarted by its supervisor) rather than let
            # Faust restart a lone agent that would skip or stall the batch.
            log.exception("pipeline failed; stopping the worker")
            await app.crash(error)
            return
        for e in batch:
            processed_offsets[e.message.tp] = e.message.offset
        unacked.extend(batch)
        if saved:
            await ack_all()

    @app.timer(interval=settings.checkpoint_seconds)
    async def checkpoint_when_idle() -> None:
        async with lock:
            if unacked and not stopping.is_set() and await pipeline.checkpoint():
                await ack_all()

    @app.on_partitions_revoked.connect
    async def save_revoked(app: faust.App, revoked: set, **_: object) -> None:
        """Save the revoked partitions' states, then commit their offsets, before another
        worker takes them (Faust itself forgets the acks of revoked partitions)."""
        revoked = {tp for tp in revoked if tp.topic == kafka.transactions_topic}
        if not revoked:
            return
        partitions = sorted(tp.partition for tp in revoked)
        async with lock:
            unacked[:] = [e for e in unacked if e.message.tp not in revoked]
            offsets = {tp: processed_offsets.pop(tp) + 1 for tp in revoked if tp in processed_offsets}
            saved = await pipeline.release(partitions)
            ownership.revoke(partitions)
            if not saved:
                # Events processed since the last snapshot are in no saved state and their
                # offsets are uncommitted. Carrying on could let Faust commit past them (it
                # commits acked offsets above a gap); stopping cannot: whoever owns these
                # partitions next restores the last snapshot and reads on from the committed
                # offsets, which never pass what a snapshot covers.
                log.error("partitions %s revoked but their states could not be saved: stopping the "
                          "worker so nothing is committed past them (the next owner continues from "
                          "the last snapshot)", partitions)
                await app.crash(RuntimeError(f"states of partitions {partitions} not saved on revocation"))
                return
            committed = not offsets or await app.consumer._commit(offsets)  # noqa: SLF001 (no public API)
            log.info("partitions %s revoked: states saved, offsets %s", partitions,
                     "committed" if committed else "not committed (the next owner skips what the "
                     "snapshot covers)")

    @app.on_partitions_assigned.connect
    async def restore_assigned(app: faust.App, assigned: set, **_: object) -> None:
        """Restore the assigned partitions' states before any of their events is processed."""
        partitions = sorted(tp.partition for tp in assigned if tp.topic == kafka.transactions_topic)
        async with lock:
            await pipeline.assign(partitions)
            held = ownership.assign(partitions)
            await process(held)  # events Faust handed over before this hook ran
        log.info("partitions %s assigned: states in place (%d events that came before it processed)",
                 partitions, len(held))

    @app.on_before_shutdown.connect
    async def save_on_stop(app: faust.App, **_: object) -> None:
        """A clean stop commits everything processed: save, ack, then Faust's consumer
        commits the acked offsets as it stops (after this signal)."""
        async with lock:
            stopping.set()
            if unacked and await pipeline.checkpoint():
                await ack_all()
                log.info("stopped cleanly: states saved and offsets acked")

    @app.timer(interval=2.0)
    async def report_lag() -> None:
        consumer = app.consumer
        lags = {}
        for tp in consumer.assignment():
            if tp.topic != kafka.transactions_topic:
                continue
            highwater = consumer.highwater(tp)
            if highwater is not None:
                lags[tp.partition] = max(highwater - (processed_offsets.get(tp, -1) + 1), 0)
        if lags:
            pipeline.lag(lags)

    return app
