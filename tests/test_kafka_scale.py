"""Scale-out on a real broker: workers share a 6-partition topic; states follow partitions.

Counts are read from the partitions' states (clv_state_*), summed over the live workers once
every partition is owned by exactly one of them: they move with the state, so they stay exact
whichever worker dies or joins.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import orjson
import pytest
from kafka_broker import wait_for
from services import (
    SLICE_BURN_IN_DAYS,
    SLICE_END,
    SLICE_START,
    Detector,
    base_env,
    expected_model_counts,
    metric_sum,
    partition_events_of,
    partition_sizes,
    read_topic,
    replay,
)

from schemas import artifacts
from schemas.topics import KafkaSettings
from trainer.cli import publish

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
ROWS = 541_909
PARTITIONS = 6
COUNTS = ("clv_state_events", "clv_state_model_predictions", "clv_state_model_scored")


def fleet_env(bootstrap: str, topics: dict, **extra: str) -> dict:
    # No DETECTOR_MODELS_DIR: each worker has its own, empty, as on separate machines.
    return base_env(bootstrap, topics, **{"TOPIC_PARTITIONS": str(PARTITIONS), **extra})


def fleet_scrapes(workers: list[Detector]) -> list[dict[str, float]] | None:
    """Each live worker scraped once; None mid-rebalance. Only when every partition is owned by
    exactly one worker do the scrapes add up to the fleet: a revoked partition's series are gone
    until its new owner has restored its state."""
    scrapes = [w.scrape() for w in workers if w.alive]
    if sorted(p for s in scrapes for p in partition_events_of(s)) != list(range(PARTITIONS)):
        return None
    return scrapes


def fleet_sum(scrapes: list[dict[str, float]], metric: str) -> float:
    return sum(metric_sum(scrape, metric) for scrape in scrapes)


def fleet(workers: list[Detector], metric: str) -> float:
    scrapes = wait_for(lambda: fleet_scrapes(workers), 120, "every partition owned by one worker")
    return fleet_sum(scrapes, metric)


def owned(worker: Detector) -> set[int]:
    return set(worker.partition_events())


def wait_fleet(workers: list[Detector], count: int, timeout: float = 900) -> None:
    def reached() -> bool:
        scrapes = fleet_scrapes(workers)
        return scrapes is not None and fleet_sum(scrapes, "clv_state_events") >= count

    wait_for(reached, timeout, f"{count} events in the fleet's states", interval=0.5)


def wait_fleet_counts(workers: list[Detector], expected: tuple[float, ...], timeout: float = 120) -> None:
    """Wait until the fleet's (events, predictions, scored) settle at ``expected``: counts that
    only grow, so one past it (counted twice) or short of it (lost) never gets there."""
    last: list[tuple[float, ...]] = []  # the latest counts read while the fleet was settled

    def settled() -> bool:
        scrapes = fleet_scrapes(workers)
        if scrapes is not None:
            last[:] = [tuple(fleet_sum(scrapes, m) for m in COUNTS)]
        return last == [expected]

    try:
        wait_for(settled, timeout, f"(events, predictions, scored) = {expected}", interval=0.5)
    except TimeoutError as error:
        raise AssertionError(f"the fleet's counts {last} never reached {expected}") from error


def announce(bootstrap: str, topics: dict, models: Path) -> str:
    version = artifacts.read_latest(models)
    kafka = KafkaSettings(kafka_bootstrap_servers=bootstrap,
                          model_updates_topic=topics["MODEL_UPDATES_TOPIC"])
    publish(kafka, orjson.loads((models / version / artifacts.METADATA).read_bytes()), models / version)
    return version


def test_three_workers_share_the_clean_year_and_a_new_one_continues_from_kafka(
        kafka_bootstrap, topics, data_path, start_detector, tmp_path) -> None:
    """The clean year through Kafka: the whole shuffled year, three workers on six partitions,
    not one alarm, every event and evaluation counted once."""
    env = fleet_env(kafka_bootstrap, topics)
    workers = [start_detector(env, tmp_path / f"worker-{i}") for i in range(3)]
    wait_for(lambda: all(w.value("clv_partitions_owned") >= 1 for w in workers), 120,
             "every worker to own a partition", interval=0.5)
    result = replay(env, "--data", str(data_path), "--order", "shuffled", "--seed", "42")
    assert result.returncode == 0, result.stderr
    wait_fleet(workers, ROWS)
    assert fleet(workers, "clv_state_events") == ROWS
    assert fleet(workers, "clv_drift_detected_total") == 0
    assert [m for m in read_topic(kafka_bootstrap, topics["DRIFT_EVENTS_TOPIC"])
            if orjson.loads(m.value())["kind"] == "alarm"] == []
    # What one worker gives on this replay: per partition, warm-up N, window W, a pane every W/P.
    sizes = partition_sizes(kafka_bootstrap, topics["TRANSACTIONS_TOPIC"])
    assert len(sizes) == PARTITIONS
    assert fleet(workers, "clv_state_evaluations") == sum((s - 20_000 - 200) // 50 + 1 for s in sizes)
    # Each partition's series on exactly one worker.
    shares = [owned(w) for w in workers]
    assert sorted(p for share in shares for p in share) == list(range(PARTITIONS))

    for worker in workers:  # all stopped; a worker on a new machine (empty disk) carries on
        worker.stop()
    fresh = start_detector(env, tmp_path / "fresh")
    result = replay(env, "--data", str(data_path), "--order", "shuffled", "--seed", "7", "--limit", "10000")
    assert result.returncode == 0, result.stderr
    fresh.wait_processed(ROWS + 10_000)
    assert fresh.state_events() == ROWS + 10_000
    assert fresh.value('clv_window_fill_ratio{window="reference"}') == 1.0  # no warm-up restart
    assert fresh.value("clv_state_rejected_total") == 0


def test_a_killed_worker_and_a_joining_one_leave_every_count_exact(
        kafka_bootstrap, topics, data_path, june_model, start_detector, background, tmp_path) -> None:
    skip, limit, burn_in = SLICE_START, SLICE_END, SLICE_BURN_IN_DAYS
    rows = limit - skip
    version = announce(kafka_bootstrap, topics, june_model)  # before any worker: each fetches it
    env = fleet_env(kafka_bootstrap, topics, DETECTOR_CHECKPOINT_SECONDS="2",
                    DETECTOR_MODEL_BURN_IN_DAYS=str(burn_in))
    workers = [start_detector(env, tmp_path / f"worker-{i}") for i in range(3)]
    assert all(w.value(f'clv_model_version_info{{version="{version}"}}') == 1 for w in workers)
    producer = background([sys.executable, "-m", "producer", "replay", "--no-progress", "--data",
                           str(data_path), "--order", "time", "--skip", str(skip), "--limit", str(limit),
                           "--rate", "3000"], env)
    wait_for(lambda: fleet(workers, "clv_state_events") > 40_000
             and fleet(workers, "clv_model_pending_predictions") > 0, 300,
             "pending predictions mid-replay", interval=0.2)
    workers[0].kill()  # SIGKILL: no shutdown code runs
    wait_fleet(workers, 75_000)
    workers.append(start_detector(env, tmp_path / "worker-3"))  # a fourth joins mid-replay
    assert producer.wait(300) == 0
    made, scored = expected_model_counts(data_path, june_model, limit, PARTITIONS, skip=skip,
                                         burn_in_days=burn_in)
    assert scored > 0
    wait_fleet(workers, rows)
    wait_fleet_counts(workers, (rows, made, scored))  # no event or prediction lost or counted twice
    assert sorted(p for w in workers if w.alive for p in owned(w)) == list(range(PARTITIONS))


def test_a_model_announced_mid_replay_reaches_every_worker(
        kafka_bootstrap, topics, data_path, june_model, start_detector, background, tmp_path) -> None:
    env = fleet_env(kafka_bootstrap, topics, DETECTOR_REFERENCE_SIZE="2000")
    workers = [start_detector(env, tmp_path / f"worker-{i}") for i in range(3)]
    producer = background([sys.executable, "-m", "producer", "replay", "--no-progress", "--data",
                           str(data_path), "--limit", "60000", "--rate", "3000"], env)
    wait_fleet(workers, 10_000)
    version = announce(kafka_bootstrap, topics, june_model)
    for worker in workers:
        wait_for(lambda w=worker: w.value(f'clv_model_version_info{{version="{version}"}}') == 1, 120,
                 f"{worker.log.parent.name} to use {version}", interval=0.5)
        fetched = worker.log.parent / "models" / version
        assert (fetched / artifacts.METADATA).exists()  # from Kafka
        assert (fetched / artifacts.LOSS_MODEL).read_bytes() == (june_model / version / artifacts.LOSS_MODEL
                                                                 ).read_bytes()  # the loss model too
    assert producer.wait(120) == 0
    wait_fleet(workers, 60_000)


def test_a_worker_restarted_in_place_keeps_its_partitions_without_a_rebalance(
        kafka_bootstrap, topics, data_path, start_detector, tmp_path) -> None:
    # Static membership (DETECTOR_GROUP_INSTANCE_ID): the group waits for the member, not for a
    # new assignment; with a session timeout of 60 s a plain restart would leave its partitions
    # idle for a minute and move the other worker's too.
    env = fleet_env(kafka_bootstrap, topics, DETECTOR_SESSION_TIMEOUT="60", DETECTOR_REFERENCE_SIZE="2000")

    def worker(i: int) -> Detector:
        return start_detector(dict(env, DETECTOR_GROUP_INSTANCE_ID=f"worker-{i}"), tmp_path / f"worker-{i}")

    workers = [worker(0), worker(1)]
    wait_for(lambda: sorted(len(owned(w)) for w in workers) == [3, 3], 120, "three partitions each",
             interval=0.5)
    kept, moved = owned(workers[0]), owned(workers[1])
    assert replay(env, "--data", str(data_path), "--limit", "20000").returncode == 0
    wait_fleet(workers, 20_000)
    revocations = workers[0].log.read_text().count(" revoked")

    workers[1].kill()
    killed = time.monotonic()
    again = worker(1)
    wait_for(lambda: owned(again) == moved, 50, "the restarted worker to own its partitions again",
             interval=0.2)
    assert time.monotonic() - killed < 60  # before the session timeout: no wait for a dead member
    assert replay(env, "--data", str(data_path), "--limit", "10000", "--seed", "7").returncode == 0
    wait_fleet([workers[0], again], 30_000)
    assert fleet([workers[0], again], "clv_state_events") == 30_000
    assert owned(workers[0]) == kept
    assert workers[0].log.read_text().count(" revoked") == revocations  # the other worker never paused
