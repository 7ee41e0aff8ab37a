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

from demo.model_health import ModelErrorUp
from detector.drift.checks import Verdict
from detector.drift.episodes import Episodes
from detector.drift.monitor import MonitorConfig
from detector.metrics import Metrics
from detector.model import health
from detector.model.loader import LoadedModel, load
from detector.model.tracker import ModelConfig, ModelTracker
from detector.pipeline.events import iso, model_event
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


def test_the_holdout_keeps_its_labels_day_by_day(june_model, data_path) -> None:
    """The version keeps the holdout customers' net spend over the first d days of its horizon,
    d = 1..H: the last day floored at 0 is the label each holdout error was made against, and
    each day's figure is the sum of that customer's lines in the span (summed here from the rows)."""
    version = (june_model / "latest").read_text().strip()
    metadata = orjson.loads((june_model / version / artifacts.METADATA).read_bytes())
    model = load(june_model / version)
    spent, horizon = model.holdout_spent_by_day, metadata["horizon_days"]
    assert spent.shape == (model.holdout_errors.size, horizon)
    labels = model.holdout_predictions - model.holdout_errors
    np.testing.assert_allclose(np.clip(spent[:, -1], 0, None), labels, rtol=1e-5, atol=1e-3)
    rows = line_totals(data.load_online_retail(data_path))
    cutoff = pd.Timestamp(metadata["test_cutoff"])
    customers = customer_features(rows[rows["InvoiceDate"] < "2011-06-01"], cutoff, horizon).index
    for day in (1, 5, horizon):
        span = rows[(rows["InvoiceDate"] >= cutoff) & (rows["InvoiceDate"] < cutoff + pd.Timedelta(days=day))]
        expected = span.groupby("CustomerID")["total"].sum().reindex(customers, fill_value=0.0)
        np.testing.assert_allclose(spent[:, day - 1], expected.to_numpy(), rtol=1e-5, atol=1e-3)


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


def synthetic_model(prediction: float, loss: float, holdout_error: float,
                    holdout_spent_by_day: np.ndarray | None = None) -> LoadedModel:
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
                       holdout_predictions=np.full(200, prediction),
                       holdout_spent_by_day=holdout_spent_by_day)


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
    so_far = [o for o in outcomes if o.result.test == "so_far"]  # spend never passes the prediction
    assert [o.cutoff for o in so_far] == [o.cutoff for o in realised]
    assert all(o.figures.so_far["all"] == 0.0 and not o.result.drifted for o in so_far)
    assert state.impact == {"estimated": 0, "spend_level": 0, "so_far": 0, "realised": 0}


