"""Everything processing builds, as one typed object: what a checkpoint saves and restores."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import ClassVar

from detector.drift.monitor import DriftMonitor
from detector.model.tracker import ModelTracker


@dataclass
class PipelineState:
    """Per partition: its drift monitor and last offset (customer state and pending
    predictions are per partition inside the model tracker); plus counts and the watermark.
    The model itself is not kept: only its version, reloaded from the models directory."""

    FORMAT: ClassVar[int] = 2  # bump when the layout changes: older saved states are ignored

    model_tracker: ModelTracker
    monitors: dict[int, DriftMonitor] = field(default_factory=dict)
    offsets: dict[int, int] = field(default_factory=dict)  # last offset processed per partition
    processed: int = 0
    watermark: float = -math.inf
    model_version: str | None = None
