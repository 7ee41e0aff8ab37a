"""The model loop without a broker: predictions and scores, checkpoint = uninterrupted run, swap."""

from __future__ import annotations

import math
import pickle

import cramjam
import numpy as np
import orjson
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry

from detector.drift.monitor import MonitorConfig
from detector.metrics import Metrics
from detector.model.customers import INVOICES, RECENT
from detector.model.loader import load
from detector.model.tracker import DEFAULT_HORIZON_DAYS, ModelConfig
from detector.pipeline.messages import Message
from detector.pipeline.pipeline import Pipeline
from detector.pipeline.report_page import render
from detector.pipeline.state import MAGIC, PartitionState, SnapshotError
from producer import data
from producer.replay import encode_rows, partitions_of
from schemas.features import DAY, INVOICE_GRACE
from trainer import versions
from trainer.features import customer_features, line_totals
from trainer.train import fit

HORIZON = 14
MONITOR = MonitorConfig(reference_size=2_000, window_size=200, panes=4)


@pytest.fixture(scope="module")
def ordered(data_path) -> pd.DataFrame:
    frame = data.load_online_retail(data_path).sort_values("InvoiceDate", kind="stable")
    return frame[frame["InvoiceDate"] < "2011-05-01"].reset_index(drop=True)


@pytest.fixture(scope="module")
def model_dir(ordered, tmp_path_factory):
    train = ordered[ordered["InvoiceDate"] < "2011-04-15"].reset_index(drop=True)
    _, path = versions.save(tmp_path_factory.mktemp("models"), fit(train, HORIZON), train, HORIZON, "test")
    return path


@pytest.fixture(scope="module")
def messages(ordered) -> list[Message]:
    parts = partitions_of(ordered, 3)
    return [Message(key, value, [], "tx", int(p), i)
            for i, ((key, value), p) in enumerate(zip(encode_rows(ordered), parts, strict=True))]


def pipeline(model_dir, tmp_path) -> tuple[Pipeline, CollectorRegistry]:
    registry = CollectorRegistry()
    return Pipeline(MONITOR, Metrics(registry), tmp_path, ModelConfig(), load(model_dir)), registry


def feed(p: Pipeline, messages: list[Message], batch: int = 1_000) -> None:
    for start in range(0, len(messages), batch):
        p.process(messages[start:start + batch])


def test_streamed_features_equal_the_trainers(ordered, model_dir, messages, tmp_path) -> None:
    p, _ = pipeline(model_dir, tmp_path)
    feed(p, messages[:100_000])
    cutoff = pd.Timestamp(p.partitions[0].tracker.next_cutoff, unit="s")  # not passed yet
    rows = line_totals(ordered.iloc[:100_000])
    expected = customer_features(rows, cutoff, HORIZON)
    streamed = pd.concat([s.tracker.store.features(cutoff.timestamp()) for s in p.partitions.values()])
    streamed = streamed.sort_index()
    assert list(streamed.index) == list(expected.index)
    np.testing.assert_allclose(streamed.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-6)


@pytest.fixture(scope="module")
def whole(model_dir, messages, tmp_path_factory) -> tuple[Pipeline, CollectorRegistry, list[dict]]:
    """One pipeline fed every message without interruption, and its drift events (the tests only
    read them)."""
    p, registry = pipeline(model_dir, tmp_path_factory.mktemp("whole"))
    events = []
    for start in range(0, len(messages), 1_000):
        events += [orjson.loads(v) for _, v in p.process(messages[start:start + 1_000]).drift_events]
    return p, registry, events


def predictions(p: Pipeline) -> tuple[int, int]:
    return (sum(s.tracker.predictions for s in p.partitions.values()),
            sum(s.tracker.scored for s in p.partitions.values()))


def test_predictions_are_scored_when_their_horizon_passes(whole) -> None:
    p, registry, _ = whole
    made, scored = predictions(p)
    assert made > 0 and scored > 0
    assert registry.get_sample_value("clv_model_predictions_total") == made
    assert registry.get_sample_value("clv_model_scored_total") == scored
    for partition, state in p.partitions.items():  # the state's counts, per partition
        assert registry.get_sample_value("clv_state_model_scored", {"partition": str(partition)}) \
            == state.tracker.scored
        # Pending = predictions made at cutoffs whose horizon has not passed yet.
        assert all(pending.cutoff + HORIZON * DAY > state.watermark for pending in state.tracker.pending)
    mae = registry.get_sample_value("clv_model_performance", {"metric": "mae"})
    assert math.isfinite(mae) and mae > 0
    assert registry.get_sample_value("clv_model_performance", {"metric": "holdout_mae"}) \
        == p.model.holdout["mae"]


