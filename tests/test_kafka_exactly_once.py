"""Exactly once on a real broker (DETECTOR_EXACTLY_ONCE): a worker killed with outputs in an
open transaction leaves none of them to read_committed readers, and its successor writes
each of them once, the same as a worker that was never killed."""

from __future__ import annotations

import signal
import sys
import threading

import orjson
import pytest
from confluent_kafka import Consumer, IsolationLevel, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, OffsetSpec
from kafka_broker import wait_for
from services import base_env, read_topic

from detector.pipeline.state import PartitionState
from detector.runtime.outbox import Outbox, group_metadata
from detector.runtime.state_store import StateStore, state_topic
from schemas.topics import KafkaSettings, ensure_topics

ROWS = 60_000


@pytest.mark.parametrize("instance", [None, "worker-1"])
def test_group_metadata_is_what_librdkafka_serialises(instance: str | None) -> None:
    """Built from Faust's (aiokafka's) member, it must read back as a confluent consumer's:
    compared where librdkafka's own is known, before a join (generation -1, no member id)."""
    config = {"bootstrap.servers": "127.0.0.1:9", "group.id": "driftstream-detector"}
    consumer = Consumer(config if instance is None else {**config, "group.instance.id": instance})
    try:
        assert group_metadata("driftstream-detector", -1, "", instance) == consumer.consumer_group_metadata()
    finally:
        consumer.close()