def test_the_error_so_far_pages_before_the_labels_are_due() -> None:
    """From day 60 every customer spends 40 a day instead of 10; the model predicts 150 over
    H = 14. A cutoff's error so far is the spend since it beyond 150, looked at each midnight
    (the days before it): cutoff day 49 has 110 by day 60 and crosses the margin (10 × 1.25)
    on day 62 (190: 40 over, +300 %), a day before its labels are due; day 56 on day 64 (200),
    day 63 on day 68 (200), each once; the first is the partition's one alarm (rising edge)."""
    tracker = ModelTracker(ModelConfig(burn_in_days=14), synthetic_model(150.0, 10.0, 10.0))
    state = tracker.new_state()
    customers = 60
    outcomes = tracker.update(state, *daily_stream(customers, dict.fromkeys(range(customers), 40.0), 75))
    up = [(o.cutoff / DAY, o.position // customers, o.result.statistic, o.alarm)
          for o in outcomes if o.result.test == "so_far" and o.result.drifted]
    assert up == [(49.0, 62, 3.0, True), (56.0, 64, 4.0, False), (63.0, 68, 4.0, False)]
    realised = next(o for o in outcomes if o.result.test == "realised" and o.result.drifted)
    assert (realised.cutoff / DAY, realised.position // customers) == (49.0, 63)
    assert state.impact["so_far"] == 3 and tracker.material(state, "so_far")
    assert state.impact["estimated"] == 0


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


def test_the_error_so_far_is_compared_with_the_holdouts_after_as_many_days() -> None:
    """The holdout's customers spent 150 + 10 d in the first d days against predictions of 150:
    its error so far after d days is 10 d. Stream customers spend 10 a day, then 40 from day 60,
    against predictions of 150; a cutoff crosses when its error so far after d days is above
    1.25 × 10 d: cutoff day 56 (40 d − 270) after 10 days, on day 66 (130 against 100: +30 %);
    day 63 (40 d − 150) after 6, on day 69 (90 against 60: +50 %); day 49 never before its labels.
    With the holdout's days dropped, the same stream is compared with the whole holdout MAE
    (10: the lower-bound comparison) and cutoff day 49 crosses first, on day 62."""
    holdout = np.tile(150.0 + 10.0 * np.arange(1, 15, dtype=np.float32), (200, 1))
    stream = daily_stream(60, dict.fromkeys(range(60), 40.0), 75)
    with_days = ModelTracker(ModelConfig(burn_in_days=14), synthetic_model(150.0, 10.0, 10.0, holdout))
    assert with_days.so_far_reference(1) == {"all": 10.0, "active": 10.0}
    assert with_days.so_far_reference(14)["all"] == 140.0
    assert with_days.so_far_reference(99)["all"] == 140.0  # past H: the horizon's end
    crossed = [(o.cutoff / DAY, o.position // 60, round(o.result.statistic, 9))
               for o in with_days.update(with_days.new_state(), *stream)
               if o.result.test == "so_far" and o.result.drifted]
    assert crossed == [(56.0, 66, 0.3), (63.0, 69, 0.5)]
    without = ModelTracker(ModelConfig(burn_in_days=14), synthetic_model(150.0, 10.0, 10.0))
    assert without.so_far_reference(3) == {"all": 10.0, "active": 10.0}
    crossed = [(o.cutoff / DAY, o.position // 60) for o in without.update(without.new_state(), *stream)
               if o.result.test == "so_far" and o.result.drifted]
    assert crossed[0] == (49.0, 62)


def test_a_higher_spend_level_pages_at_the_first_cutoff_without_labels() -> None:
    """Holdout labels 140 against predictions of 150 (errors 10). Stream customers buy a line a
    day at 10, then at 40 from day 60. Cutoff day 63's week holds 4 days at 10 and 3 at 40:
    160 / 7 per purchase against 560 / 56 = 10 per invoice before it (r = 16 / 7), and the
    holdout re-priced at r errs |140 r - 150| = 170 against its own 10 (+1,600 %); day 70's
    week: 40 per purchase against 720 / 63 before (r = 3.5: 340, +3,300 %); the weeks before
    are at r = 1 (no excess). It alarms at day 63, before any label of the change; the loss
    model (constant) sees nothing; the event matches drift.events' schema."""
    tracker = ModelTracker(ModelConfig(burn_in_days=14), synthetic_model(150.0, 10.0, 10.0))
    state = tracker.new_state()
    outcomes = tracker.update(state, *daily_stream(60, dict.fromkeys(range(60), 40.0), 75))
    level = [(o.cutoff / DAY, o.position // 60, o.result.statistic, o.alarm)
             for o in outcomes if o.result.test == "spend_level"]
    assert [cutoff for cutoff, *_ in level] == [21.0, 28.0, 35.0, 42.0, 49.0, 56.0, 63.0, 70.0]
    assert all(abs(statistic) < 1e-12 and not alarm for _, _, statistic, alarm in level[:6])
    assert level[6] == (63.0, 63, pytest.approx(16.0), True)
    assert level[7] == (70.0, 70, pytest.approx(33.0), False)
    up = next(o for o in outcomes if o.result.test == "spend_level" and o.alarm)
    assert up.figures.spend_level == pytest.approx(16 / 7)
    assert up.figures.at_level["all"] == pytest.approx(170)
    assert state.impact["spend_level"] == 2 and state.impact["estimated"] == 0
    event = model_event(0, up, 1, tracker.horizon, "synthetic", None, None, tracker.holdout()[0])
    encoded = orjson.loads(drift_event.encode(event))
    jsonschema.validate(encoded, SCHEMA)
    assert encoded["model_error"][0]["at_spend_level"] == pytest.approx(170)


def test_a_change_of_mix_leaves_the_spend_level_alone() -> None:
    """From day 60 half the customers stop buying and new ones, worth 40 a day, start: the
    week's buyers spend more per head, but each returning customer's basket is as before
    (r = 1) and the new ones have no basket before: no excess."""
    ids, invoices, totals, times = daily_stream(120, {}, 75)
    keep = [i for i, (c, t) in enumerate(zip(ids, times, strict=True))
            if (c < 1060) == (t < 60 * DAY) or c < 1030]
    pick = [[column[i] for i in keep] for column in (ids, invoices, totals, times)]
    pick[2] = [40.0 if c >= 1060 else t for c, t in zip(pick[0], pick[2], strict=True)]
    tracker = ModelTracker(ModelConfig(burn_in_days=14), synthetic_model(150.0, 10.0, 10.0))
    state = tracker.new_state()
    level = [o for o in tracker.update(state, *pick) if o.result.test == "spend_level"]
    assert [o.cutoff / DAY for o in level if o.cutoff >= 63 * DAY] == [63.0, 70.0]
    assert all(not o.result.drifted for o in level)
    assert [o.figures.spend_level for o in level if o.cutoff >= 63 * DAY] == [1.0, 1.0]


def test_a_lower_spend_level_is_reported_not_judged() -> None:
    """From day 60 customers spend 2.5 a day instead of 10: cutoff day 63's baskets are
    47.5 / 7 per purchase against 10 before (r = 0.68); re-priced alone, the holdout's labels
    would err |140 r - 150| = 55 (+450 %), but the predictions follow a customer's spend down,
    so a lower level is not judged: the statistic is 0 and nothing alarms."""
    tracker = ModelTracker(ModelConfig(burn_in_days=14), synthetic_model(150.0, 10.0, 10.0))
    state = tracker.new_state()
    level = [o for o in tracker.update(state, *daily_stream(60, dict.fromkeys(range(60), 2.5), 75))
             if o.result.test == "spend_level" and o.cutoff == 63 * DAY]
    assert level[0].figures.spend_level == pytest.approx(47.5 / 70)
    assert level[0].result.statistic == 0.0 and not level[0].result.drifted


def test_the_spend_level_band_and_the_least_error_in_it() -> None:
    """The median's band is the order statistics of ranks floor(n/2 - 1.96 sqrt(n)/2) and
    ceil(n/2 + 1.96 sqrt(n)/2 + 1) (1-based; 40 and 61 for n = 100); the least MAE over a
    band of levels is the convex MAE's minimum there (checked against a fine grid)."""
    low, middle, high = health.median_band(np.arange(1.0, 101.0))
    assert (low, middle, high) == (40.0, 50.5, 61.0)
    rng = np.random.default_rng(3)
    y = rng.gamma(0.5, 200.0, 400) * (rng.random(400) < 0.4)
    predicted = rng.gamma(2.0, 40.0, 400)
    level = health.HoldoutLevel({"all": y}, {"all": predicted})
    for band in ((0.5, 0.9), (1.2, 3.0), (0.05, 8.0)):
        grid = min(level.mae("all", r) for r in np.linspace(*band, 20_001))
        assert level.least_mae("all", *band) == pytest.approx(grid, rel=1e-6)
        assert level.least_mae("all", *band) <= level.mae("all", band[0])


def test_impact_streaks_run_in_cutoff_order() -> None:
    """A newer cutoff's error so far crosses before an older cutoff's labels are due: the older
    one's verdict, later, moves neither the streak nor the rising edge; the same in the tracker
    and in the page replayed from drift.events."""
    tracker = ModelTracker(ModelConfig(), synthetic_model(150.0, 10.0, 10.0))
    state, replay = tracker.new_state(), ModelErrorUp(impact_cutoffs=1)
    figures = health.CutoffError(0.0, {"all": 100, "active": 60})
    seen = []
    for cutoff, drifted in ((2 * DAY, True), (1 * DAY, False), (3 * DAY, True), (4 * DAY, False)):
        verdict = Verdict("error", "so_far", 0.5 if drifted else 0.0, 0.25, drifted)
        outcome = tracker._impact(state, verdict, 0, cutoff, np.zeros(3), figures)
        event = {"model_error": [{}], "partition": 0, "results": [{"test": "so_far", "drifted": drifted}],
                 "window": {"event_time_start": iso(cutoff)}}
        seen.append((outcome.alarm, state.impact["so_far"], tracker.material(state, "so_far"),
                     replay.observe(event)))
    assert seen == [(True, 1, True, True), (False, 1, True, False), (False, 2, True, False),
                    (False, 0, False, False)]


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