def snapshots(p: Pipeline) -> dict[int, bytes]:
    return {partition: state.snapshot() for partition, state in p.partitions.items()}


def test_snapshots_and_redelivery_equal_an_uninterrupted_run(model_dir, messages, whole, tmp_path) -> None:
    whole, _, _ = whole
    first, _ = pipeline(model_dir, tmp_path / "b")
    feed(first, messages[:120_000])
    saved = snapshots(first)
    feed(first, messages[120_000:125_000])  # processed after the snapshots, then "killed"
    resumed, registry = pipeline(model_dir, tmp_path / "c")
    resumed.load_state = lambda topic, part: PartitionState.from_snapshot(saved[part], topic, part)
    feed(resumed, messages[110_000:])  # Kafka redelivers from the last commit (before the snapshot)
    assert sum(s.events for s in resumed.partitions.values()) == len(messages)
    assert registry.get_sample_value("clv_events_processed_total") == len(messages) - 120_000
    assert predictions(resumed) == predictions(whole)
    assert resumed.tracker.performance([resumed.partitions[p].tracker for p in range(3)]) == \
        whole.tracker.performance([whole.partitions[p].tracker for p in range(3)])
    assert {k: (s.monitor.events_processed, s.evaluations) for k, s in resumed.partitions.items()} == \
        {k: (s.monitor.events_processed, s.evaluations) for k, s in whole.partitions.items()}


def test_a_released_partition_moves_to_another_pipeline(model_dir, messages, whole, tmp_path) -> None:
    """Two workers: one owns every partition, then gives partition 1 to the other."""
    one, registry = pipeline(model_dir, tmp_path / "a")
    feed(one, messages[:60_000])
    one.metrics.lag.labels("1").set(42)  # as the runtime reports it
    moved = one.partitions[1].snapshot()
    one.release([1])
    assert sorted(one.partitions) == [0, 2]
    for metric in ("clv_state_events", "clv_consumer_lag_messages", "clv_state_model_scored"):
        assert registry.get_sample_value(metric, {"partition": "1"}) is None  # series follow ownership
    assert registry.get_sample_value("clv_state_events", {"partition": "0"}) == one.partitions[0].events
    two, _ = pipeline(model_dir, tmp_path / "b")
    two.load_state = lambda topic, partition: PartitionState.from_snapshot(moved, topic, partition)
    rest = messages[60_000:]
    feed(one, [m for m in rest if m.partition != 1])
    feed(two, [m for m in rest if m.partition == 1])
    whole, _, _ = whole
    assert two.partitions[1].events == whole.partitions[1].events
    assert (two.partitions[1].tracker.scored, one.partitions[0].tracker.scored) == \
        (whole.partitions[1].tracker.scored, whole.partitions[0].tracker.scored)


def test_a_snapshot_of_another_partition_is_refused(model_dir, messages, tmp_path) -> None:
    p, _ = pipeline(model_dir, tmp_path)
    feed(p, messages[:5_000])
    with pytest.raises(SnapshotError, match="tx\\[0\\]"):
        PartitionState.from_snapshot(p.partitions[0].snapshot(), "tx", 1)
    with pytest.raises(SnapshotError, match="other"):
        PartitionState.from_snapshot(p.partitions[0].snapshot(), "other", 0)


@pytest.mark.parametrize("content", [
    b"", b"garbage\n", np.random.default_rng(1).bytes(4_096), np.random.default_rng(2).bytes(4_096),
    MAGIC + bytes([PartitionState.FORMAT]) + bytes(cramjam.zstd.compress(pickle.dumps([1, 2, 3]))),
    MAGIC + bytes([PartitionState.FORMAT]) + b"truncated",
    MAGIC + bytes([PartitionState.FORMAT - 1]) + b"x",
], ids=["empty", "text", "random-1", "random-2", "list", "truncated", "old-format"])
def test_a_damaged_snapshot_is_refused(content: bytes) -> None:
    with pytest.raises(SnapshotError):
        PartitionState.from_snapshot(content, "tx", 0)


