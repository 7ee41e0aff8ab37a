"""Retraining requests and their outcomes (retrain.requests, retrain.outcomes), as the
detector's policy, a person and the trainer service exchange them. JSON Schemas:
retrain_request.schema.json, retrain_outcome.schema.json (tests keep them in step)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Literal

import msgspec

REQUESTERS = ("person", "policy")
OUTCOMES = ("promoted", "rejected", "failed", "superseded")


class RetrainRequest(msgspec.Struct, forbid_unknown_fields=True, frozen=True):
    id: Annotated[str, msgspec.Meta(min_length=1, max_length=100)]
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=2000)]
    requested_by: Literal["person", "policy"]
    requested_at: datetime  # when it was asked (UTC, wall clock)
    who: Annotated[str, msgspec.Meta(max_length=200)] = ""  # a user and host, or a detector worker
    model: Literal["clv"] = "clv"
    window_days: Annotated[int, msgspec.Meta(ge=1, le=3650)] | None = None  # None: the trainer's setting
    force: bool = False  # promote even if the challenger does not beat the champion


class Window(msgspec.Struct):
    start: str
    end: str
    rows: int


class RetrainOutcome(msgspec.Struct):
    request_id: str
    outcome: Literal["promoted", "rejected", "failed", "superseded"]
    reason: str  # the request's
    requested_by: str
    detail: str  # why: the comparison, the error, or the request that answered it
    finished_at: str
    seconds: float
    model: str = "clv"
    margin: float | None = None
    champion_version: str | None = None
    challenger_version: str | None = None
    champion_mae: float | None = None
    challenger_mae: float | None = None
    cutoff: str | None = None  # the labelled cutoff both models predicted
    customers: int = 0
    horizon_days: int | None = None
    window: Window | None = None


class InvalidRequest(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


_request_decoder = msgspec.json.Decoder(RetrainRequest)
_outcome_decoder = msgspec.json.Decoder(RetrainOutcome)


def new_request(reason: str, requested_by: str, who: str = "", window_days: int | None = None,
                force: bool = False) -> RetrainRequest:
    """A new request, validated as the trainer will (InvalidRequest if it would not pass)."""
    made = RetrainRequest(id=uuid.uuid4().hex, reason=reason, requested_by=requested_by,
                          requested_at=datetime.now(UTC), who=who[:200], window_days=window_days, force=force)
    return decode_request(encode(made))


def decode_request(raw: bytes | None) -> RetrainRequest:
    """A request from a Kafka value, or InvalidRequest saying what is wrong with it.

    >>> decode_request(b'{"id": "a1", "reason": "weekly", "requested_by": "person",'
    ...                b' "requested_at": "2026-11-30T10:00:00Z"}').reason
    'weekly'
    >>> try:
    ...     decode_request(b'{"id": "a1", "reason": "", "requested_by": "cron"}')
    ... except InvalidRequest as error:
    ...     print(error.reason)
    invalid_request
    """
    if not raw:
        raise InvalidRequest("malformed_json", "empty message value")
    try:
        request = _request_decoder.decode(raw)
    except msgspec.ValidationError as error:
        raise InvalidRequest("invalid_request", str(error)) from None
    except msgspec.DecodeError as error:
        raise InvalidRequest("malformed_json", str(error)) from None
    if request.requested_at.tzinfo is None:
        raise InvalidRequest("invalid_request", "requested_at needs a time zone (UTC: end it with Z)")
    return request


def encode(record: RetrainRequest | RetrainOutcome) -> bytes:
    return msgspec.json.encode(record)


def to_builtins(record: RetrainRequest | RetrainOutcome) -> dict:
    return msgspec.to_builtins(record)


def decode_outcome(raw: bytes) -> RetrainOutcome:
    return _outcome_decoder.decode(raw)


def now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
