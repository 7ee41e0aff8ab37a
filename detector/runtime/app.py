"""The Faust worker: a thin agent that hands batches to the pipeline process.

Events are acked (so their offsets committed) only once the pipeline's checkpoint holds
them: see detector/runtime/checkpoint.py.
"""

from __future__ import annotations

import asyncio
import logging

import faust
import orjson

from detector.runtime.pipeline_process import PipelineProcess
from detector.runtime.settings import DetectorSettings
from schemas.topics import KafkaSettings

log = logging.getLogger(__name__)


def faust_broker(bootstrap: str) -> str:
    return ";".join(f"kafka://{host.strip()}" for host in bootstrap.split(",") if host.strip())


def faust_app(app_id: str, settings: DetectorSettings, kafka: KafkaSettings) -> faust.App:
    """A Faust app with driftstream's consumer settings (the bench's bare agent uses it too)."""
    return faust.App(
        app_id,
        broker=faust_broker(kafka.kafka_bootstrap_servers),
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
        stream_wait_empty=False,  # unacked events wait for a checkpoint, not for shutdown
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 4),
    )


def build_app(settings: DetectorSettings, kafka: KafkaSettings, pipeline: PipelineProcess) -> faust.App:
    app = faust_app(settings.app_id, settings, kafka)
    source = app.topic(kafka.transactions_topic)
    dlq = app.topic(kafka.dlq_topic)
    events = app.topic(kafka.drift_events_topic)
    updates = app.topic(kafka.model_updates_topic)
    processed_offsets: dict = {}
    unacked: list = []  # processed, not yet in a checkpoint
    streams: list = []
    lock = asyncio.Lock()  # one batch, checkpoint or shutdown at a time
    stopping = asyncio.Event()

    async def ack_all() -> None:
        """Ack what the checkpoint holds, once its dead letters and drift events are delivered
        (acked offsets get committed: nothing they produced may still be in a buffer)."""
        await app.producer.flush()
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
                await process(batch)

    async def process(batch) -> None:
        messages = [(m.key, m.value, m.headers, m.topic, m.partition, m.offset)
                    for m in (e.message for e in batch)]
        try:
            dead_letters, drift_events, checkpointed = await pipeline.process(messages)
        except Exception as error:
            # Crash the worker (non-zero exit, restarted by its supervisor) rather than let
            # Faust restart a lone agent that would skip or stall the batch.
            log.exception("pipeline failed; stopping the worker")
            await app.crash(error)
            return
        for letter in dead_letters:
            await dlq.send(key=letter.key, value=letter.value, headers=letter.headers)
        for key, value in drift_events:
            await events.send(key=key, value=value)
        for e in batch:
            processed_offsets[e.message.tp] = e.message.offset
        unacked.extend(batch)
        if checkpointed:
            await ack_all()

    @app.timer(interval=settings.checkpoint_seconds)
    async def checkpoint_when_idle() -> None:
        async with lock:
            if unacked and not stopping.is_set() and await pipeline.checkpoint():
                await ack_all()

    @app.on_before_shutdown.connect
    async def checkpoint_on_stop(app: faust.App, **_: object) -> None:
        """A clean stop commits everything processed: checkpoint, ack, then Faust's consumer
        commits the acked offsets as it stops (after this signal)."""
        async with lock:
            stopping.set()
            if unacked and await pipeline.checkpoint():
                await ack_all()
                log.info("stopped cleanly: state checkpointed and offsets acked")

    @app.agent(updates, name="model-updates")
    async def follow_models(stream):
        async for value in stream:
            try:
                update = orjson.loads(value)
                pipeline.model_update(str(update["version"]), update.get("path"))
            except (orjson.JSONDecodeError, KeyError, TypeError) as error:
                log.warning("ignoring a malformed model update (%s): %r", error, value[:200])

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
