"""Messages on drift.events (see drift_event.schema.json)."""

from __future__ import annotations

import msgspec


class Result(msgspec.Struct):
    feature: str
    test: str
    statistic: float
    threshold: float
    drifted: bool


class WindowInfo(msgspec.Struct):
    size: int
    panes: int
    events_processed: int
    event_time_start: str | None
    event_time_end: str | None


class Distribution(msgspec.Struct):
    """What an alarm compared, summed up: for a numeric feature the reference's and the
    current values' quantiles at ``levels``; for a categorical one each category's share."""

    feature: str
    numeric: bool
    labels: list[str]  # quantile levels ("0.05") or categories
    reference: list[float]
    current: list[float]
    reference_name: str = "reference"  # what the current values are compared with
    current_name: str = "current window"


class Segment(msgspec.Struct):
    """A segment's part in an alarm's statistic (detector/drift/attribution.py)."""

    kind: str  # country, stock_code, or category
    name: str
    contribution: float
    count: int  # its values in the window


class DriftEvent(msgspec.Struct):
    kind: str  # "alarm" or "evaluation"
    detector: str  # "data" or "model"
    results: list[Result]
    window: WindowInfo
    drift_share: float
    drifted_columns: int
    emitted_at: str
    partition: int | None = None  # the input partition whose window this is
    model_version: str | None = None
    trigger: dict | None = None  # replay metadata, for evaluation only
    distributions: list[Distribution] | None = None  # alarms: what was compared (the report's charts)
    worker: str | None = None  # the host that raised it
    segments: list[Segment] | None = None  # alarms: the segments that drive it, most first


encode = msgspec.json.Encoder().encode
decode = msgspec.json.Decoder(DriftEvent).decode
