"""Drift episodes: what a person reads instead of single alarms.

An alarm is a point; an episode is a run of them on one feature of one partition. It opens
with an alarm, stays open while alarms on the feature recur, or its window tests stay
drifted, within ``quiet`` events of the last, and closes once ``quiet`` events passed
without either (window tests alarm on a rising edge only: a lasting shift is one alarm and
then drifted evaluations) — but not before a model
cutoff has measured it, when the partition's model estimates its error: an episode closes
with its impact, the estimated MAE over its span against the holdout's.

Impact is the largest relative excess of the estimated error's band (its low end) over the
holdout MAE at the cutoffs inside the episode (the error check's statistic: the like-for-
like population or all customers, whichever is higher); "material" above the margin. A
partition's episodes are part of its state, so they move with it; the fleet's view
(feature in an episode anywhere) is Prometheus' max over workers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class Episode:
    feature: str
    partition: int
    start_time: float  # event time of the opening alarm's event
    start_offset: int
    start_events: int  # the partition's valid events then
    end_time: float
    end_offset: int
    last_drifted_events: int  # the partition's events at its last alarm or drifted evaluation
    alarms: int = 1
    tests: list[str] = field(default_factory=list)
    peak: float = 0.0  # the largest statistic / threshold among its alarms (an ADWIN detection: 1)
    segments: list[tuple[str, str, float, int]] = field(default_factory=list)  # of its peak alarm
    # Cutoffs inside it: (estimated error check's statistic, estimated MAE, holdout MAE)
    cutoffs: list[tuple[float, float, float]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return f"{self.partition}-{self.feature}-{self.start_offset}"

    @property
    def impact(self) -> float | None:
        """Largest relative excess of the estimated error over the holdout's (None: unmeasured)."""
        values = [c[0] for c in self.cutoffs if not math.isnan(c[0])]
        return max(values) if values else None

    def material(self, margin: float) -> bool | None:
        impact = self.impact
        return None if impact is None else impact > margin


@dataclass
class Episodes:
    """One partition's episodes: the open one per feature."""

    partition: int
    quiet: int  # events without an alarm that close an episode
    open: dict[str, Episode] = field(default_factory=dict)
    opened: int = 0
    closed: int = 0

    def alarm(self, feature: str, test: str, ratio: float, when: float, offset: int, events: int
              ) -> Episode | None:
        """An alarm on ``feature``: the episode it opens, or None when it continues one."""
        episode = self.open.get(feature)
        if episode is None:
            episode = Episode(feature, self.partition, when, offset, events, when, offset, events,
                              tests=[test], peak=ratio)
            self.open[feature] = episode
            self.opened += 1
            return episode
        episode.alarms += 1
        episode.last_drifted_events, episode.end_time, episode.end_offset = events, when, offset
        if test not in episode.tests:
            episode.tests.append(test)
        episode.peak = max(episode.peak, ratio)
        return None

    def drifted(self, feature: str, events: int) -> None:
        """An evaluation found ``feature`` still drifted: its open episode goes on."""
        episode = self.open.get(feature)
        if episode is not None:
            episode.last_drifted_events = events

    def cutoff(self, statistic: float, estimated_mae: float, holdout_mae: float) -> None:
        """A model cutoff's estimated error: part of every open episode's impact."""
        for episode in self.open.values():
            episode.cutoffs.append((statistic, estimated_mae, holdout_mae))

    def advance(self, events: int, measured: bool) -> list[Episode]:
        """The partition reached ``events``: the episodes quiet for long enough close (those
        still waiting for a cutoff stay open while ``measured``, the model estimating)."""
        done = []
        for feature, episode in list(self.open.items()):
            if events - episode.last_drifted_events < self.quiet or (measured and not episode.cutoffs):
                continue
            del self.open[feature]
            self.closed += 1
            done.append(episode)
        return done
