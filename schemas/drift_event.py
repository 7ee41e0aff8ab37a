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

    kind: str  # country, stock_code, category, or cell (a joint test's histogram cell)
    name: str
    contribution: float
    count: int  # its values in the window


class ModelError(msgspec.Struct):
    """A cutoff's MAE for one population (detector/model/health.py): estimated before labels
    with its 95 % band, the holdout's at the spend level seen, so far, realised once the labels
    are due (None before), and the holdout's."""

    population: str  # "all" customers predicted, or "active": bought since the previous cutoff
    customers: int
    estimated_mae: float | None
    estimated_low: float | None
    estimated_high: float | None
    realised_mae: float | None
    holdout_mae: float | None
    realised_so_far: float | None = None  # before the labels are due: the error spend already shows
    spend_level: float | None = None  # the returning buyers' median basket now over before
    at_spend_level: float | None = None  # the holdout's MAE at that level (its band's least)


class Episode(msgspec.Struct):
    """A drift episode (detector/drift/episodes.py): a run of alarms on one feature of one
    partition, and its impact on the model's estimated error."""

    id: str
    feature: str
    state: str  # "open" or "closed"
    start_time: str
    end_time: str  # its last alarm's event time
    start_offset: int
    end_offset: int
    alarms: int
    tests: list[str]
    peak: float  # the largest statistic / threshold among its alarms
    cutoffs: int  # model cutoffs inside it
    estimated_mae: float | None  # mean over those cutoffs, all customers
    holdout_mae: float | None
    impact: float | None  # largest excess of the estimated error's band over the holdout MAE
    material: bool | None  # impact above the margin; None: unmeasured (no model estimate)
    segments: list[Segment] | None = None  # of its peak alarm


class DriftEvent(msgspec.Struct):
    kind: str  # "alarm", "evaluation", "episode_open" or "episode_close"
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
    model_error: list[ModelError] | None = None  # model error checks: the cutoff's figures
    episode: Episode | None = None  # episode events
    id: str | None = None  # the same event raised again (after a crash) has the same id


encode = msgspec.json.Encoder().encode
decode = msgspec.json.Decoder(DriftEvent).decode
