"""End to end on the data set and a real broker: fast when drifted. (Quiet when clean: the
whole shuffled year through a fleet, tests/test_kafka_scale.py.)

Delays come from the alarms on drift.events: each carries, for evaluation only, how many
events at or after the onset the detector had seen when it fired (replay headers).
"""

from __future__ import annotations

import orjson
import pytest
from kafka_broker import wait_for
from services import base_env, read_topic, replay

pytestmark = [pytest.mark.kafka, pytest.mark.slow]
NUMERIC = {"quantity", "unit_price", "line_total"}


def alarms(bootstrap: str, topic: str) -> list[dict]:
    events = (orjson.loads(m.value()) for m in read_topic(bootstrap, topic))
    return [e for e in events if e["kind"] == "alarm"]


@pytest.mark.parametrize(("scenario", "features", "bound"), [
    ("scale", NUMERIC, 500),
    ("outliers", NUMERIC, 500),
    ("country-mix", {"country"}, 1_000),
    ("one-country", {"country"}, 1_000),
])
def test_drift_is_caught_soon_after_onset(kafka_bootstrap, topics, data_path, start_detector,
                                          scenario: str, features: set, bound: int) -> None:
    env = base_env(kafka_bootstrap, topics)
    detector = start_detector(env)
    # 240,000 shuffled rows, the drift from their midpoint: the warm-ups (20,000 per partition)
    # are long done; the rest of the year would only add time (the whole year is the fleet's test).
    result = replay(env, "--data", str(data_path), "--order", "shuffled", "--seed", "42", "--limit", "240000",
                    "--scenario", scenario, "--onset", "0.5")
    assert result.returncode == 0, result.stderr

    def fired() -> list[dict]:
        if not any(detector.total(f'clv_drift_detected_total{{feature="{f}",kind="data",')
                   for f in features):
            return []
        return [a for a in alarms(kafka_bootstrap, topics["DRIFT_EVENTS_TOPIC"])
                if a["results"][0]["feature"] in features]

    found = wait_for(fired, 600, f"an alarm on {sorted(features)}", interval=1)
    before_onset = [a for a in found if a["trigger"]["seq"] < a["trigger"]["onset"]]
    assert before_onset == []
    first = min(found, key=lambda a: a["trigger"]["events_since_onset"])
    result = first["results"][0]
    print(f"{scenario}: first alarm {first['trigger']['events_since_onset']} events after onset "
          f"({result['feature']}, {result['test']})")  # bench/RESULTS.md quotes these (pytest -s)
    assert first["trigger"]["events_since_onset"] <= bound
    if scenario == "one-country":  # only German rows after the onset: the alarm says so
        assert first["segments"][0]["name"] == "Germany"
    report = (detector.reports / "latest_drift_report.json").read_bytes()
    assert orjson.loads(report)["alarm"]["kind"] == "alarm"
    assert detector.alive


def test_prices_swapped_between_two_countries_are_caught_inside_a_country(
        kafka_bootstrap, topics, data_path, start_detector) -> None:
    """Germany's and France's unit prices exchanged: every marginal stays, the price given
    country and product does not. The alarm is a segment-conditional test and names the
    country it ran in (160,000 shuffled rows, onset at 120,000: warm-ups done by then)."""
    env = base_env(kafka_bootstrap, topics)
    detector = start_detector(env)
    result = replay(env, "--data", str(data_path), "--order", "shuffled", "--seed", "42", "--limit", "160000",
                    "--scenario", "swap-prices", "--onset", "120000")
    assert result.returncode == 0, result.stderr

    def fired() -> list[dict]:  # counted on /metrics, then on drift.events: its outbox publishes after
        if not detector.total('clv_drift_detected_total{feature="unit_price",kind="data",'):
            return []
        return [a for a in alarms(kafka_bootstrap, topics["DRIFT_EVENTS_TOPIC"])
                if a["results"][0]["feature"] == "unit_price"]

    wait_for(fired, 300, "an alarm on unit_price on drift.events", interval=1)
    found = alarms(kafka_bootstrap, topics["DRIFT_EVENTS_TOPIC"])
    assert found and all(a["trigger"]["seq"] >= a["trigger"]["onset"] for a in found)
    first = min(found, key=lambda a: a["trigger"]["events_since_onset"])
    print(f"swap-prices: first alarm {first['trigger']['events_since_onset']} events after onset "
          f"({first['results'][0]['feature']}, {first['results'][0]['test']}, {first['segments'][0]})")
    assert (first["results"][0]["feature"], first["results"][0]["test"]) == ("unit_price", "product_price")
    assert first["trigger"]["events_since_onset"] <= 2_000
    assert first["segments"][0]["kind"] == "country" and first["segments"][0]["name"] in ("Germany", "France")
