"""The model's health before labels: the loss model, estimated against realised error, episodes."""

from __future__ import annotations

import math
from pathlib import Path

import jsonschema
import msgspec
import numpy as np
import orjson
import pandas as pd
import pytest
from prometheus_client import CollectorRegistry
from sklearn.dummy import DummyRegressor
from sklearn.preprocessing import StandardScaler

from detector.drift.episodes import Episodes
from detector.drift.monitor import MonitorConfig
from detector.metrics import Metrics
from detector.model import health
from detector.model.loader import LoadedModel, load
from detector.model.tracker import ModelConfig, ModelTracker
from detector.pipeline.messages import Message
from detector.pipeline.pipeline import Pipeline
from producer import data
from schemas import artifacts, drift_event
from schemas.features import CLV_FEATURES, DAY
from schemas.loss_model import BAND_Z, LossModel
from trainer.features import customer_features, line_totals

SCHEMA = orjson.loads((Path(__file__).resolve().parents[1] / "schemas" / "drift_event.schema.json")
                      .read_bytes())


def test_the_loss_model_round_trips_with_its_holdout_estimate(june_model, data_path, tmp_path) -> None:
    """Saved, loaded (and packed for model.artifacts, unpacked elsewhere), the loss model gives the
    trainer's own estimate of the holdout MAE from the holdout customers' features."""
    version = (june_model / "latest").read_text().strip()
    metadata = orjson.loads((june_model / version / artifacts.METADATA).read_bytes())
    elsewhere = artifacts.unpack(artifacts.pack(june_model / version), tmp_path, version)
    assert (elsewhere / artifacts.LOSS_MODEL).exists()
    frame = data.load_online_retail(data_path)
    rows = line_totals(frame[frame["InvoiceDate"] < "2011-06-01"])
    x = customer_features(rows, pd.Timestamp(metadata["test_cutoff"]), metadata["horizon_days"])
    for path in (june_model / version, elsewhere):
        model = load(path)
        assert isinstance(model.loss_model, LossModel)
        predictions, losses = model.predict_with_losses(x)
        np.testing.assert_allclose(np.sort(predictions), model.predictions, rtol=1e-12)
        mae, low, high = model.loss_model.estimate(losses)
        holdout = metadata["holdout"]
        expected = (holdout["estimated_mae"], holdout["estimated_mae_low"], holdout["estimated_mae_high"])
        assert (mae, low, high) == pytest.approx(expected, rel=1e-12)
        assert low < holdout["mae"] < high  # the trainer's check: the band holds the realised MAE
        assert model.holdout_recency_days.size == model.holdout_errors.size


def test_a_version_without_a_loss_model_still_loads(june_model, tmp_path) -> None:
    version = (june_model / "latest").read_text().strip()
    old = artifacts.unpack(artifacts.pack(june_model / version), tmp_path, version)
    (old / artifacts.LOSS_MODEL).unlink()
    model = load(old)
    assert model.loss_model is None
    assert model.predict_with_losses(pd.DataFrame(np.ones((2, len(CLV_FEATURES))), columns=CLV_FEATURES))[1] \
        is None


def test_the_band_is_the_sum_of_customer_variances() -> None:
    losses = np.array([10.0, 20.0, 30.0, 40.0])
    model = LossModel(DummyRegressor().fit([[0]], [0]), dispersion=0.5)
    mae, low, high = model.estimate(losses)
    half = BAND_Z * math.sqrt(0.5 * (100 + 400 + 900 + 1600)) / 4
    assert (mae, low, high) == (25.0, 25.0 - half, 25.0 + half)
    assert all(math.isnan(v) for v in model.estimate(np.empty(0)))
    assert model.estimate(np.array([1.0]))[1] == 0.0  # a band reaching below 0 stops there


def synthetic_model(prediction: float, loss: float, holdout_error: float) -> LoadedModel:
    """A real (if simple) model: scikit-learn's constant regressors for spend and for loss."""
    x = np.zeros((4, len(CLV_FEATURES)))
    constant = DummyRegressor(strategy="constant", constant=prediction).fit(x, np.zeros(4))
    losses = DummyRegressor(strategy="constant", constant=loss).fit(np.zeros((4, len(CLV_FEATURES) + 1)),
                                                                    np.zeros(4))
    holdout = np.full(200, holdout_error)
    scaler = StandardScaler().fit(pd.DataFrame(x, columns=list(CLV_FEATURES)))
    return LoadedModel("synthetic", constant, scaler, CLV_FEATURES, 14, {"mae": holdout_error}, None,
                       np.full(200, prediction), holdout, LossModel(losses, dispersion=0.0),
                       holdout_recency_days=np.arange(200) % 14.0,
                       holdout_predictions=np.full(200, prediction))


