"""The Faust worker: a thin agent that hands batches to the pipeline process."""

from __future__ import annotations

import logging

import faust

from detector.offload import PipelineProcess
from detector.settings import DetectorSettings
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
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 4),
    )


def build_app(settings: DetectorSettings, kafka: KafkaSettings, pipeline: PipelineProcess) -> faust.App:
    app = faust_app(settings.app_id, settings, kafka)
    source = app.topic(kafka.transactions_topic)
    dlq = app.topic(kafka.dlq_topic)
    events = app.topic(kafka.drift_events_topic)
    processed_offsets: dict = {}

    @app.agent(source, name="detect")
    async def detect(stream):
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            messages = [(m.key, m.value, m.headers, m.topic, m.partition, m.offset)
                        for m in (e.message for e in batch)]
            try:
                dead_letters, drift_events = await pipeline.process(messages)
            except Exception as error:
                # Crash the worker (non-zero exit, restarted by its supervisor) rather than let
                # Faust restart a lone agent that would skip or stall the batch.
                log.exception("pipeline failed; stopping the worker")
                await app.crash(error)
                return
            for key, value, headers in dead_letters:
                await dlq.send(key=key, value=value, headers=headers)
            for key, value in drift_events:
                await events.send(key=key, value=value)
            for e in batch:
                processed_offsets[e.message.tp] = e.message.offset

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
