"""A partition's drift episodes (detector/drift/episodes.py) fed from what its rows produced.

Alarms, drifted evaluations and the model's error estimates are taken in the order of the
events that raised them; before each, and once the batch is in, episodes quiet for long
enough close — as if the events came one at a time, so the episodes do not depend on how
the stream was cut into batches (a partition processed again after a crash, or by another
worker, has the same episodes and the same drift events). Called where rows are applied to
the state, so a rebuilt state has the same episodes.
"""

from __future__ import annotations

from detector.drift.episodes import Episode, Episodes
from detector.drift.monitor import Outcome
from detector.model.tracker import ModelOutcome, ModelTracker, TrackerState


def severity(test: str, statistic: float, threshold: float) -> float:
    """An alarm's statistic over its threshold; an ADWIN detection (threshold: its δ) counts 1."""
    return 1.0 if test == "adwin" or not threshold else statistic / threshold


def feed(episodes: Episodes, data: list[Outcome], model: list[ModelOutcome], offsets: list[int],
         times: list[float], events_before: int, tracker: ModelTracker, tracked: TrackerState
         ) -> list[tuple[str, Episode]]:
    """Episodes opened and closed by one applied batch: ("open" | "close", episode)."""
    happened: list[tuple[int, int, object]] = []
    for outcome in data:
        happened.extend((outcome.position, 0, alarm) for alarm in outcome.alarms)
        happened.extend((outcome.position, 2, r.feature) for r in outcome.results if r.drifted)
    estimates = [o for o in model if o.result.test == "estimated"]
    happened.extend((o.position, 1, o) for o in estimates)
    out: list[tuple[str, Episode]] = []
    loss_model = tracker.model is not None and tracker.model.loss_model is not None
    estimated = tracked.estimated - len(estimates)  # cutoffs estimated before the batch
    for position, kind, item in sorted(happened, key=lambda h: (h[0], h[1])):
        # the partition as of the event before this one: what had gone quiet by then closes
        closed = episodes.advance(events_before + position, loss_model and estimated > 0)
        out.extend(("close", e) for e in closed)
        if kind == 0:
            peak = severity(item.test, item.statistic, item.threshold)
            opened = episodes.alarm(item.feature, item.test, peak, times[position], offsets[position],
                                    events_before + position + 1)
            if opened is not None:
                out.append(("open", opened))
        elif kind == 2:
            episodes.drifted(item, events_before + position + 1)
        else:
            reference = tracker.holdout()[0]["all"]
            episodes.cutoff(item.result.statistic, item.figures.estimated["all"][0], reference)
            estimated += 1
    closed = episodes.advance(events_before + len(times), loss_model and estimated > 0)
    out.extend(("close", e) for e in closed)
    return out
