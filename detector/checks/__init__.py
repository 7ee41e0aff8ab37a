"""Two-sample checks between the reference and the current window; each knows no Kafka.

A check's verdict is the drift event's Result itself, so it goes on the wire unchanged.
"""

from __future__ import annotations

from schemas.drift_event import Result as CheckResult

__all__ = ["CheckResult"]
