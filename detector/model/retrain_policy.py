"""When the detector asks for retraining (DETECTOR_RETRAIN_POLICY).

``off``: never. ``recommend`` (default): the worker exports ``clv_retrain_recommended`` = 1
while an owned partition's error impact is material, and the RetrainRecommended alert asks a
person to retrain (who may veto by not doing it). ``auto``: it also writes a request on
retrain.requests — on material impact, or once the model's training data is older than
``max_age_days`` of event time (the error need not move for a fresher model to be better:
bench/loop.py) — at most one per cooldown of event time per worker, so one long episode is
one request; the trainer service answers requests asked while another was training as
superseded, so the fleet trains once however many workers ask.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DAY = 86_400.0


class RetrainConfig(BaseModel):
    model_config = ConfigDict(frozen=True)

    policy: Literal["off", "recommend", "auto"] = Field(
        "recommend", description="off; recommend (an alert asks a person to retrain on material impact); "
        "auto (also a request to the trainer service)")
    cooldown_days: float = Field(28.0, gt=0, description="auto: days of event time between two requests "
                                 "of one worker (a challenger learns a change 2 H after it at the earliest)")
    max_age_days: float = Field(56.0, ge=0, description="auto: also request once the serving model's "
                                "training data is older than this many days of event time (0: on impact "
                                "only)")


@dataclass
class RetrainPolicy:
    config: RetrainConfig
    last_request_at: float | None = None  # event time (epoch s) of this worker's last request

    def recommends(self, material: bool) -> bool:
        return material and self.config.policy != "off"

    def should_request(self, material: bool, event_time: float, trained_until: float | None = None
                       ) -> str | None:
        """Why to write a request now ("impact", "age"), or None (and remember when one was written)."""
        if self.config.policy != "auto":
            return None
        age = self.config.max_age_days
        stale = age > 0 and trained_until is not None and event_time - trained_until > age * DAY
        if not (material or stale):
            return None
        last = self.last_request_at
        if last is not None and event_time - last < self.config.cooldown_days * DAY:
            return None
        self.last_request_at = event_time
        return "impact" if material else "age"


def reason(why: str, signals: list[str], partitions: list[int], event_time: float,
           trained_until: float | None) -> str:
    at = datetime.fromtimestamp(event_time, UTC).strftime("%Y-%m-%d %H:%M")
    if why == "age":
        age = (event_time - (trained_until or event_time)) / DAY
        return f"the model's training data is {age:.0f} days old at event time {at}"
    return (f"material impact on the model's error ({', '.join(signals)}) on partition(s) "
            f"{', '.join(map(str, partitions))} at event time {at}")