def test_a_new_model_swaps_reference_and_version(model_dir, messages, tmp_path) -> None:
    registry = CollectorRegistry()
    p = Pipeline(MONITOR, Metrics(registry), tmp_path, ModelConfig())
    feed(p, messages[:9_000])
    assert all(s.monitor.reference.source == "warm-up" for s in p.partitions.values())
    model = load(model_dir)
    p.use_model(model)
    assert all(s.monitor.reference.source == model.version and s.monitor.window_fill == 0
               for s in p.partitions.values())
    assert registry.get_sample_value("clv_model_version_info", {"version": model.version}) == 1
    assert registry.get_sample_value("clv_model_version_info", {"version": "none"}) == 0
    assert registry.get_sample_value("clv_reference_info", {"source": "warm-up"}) == 0


def test_customer_state_stays_bounded_without_a_model(messages, tmp_path) -> None:
    p = Pipeline(MONITOR, Metrics(CollectorRegistry()), tmp_path, ModelConfig())
    feed(p, messages)
    for state in p.partitions.values():
        oldest = min(when for c in state.tracker.store.customers.values() for when in c[RECENT])
        assert oldest >= state.watermark - DEFAULT_HORIZON_DAYS * DAY - ModelConfig().step_days * DAY
        kept = min(when for c in state.tracker.store.customers.values() for when in c[INVOICES].values())
        assert kept >= state.watermark - INVOICE_GRACE - ModelConfig().step_days * DAY
    assert predictions(p) == (0, 0)


def test_the_same_events_again_grow_no_customer_state(ordered) -> None:
    """A replay of the same rows (event time does not advance) adds to the sums, not to the
    state: 20,000 rows twice hold as many entries as once, with twice the recent spend; a
    store pickled when recent spend was a list of (time, total) reads back summed per time."""
    from detector.model.customers import CustomerStore
    from schemas.features import customer_events

    events = list(zip(*customer_events(ordered.iloc[:20_000]), strict=True))
    store, sizes, spends, watermark = CustomerStore(DEFAULT_HORIZON_DAYS), [], [], -math.inf
    for _ in range(2):
        for customer, invoice, total, when in events:
            watermark = max(watermark, when)
            if customer is not None:
                store.add(customer, when, invoice, total, watermark)
        sizes.append(sum(len(c[RECENT]) + len(c[INVOICES]) for c in store.customers.values()))
        spends.append(sum(sum(c[RECENT].values()) for c in store.customers.values()))
    assert sizes[1] == sizes[0] and spends[1] == pytest.approx(2 * spends[0])
    old = CustomerStore(DEFAULT_HORIZON_DAYS)
    old.customers = {1: [0.0, DAY, 3.0, 2, 0, 2, {"a": 0.0}, [(0.0, 1.0), (DAY, 1.5), (DAY, 0.5)]]}
    assert pickle.loads(pickle.dumps(old)).customers[1][RECENT] == {0.0: 1.0, DAY: 2.0}  # noqa: S301


def test_a_model_alarm_carries_what_it_compared(whole) -> None:
    """A model alarm's event holds the cutoff's predictions (or errors) against the holdout's,
    and its page draws them."""
    alarms = [e for e in whole[2] if e["detector"] == "model" and e["kind"] == "alarm"]
    assert alarms
    compared = alarms[0]["distributions"][0]
    assert compared["feature"] == alarms[0]["results"][0]["feature"]
    assert compared["reference_name"].startswith("holdout") and len(compared["current"]) == 41
    page = render(alarms[0])
    assert "<polyline" in page and compared["reference_name"] in page


def test_drift_events_have_ids_that_a_replay_of_the_same_rows_repeats(model_dir, messages, tmp_path) -> None:
    """Every drift event's id is unique in a run, and the same rows processed again (as after a
    crash, from the same state), in other batches, give the same events with the same ids: a
    consumer of drift.events drops repeats by id."""
    runs = []
    for batch in (1_000, 7_000):
        p, _ = pipeline(model_dir, tmp_path / str(batch))
        ids = []
        for start in range(0, 60_000, batch):
            for _, value in p.process(messages[start:min(start + batch, 60_000)]).drift_events:
                event = orjson.loads(value)
                ids.append((event["id"], event["kind"]))
        runs.append(ids)
    assert len({i for i, _ in runs[0]}) == len(runs[0])  # unique
    assert sorted(runs[0]) == sorted(runs[1])
    kinds = {kind for _, kind in runs[0]}
    assert {"alarm", "evaluation", "episode_open", "episode_close"} <= kinds
    assert any(i.count(":") >= 4 for i, k in runs[0] if k == "alarm")