def daily_stream(customers: int, spend: dict[int, float], days: int) -> tuple[list, list, list, list]:
    """Each customer buys one line a day at noon, customer c worth spend.get(c, 10)."""
    ids, invoices, totals, times = [], [], [], []
    for day in range(days):
        for c in range(customers):
            ids.append(1000 + c)
            invoices.append(f"{day}-{c}")
            totals.append(spend.get(c, 10.0) if day >= 60 else 10.0)
            times.append(day * DAY + DAY / 2)
    return ids, invoices, totals, times


def test_estimated_equals_realised_where_the_error_is_known() -> None:
    """Every customer spends 10 a day: 140 over H = 14 days; the model predicts 150 and the loss
    model 10: the realised error of every cutoff is 10, as estimated, and as in the holdout."""
    tracker = ModelTracker(ModelConfig(burn_in_days=14), synthetic_model(150.0, 10.0, 10.0))
    state = tracker.new_state()
    outcomes = tracker.update(state, *daily_stream(60, {}, 70))
    realised = [o for o in outcomes if o.result.test == "realised"]
    estimated = [o for o in outcomes if o.result.test == "estimated"]
    assert len(realised) >= 4 and len(estimated) > len(realised)
    for outcome in realised:
        assert outcome.figures.estimated["all"] == (10.0, 10.0, 10.0)
        assert outcome.figures.realised["all"] == pytest.approx(10.0, abs=1e-9)
        assert outcome.result.statistic == pytest.approx(0.0, abs=1e-9) and not outcome.alarm
    assert state.impact == {"estimated": 0, "realised": 0}


def test_a_realised_error_up_by_the_margin_alarms_and_counts_cutoffs() -> None:
    """From day 60 every customer spends 12 a day: 168 over 14 days, error 18 against a holdout's 10
    (+80 %, its interval of zero width): the realised check alarms once and its streak grows; the
    constant loss model sees nothing, as a label-free estimate cannot for a change of the future."""
    tracker = ModelTracker(ModelConfig(burn_in_days=14, impact_cutoffs=2), synthetic_model(150.0, 10.0, 10.0))
    state = tracker.new_state()
    outcomes = tracker.update(state, *daily_stream(60, dict.fromkeys(range(60), 12.0), 100))
    realised = [o for o in outcomes if o.result.test == "realised"]
    up = [o for o in realised if o.result.drifted]
    assert up and all(o.figures.realised["all"] == pytest.approx(18.0) for o in up[1:])
    assert up[-1].result.statistic == pytest.approx(0.8)
    assert sum(o.alarm for o in realised) == 1  # a rising edge
    assert state.impact["realised"] == len(up) >= 2 and tracker.material(state, "realised")
    assert state.impact["estimated"] == 0 and not tracker.material(state, "estimated")


def test_the_like_for_like_population_is_the_recent_buyers() -> None:
    figures = health.CutoffError(0.0, {"all": 100, "active": 60})
    figures.estimated = {"all": (12.0, 11.0, 13.0), "active": (30.0, 26.0, 34.0)}
    verdict = health.estimated_verdict(figures, {"all": 10.0, "active": 20.0}, margin=0.25)
    assert verdict.statistic == pytest.approx(0.3) and verdict.drifted  # active: 26 / 20 - 1
    figures.customers["active"] = 49  # too few to compare: all customers only
    verdict = health.estimated_verdict(figures, {"all": 10.0, "active": 20.0}, margin=0.25)
    assert verdict.statistic == pytest.approx(0.1) and not verdict.drifted


def test_episodes_open_recur_and_close_after_the_quiet_span() -> None:
    episodes = Episodes(partition=2, quiet=100)
    first = episodes.alarm("quantity", "ks", 1.5, when=10.0, offset=500, events=1_000)
    assert first is not None and first.id == "2-quantity-500"
    assert episodes.alarm("quantity", "values", 3.0, when=11.0, offset=550, events=1_050) is None
    assert episodes.alarm("quantity", "ks", 2.0, when=12.0, offset=640, events=1_140) is None
    assert episodes.advance(1_239, measured=False) == []  # 99 events since the last alarm
    closed = episodes.advance(1_240, measured=False)
    assert closed == [first] and not episodes.open
    assert (first.alarms, first.tests, first.peak) == (3, ["ks", "values"], 3.0)
    assert (first.start_offset, first.end_offset, first.start_time, first.end_time) == (500, 640, 10.0, 12.0)
    assert first.impact is None and first.material(0.25) is None
    assert (episodes.opened, episodes.closed) == (1, 1)
    second = episodes.alarm("quantity", "ks", 1.2, when=20.0, offset=900, events=2_000)
    assert second is not first and second.alarms == 1


