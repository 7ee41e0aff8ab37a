"""Messages for drift.events, from what the drift monitors and the model tracker produced."""

from __future__ import annotations

import math
import socket
from datetime import UTC, datetime

from detector.drift.attribution import Segment
from detector.drift.checks import Verdict
from detector.drift.episodes import Episode
from detector.drift.monitor import Outcome
from detector.model.tracker import ModelOutcome
from detector.pipeline.replay_tracker import ReplayTracker
from schemas import drift_event


def iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None).isoformat()


WORKER = socket.gethostname()


def event_id(partition: int, offset: int, kind: str, results: list[Verdict], *more: str) -> str:
    """partition:offset:kind[:feature:test[:segment]][:more]: the same event raised again
    (rows processed again after a crash, from the same snapshot) has the same id.

    >>> event_id(2, 4711, "alarm", [Verdict("quantity", "ks", 0.3, 0.2, True)])
    '2:4711:alarm:quantity:ks'
    """
    parts = [str(partition), str(offset), kind]
    if len(results) == 1:
        parts += [results[0].feature, results[0].test, *filter(None, [getattr(results[0], "segment", "")])]
    return ":".join([*parts, *more])


def _event(kind: str, detector: str, partition: int, results: list[Verdict], window: drift_event.WindowInfo,
           drift_share: float, drifted_columns: int, model_version: str | None, trigger: dict | None,
           distributions: list[drift_event.Distribution] | None,
           segments: list[Segment] | None = None) -> drift_event.DriftEvent:
    return drift_event.DriftEvent(
        kind=kind, detector=detector, partition=partition,
        results=[drift_event.Result(r.feature, r.test, r.statistic, r.threshold, r.drifted) for r in results],
        window=window, drift_share=drift_share, drifted_columns=drifted_columns,
        emitted_at=datetime.now(UTC).isoformat(), model_version=model_version,
        trigger=ReplayTracker.readable(trigger), distributions=distributions or None, worker=WORKER,
        segments=[drift_event.Segment(s.kind, s.name, s.contribution, s.count)
                  for s in segments or []] or None)


def data_event(kind: str, partition: int, outcome: Outcome, results: list[Verdict], window_size: int,
               panes: int, model_version: str | None, trigger: dict | None,
               distributions: list[drift_event.Distribution] | None = None,
               segments: list[Segment] | None = None) -> drift_event.DriftEvent:
    """An evaluation (every check of a pane) or an alarm (one check) of a partition's window."""
    window = drift_event.WindowInfo(window_size, panes, outcome.events_processed,
                                    iso(outcome.event_time_start), iso(outcome.event_time_end))
    return _event(kind, "data", partition, results, window, outcome.drift_share, outcome.drifted_columns,
                  model_version, trigger, distributions, segments)


def _number(value: float | None) -> float | None:
    return None if value is None or math.isnan(value) else value


def model_event(partition: int, outcome: ModelOutcome, events_processed: int, horizon: float,
                model_version: str | None, trigger: dict | None,
                distributions: list[drift_event.Distribution] | None = None,
                holdout: dict[str, float] | None = None) -> drift_event.DriftEvent:
    """One model check on one cutoff's predictions (or scores): window = [cutoff, cutoff + H),
    or [cutoff, the event time reached) for an error so far crossing before its labels are due."""
    result = outcome.result
    end = outcome.cutoff + horizon if outcome.labels_until is None else outcome.labels_until
    window = drift_event.WindowInfo(outcome.size, 1, events_processed, iso(outcome.cutoff), iso(end))
    event = _event("alarm" if outcome.alarm else "evaluation", "model", partition, [result], window,
                   float(result.drifted), int(result.drifted), model_version, trigger, distributions)
    if outcome.figures is not None:
        f = outcome.figures
        event.model_error = [drift_event.ModelError(
            p, f.customers[p], *(_number(v) for v in f.estimated.get(p, (None,) * 3)),
            _number(f.realised.get(p)), _number((holdout or {}).get(p)), _number(f.so_far.get(p)),
            _number(f.spend_level), _number(f.at_level.get(p))) for p in f.customers]
    return event


def episode_event(change: str, episode: Episode, margin: float, model_version: str | None
                  ) -> drift_event.DriftEvent:
    """An episode opened or closed: its span, tests, peak, segments and impact."""
    estimated = [c[1] for c in episode.cutoffs if not math.isnan(c[1])]
    info = drift_event.Episode(
        id=episode.id, feature=episode.feature, state="open" if change == "open" else "closed",
        start_time=iso(episode.start_time), end_time=iso(episode.end_time),
        start_offset=episode.start_offset, end_offset=episode.end_offset, alarms=episode.alarms,
        tests=list(episode.tests), peak=episode.peak, cutoffs=len(episode.cutoffs),
        estimated_mae=sum(estimated) / len(estimated) if estimated else None,
        holdout_mae=_number(episode.cutoffs[-1][2]) if episode.cutoffs else None,
        impact=_number(episode.impact), material=episode.material(margin),
        segments=[drift_event.Segment(*s) for s in episode.segments] or None)
    window = drift_event.WindowInfo(episode.alarms, 1, 0, iso(episode.start_time), iso(episode.end_time))
    return drift_event.DriftEvent(
        kind=f"episode_{change}", detector="data", partition=episode.partition, results=[],
        window=window, drift_share=0.0, drifted_columns=0, emitted_at=datetime.now(UTC).isoformat(),
        model_version=model_version, worker=WORKER, episode=info)