def open_transaction(bootstrap: str, topic: str) -> bool:
    """Whether some partition of ``topic`` holds records of a transaction not yet committed
    (its high watermark is past its last stable offset)."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    partitions = admin.list_topics(topic, timeout=10).topics[topic].partitions
    ends = {}
    for level in (IsolationLevel.READ_COMMITTED, IsolationLevel.READ_UNCOMMITTED):
        futures = admin.list_offsets({TopicPartition(topic, p): OffsetSpec.latest() for p in partitions},
                                     isolation_level=level, request_timeout=10)
        ends[level] = {tp.partition: f.result().offset for tp, f in futures.items()}
    return any(ends[IsolationLevel.READ_UNCOMMITTED][p] > ends[IsolationLevel.READ_COMMITTED][p]
               for p in partitions)


def event_ids(bootstrap: str, topic: str, committed: bool = True) -> list[str]:
    return [orjson.loads(m.value())["id"] for m in read_topic(bootstrap, topic, committed=committed)]


@pytest.mark.kafka
def test_a_fenced_worker_and_a_killed_one_leave_each_drift_event_once(
        kafka_bootstrap, topics, data_path, start_detector, background, tmp_path) -> None:
    """A is frozen past the session timeout while B takes its partitions, then thawed: fenced
    out of the group, its transaction cannot commit and it stops. B is SIGKILLed with drift
    events in an open transaction; C continues. A read_committed reader of drift.events then
    sees exactly the events of a worker (another group) that read the same rows unharmed."""
    env = base_env(kafka_bootstrap, topics, DETECTOR_EXACTLY_ONCE="true", DETECTOR_REFERENCE_SIZE="2000",
                   DETECTOR_CHECKPOINT_SECONDS="3", DETECTOR_TRANSACTION_TIMEOUT="10",
                   DETECTOR_SESSION_TIMEOUT="6", DETECTOR_BATCH_SIZE="1000")
    events = topics["DRIFT_EVENTS_TOPIC"]
    # Time order: real drift, an alarm every few hundred events, so a transaction is seldom empty.
    def replay_rows(skip: int, limit: int):
        return background([sys.executable, "-m", "producer", "replay", "--no-progress", "--data",
                           str(data_path), "--order", "time", "--skip", str(skip), "--limit", str(limit),
                           "--rate", "2500"], env)

    # A checkpoints seldom, so it is frozen with work in an open transaction.
    a = start_detector(dict(env, DETECTOR_CHECKPOINT_SECONDS="20", DETECTOR_TRANSACTION_TIMEOUT="60"),
                       tmp_path / "a")
    b = start_detector(env, tmp_path / "b")
    wait_for(lambda: a.value("clv_partitions_owned") and b.value("clv_partitions_owned"), 120,
             "A and B sharing the partitions", interval=0.2)
    first_half = replay_rows(0, ROWS // 2)
    since: dict[str, float] = {}

    def a_has_unsaved_work() -> bool:
        metrics = a.scrape()
        saves = metrics.get("clv_state_save_seconds_count", 0.0)
        processed = sum(v for k, v in metrics.items() if k.startswith("clv_state_events{"))
        alarms = sum(v for k, v in metrics.items() if k.startswith("clv_drift_detected_total{"))
        if since.get("saves") != saves:
            since.update(saves=saves, processed=processed, alarms=alarms)
        return processed > since["processed"] + 1_000 and alarms > since["alarms"]

    wait_for(a_has_unsaved_work, 120, "A to raise alarms after its last save", interval=0.1)
    a.process.send_signal(signal.SIGSTOP)  # its Faust process: no heartbeat, no commit
    try:
        wait_for(lambda: set(b.partition_events()) == {0, 1, 2}, 120, "B to take A's partitions",
                 interval=0.2)
    finally:
        a.process.send_signal(signal.SIGCONT)
    wait_for(lambda: not a.alive, 120, "the fenced worker A to stop", interval=0.2)
    assert a.process.returncode != 0
    assert "did not commit" in a.log.read_text()

    assert first_half.wait(120) == 0
    second_half = replay_rows(ROWS // 2, ROWS)
    wait_for(lambda: b.state_events() > ROWS * 0.6 and open_transaction(kafka_bootstrap, events), 120,
             "worker B with drift events in an open transaction", interval=0.1)
    b.kill()  # SIGKILL, both processes: its open transaction is never committed
    c = start_detector(env, tmp_path / "c")
    assert second_half.wait(120) == 0
    wait_for(lambda: c.state_events() == ROWS, 300, "C's states to hold every event")
    # The same rows read by a worker of another group that is never harmed.
    reference = dict(env, DETECTOR_APP_ID=f"{topics['DETECTOR_APP_ID']}-ref",
                     DRIFT_EVENTS_TOPIC=f"{events}-ref")
    d = start_detector(reference, tmp_path / "d")
    wait_for(lambda: d.state_events() == ROWS, 300, "the reference worker to read every event")
    d.stop()

    # What A and B wrote after their last commits is in the log, aborted, and written again.
    wait_for(lambda: not open_transaction(kafka_bootstrap, events), 60, "B's transaction to be aborted")
    written = event_ids(kafka_bootstrap, events, committed=False)
    assert len(written) > len(set(written)), "no repeated output: the faults proved nothing"
    ids = event_ids(kafka_bootstrap, events)
    assert len(ids) == len(set(ids)), "a read_committed reader sees an event twice"
    expected = event_ids(kafka_bootstrap, f"{events}-ref")
    assert len(expected) > 100
    assert sorted(ids) == sorted(expected)


@pytest.mark.kafka
@pytest.mark.parametrize("outcome", ["commit", "abort"])
def test_a_snapshot_in_a_transaction_not_yet_ended_is_waited_for(kafka_bootstrap, topics, caplog,
                                                                  outcome: str) -> None:
    """The previous owner's last snapshot is in a transaction that has not ended when the next
    owner loads the partition (a commit returns before the broker has written its markers, and
    the group's offsets can show first: the chaos run lost events that way). The load waits for
    the transaction to end and returns its snapshot if it committed, the one before if not."""
    kafka = KafkaSettings(kafka_bootstrap_servers=kafka_bootstrap,
                          transactions_topic=topics["TRANSACTIONS_TOPIC"])
    app_id, topic = topics["DETECTOR_APP_ID"], kafka.transactions_topic
    ensure_topics(kafka, [topic], partitions=1)
    store = StateStore(kafka, Outbox(kafka, 1_000_000, f"{app_id}-next"), app_id, topic, 1_000_000,
                       transaction_timeout=30)

    def snapshot(offset: int) -> bytes:
        return PartitionState(topic, 0, monitor=None, tracker=None, offset=offset).snapshot()

    store.save([PartitionState(topic, 0, None, None, offset=99)], [snapshot(99)])
    previous = Producer({"bootstrap.servers": kafka_bootstrap, "transactional.id": f"{app_id}-previous"})
    previous.init_transactions(30)
    previous.begin_transaction()
    previous.produce(state_topic(app_id), key=f"{topic}:0".encode(), value=snapshot(199), partition=0)
    assert previous.flush(30) == 0
    loaded: list[PartitionState | None] = []
    loader = threading.Thread(target=lambda: loaded.append(store.load(topic, 0)))
    with caplog.at_level("INFO", logger="detector.runtime.state_store"):
        loader.start()
        wait_for(lambda: "waiting for the transaction open on it to end" in caplog.text, 30,
                 "the load to wait for the open transaction")
        assert not loaded  # still waiting
        previous.commit_transaction(30) if outcome == "commit" else previous.abort_transaction(30)
        loader.join(60)
    assert [state.offset for state in loaded] == [199 if outcome == "commit" else 99]
    store.close()
