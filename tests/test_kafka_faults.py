"""Faults on a real broker: a clean stop commits what it processed; damaged snapshots are ignored."""

from __future__ import annotations

import pickle
import sys
import time
import uuid

import cramjam
import numpy as np
import pytest
from confluent_kafka import Consumer, Producer, TopicPartition
from kafka_broker import KafkaBroker, wait_for
from services import base_env, read_topic, replay

from detector.pipeline.state import MAGIC, PartitionState
from detector.runtime.state_store import state_topic
from schemas.topics import KafkaSettings, ensure_topics

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


def test_damaged_snapshots_on_the_state_topic_are_ignored_and_counted(kafka_bootstrap, topics, data_path,
                                                                    start_detector) -> None:
    """Empty, text, random bytes, a snapshot of the wrong type: each partition starts afresh."""
    kafka = KafkaSettings(kafka_bootstrap_servers=kafka_bootstrap,
                          transactions_topic=topics["TRANSACTIONS_TOPIC"])
    state = state_topic(topics["DETECTOR_APP_ID"])
    ensure_topics(kafka, [kafka.transactions_topic, state], partitions=4)
    damaged = [b"", b"garbage\n", np.random.default_rng(1).bytes(4_096),
               MAGIC + bytes([PartitionState.FORMAT]) + bytes(cramjam.zstd.compress(pickle.dumps([1, 2])))]
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for partition, value in enumerate(damaged):
        producer.produce(state, key=f"{kafka.transactions_topic}:{partition}".encode(), value=value,
                         partition=partition)
    assert producer.flush(30) == 0
    env = base_env(kafka_bootstrap, topics, DETECTOR_REFERENCE_SIZE="2000")
    detector = start_detector(env)
    assert replay(env, "--data", str(data_path), "--limit", "5000").returncode == 0
    detector.wait_processed(5_000)
    assert detector.value("clv_state_rejected_total") == 4
    assert detector.state_events() == detector.value("clv_events_processed_total") == 5_000


