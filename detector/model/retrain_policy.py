"""When the detector asks for retraining (DETECTOR_RETRAIN_POLICY).

``off``: never. ``recommend`` (default): the worker exports ``clv_retrain_recommended`` = 1
while an owned partition's error impact is material, and the RetrainRecommended alert asks a
person to retrain (who may veto by not doing it). ``auto``: it also writes a request on
retrain.requests, at most one per cooldown of event time per worker, so one long episode is
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
    cooldown_days: float = Field(14.0, gt=0, description="auto: days of event time between two requests "
                                 "of one worker")


@dataclass
class RetrainPolicy:
    config: RetrainConfig
    last_request_at: float | None = None  # event time (epoch s) of this worker's last request

    def recommends(self, material: bool) -> bool:
        return material and self.config.policy != "off"

    def should_request(self, material: bool, event_time: float) -> bool:
        """Whether to write a request now (and remember that it was written)."""
        if self.config.policy != "auto" or not material:
            return False
        last = self.last_request_at
        if last is not None and event_time - last < self.config.cooldown_days * DAY:
            return False
        self.last_request_at = event_time
        return True


def reason(signals: list[str], partitions: list[int], event_time: float) -> str:
    at = datetime.fromtimestamp(event_time, UTC).strftime("%Y-%m-%d %H:%M")
    return (f"material impact on the model's error ({', '.join(signals)}) on partition(s) "
            f"{', '.join(map(str, partitions))} at event time {at}")
