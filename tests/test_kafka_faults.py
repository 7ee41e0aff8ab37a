"""Faults on a real broker: a clean stop commits what it processed; a damaged state file is ignored."""

from __future__ import annotations

import pytest
from confluent_kafka import Consumer, TopicPartition
from services import base_env, replay

pytestmark = pytest.mark.kafka
ROWS = 20_000


def committed_total(bootstrap: str, group: str, topic: str) -> int:
    """Sum over partitions of the group's committed offsets on ``topic``."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        offsets = consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=10)
        return sum(max(tp.offset, 0) for tp in offsets)
    finally:
        consumer.close()


def test_a_clean_stop_commits_everything_processed(kafka_bootstrap, topics, data_path,
                                                   start_detector) -> None:
    env = base_env(kafka_bootstrap, topics, DETECTOR_REFERENCE_SIZE="2000",
                   DETECTOR_CHECKPOINT_SECONDS="3600")  # no periodic checkpoint: only the stop's
    group, topic = topics["DETECTOR_APP_ID"], topics["TRANSACTIONS_TOPIC"]
    detector = start_detector(env)
    assert replay(env, "--data", str(data_path), "--limit", str(ROWS)).returncode == 0
    detector.wait_processed(ROWS)
    assert committed_total(kafka_bootstrap, group, topic) < ROWS
    detector.stop()  # SIGTERM
    assert detector.process.returncode == 0
    assert committed_total(kafka_bootstrap, group, topic) == ROWS


def test_a_damaged_state_file_is_ignored_and_counted(kafka_bootstrap, topics, data_path, start_detector,
                                                     tmp_path) -> None:
    state = tmp_path / "state"
    state.mkdir()
    (state / "pipeline-state.pkl").write_bytes(b"garbage\n")
    env = base_env(kafka_bootstrap, topics, DETECTOR_REFERENCE_SIZE="2000")
    detector = start_detector(env)
    assert detector.value("clv_state_rejected_total") == 1
    assert replay(env, "--data", str(data_path), "--limit", "5000").returncode == 0
    detector.wait_processed(5_000)
    assert detector.value("clv_events_processed_total") == 5_000
