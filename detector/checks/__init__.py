"""Two-sample checks between the reference and the current window; each knows no Kafka."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CheckResult:
    feature: str
    test: str
    statistic: float
    threshold: float
    drifted: bool
    p_value: float | None = None
