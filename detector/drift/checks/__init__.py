"""Drift checks: each compares the current window (or stream) with a reference.

Every check has one small interface, whatever its test:

- ``update(values)``: feed the values that just arrived; returns the detections, as
  (position in ``values``, verdict). Only streaming checks (``streaming = True``: ADWIN)
  detect here; window tests return ``[]``.
- ``evaluate(window)``: the verdict over the current window, asked as each pane completes.

A streaming check alarms on each detection; a window test alarms on the rising edge of
its verdicts (the monitor keeps that state). Checks know no Kafka and no wire format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True, slots=True)
class Verdict:
    feature: str
    test: str
    statistic: float
    threshold: float
    drifted: bool

    @property
    def ratio(self) -> float:
        """How close to (or far past) its threshold the statistic is."""
        return self.statistic / self.threshold if self.threshold else 0.0


class Check(Protocol):
    feature: str
    test: str
    threshold: float
    streaming: bool

    def update(self, values: np.ndarray) -> list[tuple[int, Verdict]]: ...

    def evaluate(self, window: np.ndarray) -> Verdict: ...


__all__ = ["Check", "Verdict"]
