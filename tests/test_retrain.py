"""The retrain loop's parts without a broker: the contracts, the policy, the comparison."""

from __future__ import annotations

import json
import typing
from dataclasses import replace
from pathlib import Path

import jsonschema
import pandas as pd
import pytest

from detector.model.retrain_policy import DAY, RetrainConfig, RetrainPolicy
from producer import data
from schemas import retrain
from trainer.champion import judge, serving
from trainer.train import fit

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


@pytest.mark.parametrize(("struct", "name"), [(retrain.RetrainRequest, "retrain_request"),
                                              (retrain.RetrainOutcome, "retrain_outcome")])
def test_the_json_schemas_name_the_structs_fields(struct, name) -> None:
    spec = schema(name)
    assert list(spec["properties"]) == list(struct.__struct_fields__)
    fields, defaults = struct.__struct_fields__, struct.__struct_defaults__
    assert sorted(spec["required"]) == sorted(fields[:len(fields) - len(defaults)])  # no default
    if name == "retrain_outcome":
        assert spec["properties"]["outcome"]["enum"] == list(retrain.OUTCOMES)
        assert typing.get_args(typing.get_type_hints(struct)["outcome"]) == retrain.OUTCOMES


def test_a_request_round_trips_and_validates_against_its_schema() -> None:
    made = retrain.new_request("new season", "person", "ana@laptop", window_days=120, force=True)
    raw = retrain.encode(made)
    jsonschema.validate(json.loads(raw), schema("retrain_request"),
                        format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    assert retrain.decode_request(raw) == made


@pytest.mark.parametrize(("raw", "reason"), [
    (None, "malformed_json"), (b"", "malformed_json"), (b"{oops", "malformed_json"),
    (b'{"id": "a", "reason": "r", "requested_by": "cron", "requested_at": "2026-11-30T10:00:00Z"}',
     "invalid_request"),
    (b'{"id": "a", "reason": "r", "requested_by": "person", "requested_at": "2026-11-30T10:00:00"}',
     "invalid_request"),  # no time zone
    (b'{"id": "a", "reason": "r", "requested_by": "person", "requested_at": "2026-11-30T10:00:00Z",'
     b' "window_days": 0}', "invalid_request"),
    (b'{"id": "a", "reason": "r", "requested_by": "person", "requested_at": "2026-11-30T10:00:00Z",'
     b' "surprise": 1}', "invalid_request"),
])
def test_a_bad_request_says_why(raw, reason) -> None:
    with pytest.raises(retrain.InvalidRequest) as error:
        retrain.decode_request(raw)
    assert error.value.reason == reason


def test_policy_auto_asks_once_per_cooldown_of_event_time() -> None:
    policy = RetrainPolicy(RetrainConfig(policy="auto", cooldown_days=14))
    t0 = 1_300_000_000.0
    asked = [t for t in (t0, t0 + DAY, t0 + 13.9 * DAY, t0 + 14 * DAY, t0 + 20 * DAY, t0 + 28 * DAY)
             if policy.should_request(True, t)]
    assert asked == [t0, t0 + 14 * DAY, t0 + 28 * DAY]
    assert not policy.should_request(False, t0 + 100 * DAY)  # nothing material: no request
    assert policy.recommends(True) and not policy.recommends(False)


def test_policy_auto_with_a_max_age_also_asks_for_a_stale_model() -> None:
    policy = RetrainPolicy(RetrainConfig(policy="auto", cooldown_days=14, max_age_days=56))
    trained = 1_300_000_000.0
    assert policy.should_request(False, trained + 55 * DAY, trained) is None
    assert policy.should_request(False, trained + 57 * DAY, trained) == "age"
    assert policy.should_request(True, trained + 60 * DAY, trained) is None  # cooling down
    assert policy.should_request(True, trained + 71 * DAY, trained) == "impact"
    impact_only = RetrainPolicy(RetrainConfig(policy="auto", max_age_days=0))
    assert impact_only.should_request(False, trained + 999 * DAY, trained) is None


@pytest.mark.parametrize("mode", ["off", "recommend"])
def test_policies_other_than_auto_never_ask(mode) -> None:
    policy = RetrainPolicy(RetrainConfig(policy=mode))
    assert not any(policy.should_request(True, t * DAY) for t in range(0, 100, 7))
    assert policy.recommends(True) == (mode == "recommend")


def test_champion_against_challenger_on_the_challengers_holdout_cutoff(data_path, june_model) -> None:
    """Trained on rows before 2011-07-20 (its holdout cutoff 07-05, after the June champion's data):
    the challenger's MAE is its holdout's; the champion's is recomputed on the same customers; the
    margin decides, and force overrides it."""
    frame = data.load_online_retail(data_path)
    frame = frame[frame["InvoiceDate"] < pd.Timestamp("2011-07-20")].reset_index(drop=True)
    trained = fit(frame, 14)
    champion = serving(june_model)
    assert champion is not None and champion.horizon_days == 14
    fair = judge(champion, frame, trained, margin=0.0)
    assert trained.test_cutoff == "2011-07-05"
    assert fair.challenger_mae == trained.holdout["mae"]
    assert fair.customers == trained.holdout["customers"]
    assert fair.promote == (fair.challenger_mae < fair.champion_mae)
    needed = 1 - fair.challenger_mae / fair.champion_mae  # the margin it wins by
    assert judge(champion, frame, trained, margin=max(needed, 0) + 0.01).promote is False
    forced = judge(champion, frame, trained, margin=0.99, force=True)
    assert forced.promote and forced.detail.startswith("forced")
    first = judge(None, frame, trained, margin=0.5)
    assert first.promote and first.champion_mae is None
    worse = replace(trained, holdout={**trained.holdout, "mae": fair.champion_mae * 2})
    assert judge(champion, frame, worse, margin=0.0).promote is False


@pytest.mark.parametrize(("reason", "window_days"), [("", None), ("x" * 2001, None), ("ok", 0)])
def test_a_request_the_trainer_would_refuse_is_refused_where_it_is_made(reason, window_days) -> None:
    with pytest.raises(retrain.InvalidRequest):
        retrain.new_request(reason, "person", window_days=window_days)
