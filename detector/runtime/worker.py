"""Wire settings, the pipeline process and the Faust app together, and run the worker."""

from __future__ import annotations

import logging

from detector.runtime.pipeline_process import PipelineProcess
from detector.runtime.settings import DetectorSettings
from schemas import kafka as connection
from schemas.artifacts import ARTIFACTS_TOPIC_CONFIG
from schemas.topics import KafkaSettings, ensure_topics

log = logging.getLogger(__name__)


def run_worker(settings: DetectorSettings, kafka: KafkaSettings) -> None:
    pipeline = PipelineProcess(settings, kafka)
    pipeline.launch()  # its imports overlap ours and the checks below
    try:
        import faust

        from detector.runtime.app import build_app

        log.info("connecting to Kafka at %s (%s)", kafka.kafka_bootstrap_servers,
                 kafka.kafka_security_protocol)
        connection.check(kafka)
        ensure_topics(kafka, [kafka.transactions_topic, kafka.dlq_topic, kafka.drift_events_topic,
                              kafka.model_updates_topic])
        ensure_topics(kafka, [kafka.model_artifacts_topic], partitions=1, config=ARTIFACTS_TOPIC_CONFIG)
        if settings.retrain.policy == "auto":  # one partition: the trainer answers requests in order
            ensure_topics(kafka, [kafka.retrain_requests_topic], partitions=1)
        port = pipeline.start()
        log.info("metrics on http://%s:%d/metrics", settings.metrics_host, port)
        app = build_app(settings, kafka, pipeline)
        faust.Worker(app, loglevel=settings.log_level.upper(), quiet=True).execute_from_commandline()
    finally:
        pipeline.stop()
