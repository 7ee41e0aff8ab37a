"""Wire settings, metrics, monitor and the Faust app together, and run the worker."""

from __future__ import annotations

import faust
from prometheus_client import CollectorRegistry

from detector.app import build_app
from detector.metrics import Metrics
from detector.pipeline import Pipeline
from detector.settings import DetectorSettings
from schemas.topics import KafkaSettings, ensure_topics


def build_pipeline(settings: DetectorSettings, registry: CollectorRegistry) -> Pipeline:
    return Pipeline(settings.monitor_config(), Metrics(registry), settings.reports_dir)


def run_worker(settings: DetectorSettings, kafka: KafkaSettings, registry: CollectorRegistry) -> None:
    ensure_topics(kafka, [kafka.transactions_topic, kafka.dlq_topic, kafka.drift_events_topic])
    pipeline = build_pipeline(settings, registry)
    app = build_app(settings, kafka, pipeline)
    worker = faust.Worker(app, loglevel=settings.log_level.upper(), quiet=True)
    worker.execute_from_commandline()
