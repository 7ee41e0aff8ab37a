"""The model loop without a broker: predictions and scores, checkpoint = uninterrupted run, swap."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry

from detector.drift.monitor import MonitorConfig
from detector.metrics import Metrics
from detector.model.customers import RECENT
from detector.model.loader import load
from detector.model.tracker import DEFAULT_HORIZON_DAYS, ModelConfig
from detector.pipeline.messages import Message
from detector.pipeline.pipeline import Pipeline
from detector.pipeline.state import PipelineState
from detector.runtime.checkpoint import Checkpointer
from producer import data
from producer.replay import encode_rows, partitions_of
from schemas.features import DAY
from trainer import artifacts
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
    _, path = artifacts.save(tmp_path_factory.mktemp("models"), fit(train, HORIZON), train, HORIZON, "test")
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
    cutoff = pd.Timestamp(p.state.model_tracker.partitions[0].next_cutoff, unit="s")  # not passed yet
    rows = line_totals(ordered.iloc[:100_000])
    expected = customer_features(rows, cutoff, HORIZON)
    partitions = p.state.model_tracker.partitions.values()
    streamed = pd.concat([s.store.features(cutoff.timestamp()) for s in partitions])
    streamed = streamed.sort_index()
    assert list(streamed.index) == list(expected.index)
    np.testing.assert_allclose(streamed.to_numpy(), expected.to_numpy(), rtol=1e-9, atol=1e-6)


def test_predictions_are_scored_when_their_horizon_passes(model_dir, messages, tmp_path) -> None:
    p, registry = pipeline(model_dir, tmp_path)
    feed(p, messages)
    assert p.state.model_tracker.predictions > 0 and p.state.model_tracker.scored > 0
    assert registry.get_sample_value("clv_model_predictions_total") == p.state.model_tracker.predictions
    assert registry.get_sample_value("clv_model_scored_total") == p.state.model_tracker.scored
    # Pending = predictions made at cutoffs whose horizon has not passed yet.
    horizon = HORIZON * DAY
    for state in p.state.model_tracker.partitions.values():
        assert all(pending.cutoff + horizon > p.state.watermark - DAY for pending in state.pending)
    mae = registry.get_sample_value("clv_model_performance", {"metric": "mae"})
    assert math.isfinite(mae) and mae > 0
    assert registry.get_sample_value("clv_model_performance", {"metric": "holdout_mae"}) \
        == p.model.holdout["mae"]


def test_checkpoint_and_redelivery_equal_an_uninterrupted_run(model_dir, messages, tmp_path) -> None:
    whole, _ = pipeline(model_dir, tmp_path / "a")
    feed(whole, messages)
    first, _ = pipeline(model_dir, tmp_path / "b")
    feed(first, messages[:120_000])
    checkpoint = Checkpointer(tmp_path / "state.pkl", "tx", interval=0)
    checkpoint.save(first.state)
    feed(first, messages[120_000:125_000])  # processed after the checkpoint, then "killed"
    resumed, registry = pipeline(model_dir, tmp_path / "c")
    resumed.restore(checkpoint.load())
    feed(resumed, messages[110_000:])  # Kafka redelivers from the last commit (before the checkpoint)
    assert registry.get_sample_value("clv_events_processed_total") == len(messages) == resumed.state.processed
    ours, theirs = resumed.state.model_tracker, whole.state.model_tracker
    assert (ours.predictions, ours.scored) == (theirs.predictions, theirs.scored)
    assert ours.performance() == theirs.performance()
    assert {k: m.events_processed for k, m in resumed.state.monitors.items()} == \
        {k: m.events_processed for k, m in whole.state.monitors.items()}


def test_checkpoint_of_another_topic_is_ignored(model_dir, tmp_path) -> None:
    p, _ = pipeline(model_dir, tmp_path)
    Checkpointer(tmp_path / "state.pkl", "tx", 0).save(p.state)
    other = Checkpointer(tmp_path / "state.pkl", "other", 0)
    assert other.load() is None
    assert other.rejected == 1


@pytest.mark.parametrize("content", [
    b"", b"garbage\n", np.random.default_rng(1).bytes(4_096), np.random.default_rng(2).bytes(4_096),
    pickle.dumps([1, 2, 3]), pickle.dumps({"format": 0, "topic": "tx", "state": {}}),
    pickle.dumps({"format": PipelineState.FORMAT, "topic": "tx", "state": {"monitors": []}}),
    pickle.dumps({"format": PipelineState.FORMAT, "topic": "tx", "state": []}),
], ids=["empty", "text", "random-1", "random-2", "list", "old-format", "partial-state", "state-list"])
def test_a_damaged_checkpoint_is_ignored_and_counted(tmp_path, content: bytes) -> None:
    (tmp_path / "state.pkl").write_bytes(content)
    checkpointer = Checkpointer(tmp_path / "state.pkl", "tx", 0)
    assert checkpointer.load() is None
    assert checkpointer.rejected == 1


def test_a_new_model_swaps_reference_and_version(model_dir, messages, tmp_path) -> None:
    registry = CollectorRegistry()
    p = Pipeline(MONITOR, Metrics(registry), tmp_path, ModelConfig())
    feed(p, messages[:9_000])
    assert all(m.reference.source == "warm-up" for m in p.state.monitors.values())
    model = load(model_dir)
    p.use_model(model)
    assert all(m.reference.source == model.version and m.window_fill == 0 for m in p.state.monitors.values())
    assert registry.get_sample_value("clv_model_version_info", {"version": model.version}) == 1
    assert registry.get_sample_value("clv_model_version_info", {"version": "none"}) == 0
    assert registry.get_sample_value("clv_reference_info", {"source": "warm-up"}) == 0


def test_without_a_model_customer_state_stays_bounded(messages, tmp_path) -> None:
    p = Pipeline(MONITOR, Metrics(CollectorRegistry()), tmp_path, ModelConfig())
    feed(p, messages)
    horizon = DEFAULT_HORIZON_DAYS * DAY
    oldest = min(when for s in p.state.model_tracker.partitions.values() for c in s.store.customers.values()
                 for when, _ in c[RECENT])
    assert oldest >= p.state.watermark - horizon - ModelConfig().step_days * DAY
    assert p.state.model_tracker.predictions == 0 and p.state.model_tracker.pending == 0
