"""Fixtures: one real Apache Kafka broker per session, unique topics and groups per test."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from kafka_broker import KafkaBroker

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("DRIFTSTREAM_DATA", ROOT.parent / "shared" / "data" / "online_retail.parquet"))


@pytest.fixture(scope="session")
def data_path() -> Path:
    if not DATA.exists():
        pytest.fail(f"the Online Retail data set is missing at {DATA} (set DRIFTSTREAM_DATA)")
    return DATA


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """An external broker from KAFKA_BOOTSTRAP_SERVERS, else a fresh KRaft broker."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    broker = KafkaBroker().start()
    try:
        yield broker.bootstrap
    finally:
        broker.stop()


@pytest.fixture
def topics() -> dict[str, str]:
    suffix = uuid.uuid4().hex[:8]
    return {
        "TRANSACTIONS_TOPIC": f"tx-{suffix}",
        "DLQ_TOPIC": f"dlq-{suffix}",
        "DRIFT_EVENTS_TOPIC": f"events-{suffix}",
        "MODEL_UPDATES_TOPIC": f"models-{suffix}",
        "DETECTOR_APP_ID": f"detector-{suffix}",
    }