def test_a_lasting_shift_keeps_its_episode_open_without_new_alarms() -> None:
    """Window tests alarm on a rising edge: a shift that lasts is one alarm, then drifted panes."""
    episodes = Episodes(partition=0, quiet=100)
    episode = episodes.alarm("unit_price", "ks", 2.0, when=0.0, offset=10, events=10)
    for events in range(60, 1_000, 50):
        episodes.drifted("unit_price", events)
        episodes.drifted("quantity", events)  # no episode open: nothing happens
        assert episodes.advance(events, measured=False) == []
    assert episodes.advance(1_059, measured=False) == []  # the last drifted pane was at 960
    assert episodes.advance(1_060, measured=False) == [episode] and episode.alarms == 1
    assert "quantity" not in episodes.open


def test_an_episode_closes_with_its_impact_once_a_cutoff_measured_it() -> None:
    episodes = Episodes(partition=0, quiet=10)
    episode = episodes.alarm("country", "categorical", 2.0, when=0.0, offset=0, events=1)
    assert episodes.advance(50, measured=True) == []  # quiet, but no cutoff yet: stays open
    episodes.cutoff(0.1, 110.0, 100.0)
    episodes.cutoff(0.4, 140.0, 100.0)
    assert episodes.advance(51, measured=True) == [episode]
    assert episode.impact == 0.4 and episode.material(0.25) is True and episode.material(0.5) is False


def test_episode_events_on_drift_events_and_metrics(tmp_path) -> None:
    """A partition whose quantities jump: an episode opens with the first alarm and closes after
    the quiet span; both events match the schema, the gauge and counters follow."""
    rng = np.random.default_rng(5)
    registry = CollectorRegistry()
    config = MonitorConfig(reference_size=1_000, window_size=100, panes=4, episode_quiet=300)
    pipeline = Pipeline(config, Metrics(registry), tmp_path)

    def message(i: int, quantity: int) -> Message:
        value = orjson.dumps({"InvoiceNo": str(536365 + i), "StockCode": "85123A", "Description": "X",
                              "Quantity": quantity, "InvoiceDate": "2011-01-01T10:00:00", "UnitPrice": 2.5,
                              "CustomerID": 17850, "Country": "United Kingdom"})
        return Message(b"17850", value, [], "tx", 0, i)

    quantities = [*rng.integers(1, 10, 1_500), *rng.integers(40, 60, 200), *rng.integers(1, 10, 700)]
    got = []
    for start in range(0, len(quantities), 100):
        batch = enumerate(quantities[start:start + 100], start)
        out = pipeline.process([message(i, int(q)) for i, q in batch])
        got += [orjson.loads(v) for _, v in out.drift_events]
        if start == 1_600:
            assert registry.get_sample_value("clv_drift_episode_open", {"feature": "quantity"}) == 1
    opened = [e for e in got if e["kind"] == "episode_open" and e["episode"]["feature"] == "quantity"]
    closed = [e for e in got if e["kind"] == "episode_close" and e["episode"]["feature"] == "quantity"]
    assert len(opened) == len(closed) == 1
    alarms = [e for e in got if e["kind"] == "alarm" and e["results"][0]["feature"] == "quantity"]
    episode = closed[0]["episode"]
    assert episode["alarms"] == len(alarms) and episode["state"] == "closed" and episode["material"] is None
    assert episode["start_offset"] >= 1_500 and episode["end_offset"] < 1_700 + 100
    for event in (opened[0], closed[0]):
        jsonschema.validate(event, SCHEMA)
        assert drift_event.decode(msgspec.json.encode(event)).episode.id == episode["id"]
    assert registry.get_sample_value("clv_drift_episode_open", {"feature": "quantity"}) == 0
    assert registry.get_sample_value("clv_drift_episodes_opened_total", {"feature": "quantity"}) == 1
    assert registry.get_sample_value("clv_drift_episodes_closed_total",
                                     {"feature": "quantity", "impact": "unmeasured"}) == 1
