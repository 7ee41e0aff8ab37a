"""Reads replay headers to measure detection delay. Evaluation only: detection never sees it."""

from __future__ import annotations

from schemas.topics import HEADER_ONSET, HEADER_REPLAY_ID, HEADER_SCENARIO, HEADER_SEQUENCE


class ReplayTracker:
    """Counts, per replay, the events seen at or after the drift onset."""

    def __init__(self) -> None:
        self.since_onset: dict[str, int] = {}

    def observe(self, headers) -> dict | None:
        if not headers:
            return None
        seq = onset = replay = scenario = None
        for name, value in headers.items() if isinstance(headers, dict) else headers:
            if name == HEADER_SEQUENCE:
                seq = value
            elif name == HEADER_ONSET:
                onset = value
            elif name == HEADER_REPLAY_ID:
                replay = value
            elif name == HEADER_SCENARIO:
                scenario = value
        if seq is None or replay is None:
            return None
        seq_n, onset_n = int(seq), int(onset or 0)
        since = self.since_onset.get(replay, 0)
        if seq_n >= onset_n:
            since += 1
            self.since_onset[replay] = since
        return {"replay_id": replay, "seq": seq_n, "onset": onset_n,
                "scenario": scenario, "events_since_onset": since}

    @staticmethod
    def readable(trigger: dict | None) -> dict | None:
        """The trigger with bytes header values turned into text (for events and reports)."""
        if trigger is None:
            return None
        return {k: v.decode() if isinstance(v, bytes) else v for k, v in trigger.items()}