def commit_to_end(bootstrap: str, group: str, topic: str) -> None:
    """Commit the group's offsets to the end of every partition of ``topic``."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": group, "enable.auto.commit": False})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        ends = [TopicPartition(topic, p, consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                                        timeout=10)[1]) for p in partitions]
        consumer.commit(offsets=ends, asynchronous=False)
    finally:
        consumer.close()


def test_a_damaged_latest_snapshot_falls_back_to_the_newest_usable_one(kafka_bootstrap, topics, data_path,
                                                                       start_detector) -> None:
    """A worker processes 5,000 events and stops cleanly; 5,000 more arrive, and the group's
    offsets are committed past them, as if newer snapshots had covered them. Then unusable
    records (a tombstone and an empty value on one partition; text, random bytes, a pickled
    list on the others) become each state partition's latest. The next worker walks back
    over them to the valid snapshots, says how far on /metrics, reads again the 5,000 events
    between those snapshots and the committed offsets, and goes on: every event counted once."""
    kafka = KafkaSettings(kafka_bootstrap_servers=kafka_bootstrap,
                          transactions_topic=topics["TRANSACTIONS_TOPIC"])
    group, state = topics["DETECTOR_APP_ID"], state_topic(topics["DETECTOR_APP_ID"])
    ensure_topics(kafka, [kafka.transactions_topic], partitions=4)
    env = base_env(kafka_bootstrap, topics, DETECTOR_REFERENCE_SIZE="2000")
    first = start_detector(env)
    assert replay(env, "--data", str(data_path), "--limit", "5000").returncode == 0
    first.wait_processed(5_000)
    first.stop()
    assert first.process.returncode == 0
    assert committed_total(kafka_bootstrap, group, kafka.transactions_topic) == 5_000

    assert replay(env, "--data", str(data_path), "--limit", "5000").returncode == 0
    commit_to_end(kafka_bootstrap, group, kafka.transactions_topic)
    assert committed_total(kafka_bootstrap, group, kafka.transactions_topic) == 10_000
    pickled_list = MAGIC + bytes([PartitionState.FORMAT]) + bytes(cramjam.zstd.compress(pickle.dumps([1, 2])))
    damaged = {0: [None, b""], 1: [b"garbage\n"], 2: [np.random.default_rng(1).bytes(4_096)],
               3: [pickled_list]}
    producer = Producer({"bootstrap.servers": kafka_bootstrap})
    for partition, values in damaged.items():
        for value in values:
            producer.produce(state, key=f"{kafka.transactions_topic}:{partition}".encode(), value=value,
                             partition=partition)
    assert producer.flush(30) == 0

    second = start_detector(env)
    second.wait_processed(10_000)
    scraped = second.scrape()
    assert second.value("clv_state_rejected_total") == 5
    skipped = {p: scraped[f'clv_state_restore_skipped{{partition="{p}"}}'] for p in range(4)}
    assert skipped == {0: 2, 1: 1, 2: 1, 3: 1}
    assert second.value("clv_events_processed_total") == 5_000  # only the events after the snapshots
    assert replay(env, "--data", str(data_path), "--limit", "2000").returncode == 0
    second.wait_processed(12_000)
    second.stop()
    assert second.process.returncode == 0
    assert committed_total(kafka_bootstrap, group, kafka.transactions_topic) == 12_000
    latest = {m.partition(): m for m in read_topic(kafka_bootstrap, state)}  # in offset order
    restored = [PartitionState.from_snapshot(m.value(), kafka.transactions_topic, p)
                for p, m in latest.items()]
    assert sum(s.events for s in restored) == 12_000  # the stop's snapshots are usable and the latest again


def test_a_broker_outage_is_seen_and_survived_with_exact_counts(data_path, start_detector,
                                                                background) -> None:
    """The broker stops mid-replay and comes back on the same log dirs: the outage shows on
    /metrics while it lasts, and afterwards every event is in the state exactly once."""
    broker = KafkaBroker().start()  # its own broker: this test stops it
    try:
        suffix = uuid.uuid4().hex[:8]
        topics = {"TRANSACTIONS_TOPIC": f"tx-{suffix}", "DETECTOR_APP_ID": f"d-{suffix}"}
        env = base_env(broker.bootstrap, topics, DETECTOR_REFERENCE_SIZE="2000",
                       DETECTOR_CHECKPOINT_SECONDS="2")
        detector = start_detector(env)
        producer = background([sys.executable, "-m", "producer", "replay", "--no-progress", "--data",
                               str(data_path), "--limit", "60000", "--rate", "3000"], env)
        wait_for(lambda: detector.state_events() > 15_000, 120, "the stream running", 0.5)
        broker.halt()
        wait_for(lambda: detector.value("clv_kafka_connected") == 0, 60, "the outage on /metrics", 0.5)
        broker.start()
        wait_for(lambda: detector.value("clv_kafka_connected") == 1, 120, "the broker back on /metrics", 0.5)
        assert producer.wait(300) == 0
        detector.wait_processed(60_000)
        assert detector.state_events() == 60_000
        assert detector.alive
        detector.stop()
    finally:
        broker.stop()


def test_topics_are_created_with_the_replication_settings(kafka_bootstrap) -> None:
    """Replication factor and min.insync.replicas come from settings (a one-broker cluster
    takes 1 and 1; a larger factor is refused by it with a clear error)."""
    from confluent_kafka.admin import AdminClient, ConfigResource

    name = f"rf-{uuid.uuid4().hex[:8]}"
    kafka = KafkaSettings(kafka_bootstrap_servers=kafka_bootstrap, topic_replication_factor=1,
                          topic_min_insync_replicas=1)
    ensure_topics(kafka, [name], config={"retention.ms": "3600000"})
    admin = AdminClient({"bootstrap.servers": kafka_bootstrap})
    configs = admin.describe_configs([ConfigResource("topic", name)])
    entries = next(iter(configs.values())).result()
    assert entries["min.insync.replicas"].value == "1" and entries["retention.ms"].value == "3600000"
    three = KafkaSettings(kafka_bootstrap_servers=kafka_bootstrap, topic_replication_factor=3)
    with pytest.raises(RuntimeError, match=f"cannot create topic {name}-3: .*[Rr]eplication factor"):
        ensure_topics(three, [f"{name}-3"])


def test_a_worker_that_cannot_save_a_revoked_state_stops_and_nothing_is_lost(
        kafka_bootstrap, topics, data_path, start_detector, tmp_path) -> None:
    """Worker A's snapshots outgrow its DETECTOR_STATE_MAX_BYTES: its saves fail (no crash, no
    commit), and when a second worker joins, A cannot save the partition it gives up. A stops
    rather than carry on past an unsaved state; B continues from A's last snapshot and the
    committed offset: every event counted once."""
    rows = 130_000
    kafka = KafkaSettings(kafka_bootstrap_servers=kafka_bootstrap,
                          transactions_topic=topics["TRANSACTIONS_TOPIC"])
    group = topics["DETECTOR_APP_ID"]
    ensure_topics(kafka, [kafka.transactions_topic], partitions=1)
    ensure_topics(kafka, [state_topic(group)], partitions=1,
                  config={"cleanup.policy": "compact", "max.message.bytes": str(64 * 1024 * 1024)})
    # A 200,000-event warm-up keeps the state growing (~9 bytes per event): past 1 MiB at ~115,000.
    env = base_env(kafka_bootstrap, topics, DETECTOR_REFERENCE_SIZE="200000", DETECTOR_CHECKPOINT_SECONDS="1")
    a = start_detector(dict(env, DETECTOR_STATE_MAX_BYTES=str(1024 * 1024)), tmp_path / "a")
    assert replay(env, "--data", str(data_path), "--limit", str(rows)).returncode == 0
    a.wait_processed(rows)
    wait_for(lambda: "over DETECTOR_STATE_MAX_BYTES" in a.log.read_text(), 60, "a failed save")
    committed = committed_total(kafka_bootstrap, group, kafka.transactions_topic)
    assert 0 < committed < rows  # what its last good snapshot covers, no more
    assert a.alive  # a failed checkpoint is not fatal: it only leaves offsets uncommitted
    assert a.value("clv_state_save_failures_total") >= 1

    b = start_detector(env, tmp_path / "b")  # the rebalance revokes A's partition
    wait_for(lambda: not a.alive, 120, "worker A to stop after its failed save", interval=0.2)
    assert a.process.returncode != 0
    assert "could not be saved: stopping the worker" in a.log.read_text()
    assert committed_total(kafka_bootstrap, group, kafka.transactions_topic) == committed
    b.wait_processed(rows)
    assert b.state_events() == rows  # A's last snapshot plus the rest, none twice
    wait_for(lambda: committed_total(kafka_bootstrap, group, kafka.transactions_topic) == rows, 60,
             "B to commit every offset")


def latest_snapshot_offsets(bootstrap: str, group: str) -> dict[int, int]:
    """Per state-topic partition: the input offset its latest snapshot covers (its header)."""
    topic = state_topic(group)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"peek-{uuid.uuid4().hex[:6]}",
                         "enable.auto.commit": False})
    try:
        covered = {}
        for p in consumer.list_topics(topic, timeout=10).topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            if high <= low:
                continue
            consumer.assign([TopicPartition(topic, p, high - 1)])
            msg = wait_for(lambda: (m := consumer.poll(1.0)) is not None and m.error() is None and m, 30,
                           f"the last record of {topic}[{p}]")
            covered[p] = int(dict(msg.headers())["offset"])
        return covered
    finally:
        consumer.close()


def test_committed_offsets_never_pass_what_the_snapshots_cover(kafka_bootstrap, topics, data_path,
                                                                start_detector) -> None:
    """Sampled while the worker reads, checkpointing every second: every partition's committed
    offset is at most one past the last event its latest snapshot holds (the worker commits
    only what a saved snapshot covers), and at the end exactly that."""
    rows = 60_000
    env = base_env(kafka_bootstrap, topics, DETECTOR_REFERENCE_SIZE="2000",
                   DETECTOR_CHECKPOINT_SECONDS="1", DETECTOR_BATCH_SIZE="500")
    group, topic = topics["DETECTOR_APP_ID"], topics["TRANSACTIONS_TOPIC"]
    detector = start_detector(env)
    assert replay(env, "--data", str(data_path), "--limit", str(rows)).returncode == 0
    consumer = Consumer({"bootstrap.servers": kafka_bootstrap, "group.id": group,
                         "enable.auto.commit": False})
    samples, midway, deadline = 0, 0, time.monotonic() + 600
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        while detector.state_events() < rows or samples < 3:
            assert time.monotonic() < deadline, f"{detector.state_events():.0f} of {rows} events in 600 s"
            committed = {tp.partition: tp.offset for tp in consumer.committed(
                [TopicPartition(topic, p) for p in partitions], timeout=10) if tp.offset >= 0}
            covered = latest_snapshot_offsets(kafka_bootstrap, group)  # read after: never older
            assert all(offset <= covered[p] + 1 for p, offset in committed.items()), (committed, covered)
            samples += 1
            midway += 0 < sum(committed.values()) < rows
    finally:
        consumer.close()
    assert midway >= 2, f"only {midway} of {samples} samples while the worker was reading"
    detector.stop()
    final = {p: o + 1 for p, o in latest_snapshot_offsets(kafka_bootstrap, group).items()}
    assert committed_total(kafka_bootstrap, group, topic) == sum(final.values()) == rows


SLOW_RESTORE = '''"""On PYTHONPATH in one test only: every state restore of the worker takes
DRIFTSTREAM_TEST_RESTORE_SECONDS longer, as large states on a busy machine do."""
import os
import time

from detector.runtime import state_store

_load = state_store.StateStore.load


def _slow_load(self, topic, partition):
    time.sleep(float(os.environ["DRIFTSTREAM_TEST_RESTORE_SECONDS"]))  # the restore's own time
    return _load(self, topic, partition)


state_store.StateStore.load = _slow_load
'''


def test_restores_longer_than_the_session_timeout_keep_the_worker_in_its_group(
        kafka_bootstrap, topics, data_path, start_detector, tmp_path) -> None:
    """Three partitions restored in 3 s each, 9 s in all, with a 6 s session timeout. aiokafka
    sends no heartbeat while the assignment hook runs: a restore inside it got the member
    dropped at every assignment (the chaos run's cascades of restarts). The restore runs after
    the hook; the worker stays in its group and counts every event once."""
    slow = tmp_path / "slow"
    slow.mkdir()
    (slow / "sitecustomize.py").write_text(SLOW_RESTORE)
    env = base_env(kafka_bootstrap, topics, DETECTOR_SESSION_TIMEOUT="6", DETECTOR_REFERENCE_SIZE="2000",
                   DRIFTSTREAM_TEST_RESTORE_SECONDS="3")
    env["PYTHONPATH"] = f"{slow}:{env['PYTHONPATH']}"
    detector = start_detector(env)
    assert replay(env, "--data", str(data_path), "--limit", "5000").returncode == 0
    detector.wait_processed(5_000, timeout=120)
    log = detector.log.read_text()
    # Dropped, it would rejoin (a new member id) at every assignment, its commits refused.
    assert log.count("Joined group") == 1 and "UnknownMemberId" not in log
    assert detector.state_events() == detector.value("clv_events_processed_total") == 5_000
