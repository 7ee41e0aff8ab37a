"""The CLV model in the stream: predict at event-time cutoffs, score when labels are due.

Per partition (customers are partition-local): running customer aggregates, and a grid
of cutoffs every ``step_days`` of event time. When a partition's event time passes a
cutoff c, every customer seen so far gets a prediction of spend in [c, c + H), made from
the state before c exactly as the trainer builds features at its cutoffs. When event
time passes c + H, each prediction is scored against the spend realised in between
(net, floored at 0 — the trainer's target). Events must arrive in event-time order per
partition (a time-ordered replay, or live traffic); a shuffled replay has no meaningful
event time, so the figures are only read on time-ordered streams.

Model checks, each alarming on its own:
- prediction drift (no labels needed): at each cutoff, exact two-sample KS between the
  cutoff's predictions and the model's predictions at the trainer's holdout cutoff
  (``ks``), and like for like between the customers who bought since the previous cutoff
  and the holdout customers who bought in the same span before its cutoff (``ks_active``);
- estimated error (no labels needed, detector/model/health.py): the loss model's MAE of
  the cutoff's predictions, its band's low end against the holdout MAE plus a margin;
- error at the spend level (no labels needed): the returning buyers' baskets in the last
  step over their own before it re-price the holdout's labels (health.py);
- error so far (the labels' first days): every ``so_far_step_days``, per pending cutoff, the
  error its spend since the cutoff already shows, against the holdout's after as many days
  — one event per cutoff: when it crosses, or when the cutoff is scored;
- realised error: the same cutoff's MAE once its labels are due, against the same;
- error range: per scored cutoff, the share of errors outside the holdout errors' range,
  against its exact binomial null (as the data out-of-range check);
- error drift: ADWIN on each absolute error's rank under the holdout's absolute errors
  (bounded in [0, 1], uniform while errors look like the holdout's).
Rolling MAE/RMSE over the last ``error_window`` scored predictions sit beside the holdout
figures and the naive baseline (spend in the last H days repeated) on the same customers.

Everything a partition accumulates (customers, pending predictions, error statistics,
counts) is its ``TrackerState``, which moves with the partition; ``ModelTracker`` holds
the model and the logic.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from detector.drift.checks import Verdict
from detector.drift.checks.adwin import AdwinCheck
from detector.drift.checks.ks import ks_critical_value, ks_distance
from detector.drift.checks.out_of_range import OutOfRangeCheck
from detector.model import health
from detector.model.config import ModelConfig
from detector.model.customers import CustomerStore
from detector.model.loader import LoadedModel
from schemas.features import DAY

log = logging.getLogger(__name__)
MIN_PREDICTIONS = 50  # fewer predictions or scores at a cutoff are not checked
LEVEL_TESTS = 3  # model tests run at a level (ks, ks_active, out_of_range): they share alpha
DEFAULT_HORIZON_DAYS = 90  # customer state horizon while no model is loaded


@dataclass
class Pending:
    cutoff: float
    customers: np.ndarray
    predictions: np.ndarray
    naive: np.ndarray  # spend in the H days before the cutoff: the naive baseline's prediction
    monetary_at_cutoff: np.ndarray
    active: np.ndarray | None = None  # bought since the previous cutoff
    figures: health.CutoffError | None = None  # the estimate, to be joined by the realised error
    shown_up: bool = False  # its error so far already crossed the margin (checked no more)


@dataclass
class TrackerState:
    """One partition's model tracking."""

    store: CustomerStore
    model_version: str | None = None  # the model its predictions and error statistics belong to
    first_time: float = math.nan  # first event time seen: the burn-in starts there
    next_cutoff: float = math.nan
    watermark: float = -math.inf
    next_look: float = math.nan  # event time of the next look at the pending cutoffs' error so far
    pending: deque[Pending] = field(default_factory=deque)
    drifted: dict[str, bool] = field(default_factory=dict)  # per model check, for rising edges
    predictions: int = 0
    scored: int = 0
    # The last error_window scores: (cutoff, model errors, naive errors) per scored cutoff.
    errors: deque[tuple[float, np.ndarray, np.ndarray]] = field(default_factory=deque)
    error_count: int = 0
    error_check: AdwinCheck | None = None
    estimated: int = 0  # cutoffs whose error the loss model estimated (episodes wait for one)
    impact: dict[str, int] = field(default_factory=dict)  # signal -> consecutive cutoffs above margin
    judged: dict[str, float] = field(default_factory=dict)  # signal -> newest cutoff it judged

    def __setstate__(self, state: dict) -> None:
        """States pickled before the error so far have no judged cutoffs."""
        state.setdefault("judged", {})
        self.__dict__.update(state)

    @property
    def pending_count(self) -> int:
        return sum(p.customers.size for p in self.pending)


@dataclass
class ModelOutcome:
    """A check on a cutoff's predictions (feature "prediction") or scores (feature "error")."""

    result: Verdict
    alarm: bool
    position: int  # index in the partition's batch of the event that passed the mark
    cutoff: float
    size: int  # predictions made or scored
    values: np.ndarray | None = None  # the cutoff's predictions, or its errors
    figures: health.CutoffError | None = None  # estimated and realised error checks: the figures
    labels_until: float | None = None  # the error so far: event time up to which labels were seen


class ModelTracker:
    def __init__(self, config: ModelConfig, model: LoadedModel | None = None) -> None:
        self.config = config
        self.model = model
        self._holdout: tuple | None = None  # (version, MAEs, active predictions, so-far curves, level)

    def holdout(self) -> tuple[dict[str, float], np.ndarray]:
        """The holdout MAE per population, and the sorted predictions of its active customers."""
        return self._held()[1:3]

    def so_far_reference(self, days: int) -> dict[str, float]:
        """The holdout's error so far ``days`` after its cutoff per population (its whole MAE
        for a model saved without the holdout's days)."""
        _, maes, _, curves, _ = self._held()
        if curves is None:
            return maes
        return {p: float(curve[min(max(days, 1), curve.size) - 1]) for p, curve in curves.items()}

    def holdout_level(self) -> health.HoldoutLevel | None:
        """The holdout's labels and predictions, to re-price its error (None: not saved)."""
        return self._held()[4]

    def _held(self) -> tuple:
        if self._holdout is None or self._holdout[0] != self.model.version:
            step = self.config.step_days
            active = self.model.holdout_active(step)
            held = self.model.holdout_predictions
            predictions = np.sort(held[active]) if held is not None and held.size == active.size \
                else np.empty(0)
            self._holdout = (self.model.version, health.holdout_maes(self.model, step), predictions,
                             health.holdout_so_far(self.model, step), health.holdout_level(self.model, step))
        return self._holdout

    @property
    def version(self) -> str | None:
        return self.model.version if self.model else None

    @property
    def horizon(self) -> float:
        days = self.model.horizon_days if self.model else DEFAULT_HORIZON_DAYS
        return days * DAY

    def new_state(self) -> TrackerState:
        return self.adopt(TrackerState(CustomerStore(int(self.horizon / DAY))))

    def adopt(self, state: TrackerState) -> TrackerState:
        """Make a partition's state follow the model in use: a state of another model (a swap,
        or restored from where an older model ran) drops its pending predictions and error
        statistics; its customers stay."""
        if state.model_version == self.version and (state.error_check or not self.model):
            return state
        if state.pending:
            log.info("model %s replaces %s: %d pending predictions of the old model dropped",
                     self.version, state.model_version, state.pending_count)
        state.model_version = self.version
        state.pending.clear()
        state.drifted.clear()
        state.errors.clear()
        state.error_count = 0
        state.estimated = 0
        state.impact.clear()
        state.judged.clear()
        state.store.horizon = self.horizon
        state.error_check = None if self.model is None else AdwinCheck(
            "error", np.abs(self.model.holdout_errors), self.config.adwin_delta)
        return state

    def update(self, state: TrackerState, customers: list, invoices: list, totals: list,
               times: list) -> list[ModelOutcome]:
        """Feed one partition's events in order (customer None = anonymous: not a CLV customer)."""
        if math.isnan(state.first_time):
            step = self.config.step_days * DAY
            state.first_time = times[0]
            state.next_cutoff = math.ceil(times[0] / step) * step
        out: list[ModelOutcome] = []
        add = state.store.add
        mark = self._next_mark(state)
        watermark = state.watermark
        for i, (customer, invoice, total, when) in enumerate(zip(customers, invoices, totals, times,
                                                                 strict=True)):
            if when >= mark:
                out.extend(self._pass(state, when, i))
                mark = self._next_mark(state)
            if when > watermark:
                watermark = when
            if customer is not None:
                add(customer, when, invoice, total, watermark)
        state.watermark = watermark
        return out

    def _next_mark(self, state: TrackerState) -> float:
        if not state.pending:
            return state.next_cutoff
        look = state.next_look if not math.isnan(state.next_look) else math.inf
        return min(state.next_cutoff, state.pending[0].cutoff + self.horizon, look)

    def _pass(self, state: TrackerState, when: float, position: int) -> list[ModelOutcome]:
        """Event time reached ``when``: score what is due, look at the pending cutoffs' error
        so far (once per ``so_far_step_days``), then predict at passed cutoffs."""
        out = []
        while state.pending and state.pending[0].cutoff + self.horizon <= when:
            out.extend(self._score(state, state.pending.popleft(), position))
        if state.next_look <= when:
            for pending in state.pending:
                if pending.figures is not None and not pending.shown_up:
                    verdict, shown = self._so_far(pending, self._spent(state, pending),
                                                  int((when - pending.cutoff) // DAY))
                    if verdict.drifted:
                        pending.shown_up = True
                        out.append(self._impact(state, verdict, position, pending.cutoff, shown,
                                                pending.figures))
                        out[-1].labels_until = when
        if not state.next_look > when:
            look = self.config.so_far_step_days * DAY
            state.next_look = (math.floor(when / look) + 1) * look
        step = self.config.step_days * DAY
        while state.next_cutoff <= when:
            cutoff, state.next_cutoff = state.next_cutoff, state.next_cutoff + step
            if self.model is None or cutoff - state.first_time < self.config.burn_in_days * DAY:
                state.store.prune(cutoff)  # keeps memory bounded while nothing is predicted
                continue
            out.extend(self._predict(state, cutoff, position))
        return out

    def _predict(self, state: TrackerState, cutoff: float, position: int) -> list[ModelOutcome]:
        x = state.store.features(cutoff)
        if x.empty:
            return []
        predictions, losses = self.model.predict_with_losses(x)
        active = x["recency_days"].to_numpy() < self.config.step_days
        state.predictions += predictions.size
        pending = Pending(cutoff, x.index.to_numpy(), predictions,
                          x["spend_last_horizon"].clip(lower=0).to_numpy(), x["monetary"].to_numpy(), active)
        state.pending.append(pending)
        if predictions.size < MIN_PREDICTIONS:
            return []
        reference_maes, active_reference = self.holdout()
        out = [self._outcome(state, self._ks("ks", self.model.predictions, predictions), position, cutoff,
                             predictions)]
        if active.sum() >= MIN_PREDICTIONS and active_reference.size >= MIN_PREDICTIONS:
            out.append(self._outcome(state, self._ks("ks_active", active_reference, predictions[active]),
                                     position, cutoff, predictions[active]))
        if losses is not None:
            pending.figures = health.estimate(self.model, cutoff, losses, active)
            state.estimated += 1
            verdict = health.estimated_verdict(pending.figures, reference_maes, self.config.impact_margin)
            out.append(self._impact(state, verdict, position, cutoff, losses, pending.figures))
            level = self.holdout_level()
            if level is not None:
                span = min(self.config.step_days * DAY, self.horizon)
                baskets = state.store.basket_ratios(cutoff - span, cutoff)
                health.at_level(pending.figures, level, baskets)
                verdict = health.level_verdict(pending.figures, level, self.config.impact_margin)
                out.append(self._impact(state, verdict, position, cutoff, baskets, pending.figures))
        return out

    @staticmethod
    def _spent(state: TrackerState, pending: Pending) -> np.ndarray:
        """Each of a pending cutoff's customers' net spend since it."""
        return state.store.monetary(pending.customers) - pending.monetary_at_cutoff

    def _so_far(self, pending: Pending, spent: np.ndarray, days: int) -> tuple[Verdict, np.ndarray]:
        """The error a pending cutoff's spend over its first ``days`` already shows, checked."""
        shown = health.shown_so_far(pending.predictions, spent)
        health.so_far(pending.figures, shown, pending.active)
        reference = self.so_far_reference(days)
        return health.so_far_verdict(pending.figures, reference, self.config.impact_margin), shown

    def _ks(self, test: str, reference: np.ndarray, predictions: np.ndarray) -> Verdict:
        d = ks_distance(reference, predictions)
        alpha = self.config.alpha / LEVEL_TESTS
        threshold = max(ks_critical_value(reference.size, predictions.size, alpha), self.config.min_effect)
        return Verdict("prediction", test, d, threshold, d > threshold)

    def _impact(self, state: TrackerState, verdict: Verdict, position: int, cutoff: float,
                values: np.ndarray, figures: health.CutoffError) -> ModelOutcome:
        """An error check: its streak of cutoffs above the margin moves; alarm on a rising edge.
        Streaks run in cutoff order: an older cutoff judged after a newer one (its error so far
        is judged when its labels are due, a newer one's as soon as it crosses) moves neither."""
        if cutoff > state.judged.get(verdict.test, -math.inf):
            state.judged[verdict.test] = cutoff
            state.impact[verdict.test] = state.impact.get(verdict.test, 0) + 1 if verdict.drifted else 0
            outcome = self._outcome(state, verdict, position, cutoff, values)
        else:
            outcome = ModelOutcome(verdict, False, position, cutoff, values.size, values)
        outcome.figures = figures
        return outcome

    def material(self, state: TrackerState, signal: str) -> bool:
        """Has ``signal`` (estimated, realised) been above the margin for K cutoffs in a row?"""
        return state.impact.get(signal, 0) >= self.config.impact_cutoffs

    @staticmethod
    def _outcome(state: TrackerState, result: Verdict, position: int, cutoff: float,
                 values: np.ndarray) -> ModelOutcome:
        """Alarm on the rising edge of a check's state in this partition."""
        alarm = result.drifted and not state.drifted.get(result.test, False)
        state.drifted[result.test] = result.drifted
        return ModelOutcome(result, alarm, position, cutoff, values.size, values)

    def _score(self, state: TrackerState, pending: Pending, position: int) -> list[ModelOutcome]:
        spent = self._spent(state, pending)
        realised = np.clip(spent, 0, None)
        errors = pending.predictions - realised
        state.scored += errors.size
        state.errors.append((pending.cutoff, errors, pending.naive - realised))
        state.error_count += errors.size
        while state.error_count - state.errors[0][1].size >= self.config.error_window:
            state.error_count -= state.errors.popleft()[1].size
        c = self.config
        if errors.size < MIN_PREDICTIONS:
            return []
        in_range = OutOfRangeCheck("error", self.model.holdout_errors, errors.size, c.alpha / LEVEL_TESTS,
                                   c.error_min_share)
        out = [self._outcome(state, in_range.evaluate(errors), position, pending.cutoff, errors)]
        if pending.figures is not None:
            if not pending.shown_up:  # its one so-far event: it never crossed before its labels
                verdict, shown = self._so_far(pending, spent, int(round(self.horizon / DAY)))
                out.append(self._impact(state, verdict, position, pending.cutoff, shown, pending.figures))
            health.realise(pending.figures, errors, pending.active)
            verdict = health.realised_verdict(pending.figures, self.holdout()[0], c.impact_margin)
            out.append(self._impact(state, verdict, position, pending.cutoff, errors, pending.figures))
        state.error_check.update(np.abs(errors))
        # every ADWIN detection is an alarm (it drops the old part of its window after one)
        verdict = state.error_check.evaluate(None)
        out.append(ModelOutcome(verdict, verdict.drifted, position, pending.cutoff, errors.size, errors))
        return out

    def performance(self, states: list[TrackerState]) -> dict[str, float]:
        """Rolling figures over the last ``error_window`` scores of the given partitions' states
        (by cutoff; at equal cutoffs, in the order given), beside the holdout's."""
        figures = {"mae": math.nan, "rmse": math.nan, "naive_mae": math.nan}
        scored = sorted((entry for s in states for entry in s.errors), key=lambda entry: entry[0])
        if scored:
            window = self.config.error_window
            e = np.concatenate([errors for _, errors, _ in scored])[-window:]
            n = np.concatenate([naive for _, _, naive in scored])[-window:]
            figures = {"mae": float(np.abs(e).mean()), "rmse": float(np.sqrt((e ** 2).mean())),
                       "naive_mae": float(np.abs(n).mean())}
        holdout = self.model.holdout if self.model else {}
        figures.update({"holdout_mae": holdout.get("mae", math.nan),
                        "holdout_rmse": holdout.get("rmse", math.nan),
                        "baseline_mae": holdout.get("baseline_mae", math.nan)})
        return figures
