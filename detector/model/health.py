"""The model's error per cutoff: estimated before the labels, realised when they are due.

At each cutoff the loss model (schemas/loss_model.py) gives every prediction's expected
absolute error; their mean is the cutoff's estimated MAE, with a 95 % band for the MAE the
labels will show. H days later the same cutoff's realised MAE sits beside it. Both are
compared, like for like, with the holdout's realised MAE over the same population:

- ``all``: every customer predicted at the cutoff, against every holdout customer;
- ``active``: the customers who bought since the previous cutoff (recency below the step),
  against the holdout customers who bought in the same span before its cutoff. A drift
  reaches these customers first; among all customers it is diluted by those who have not
  bought since it began.

Each check's statistic is the larger relative excess over the holdout of a band's low end
— the estimate's band, or the realised MAE's own 95 % interval (its standard error from the
cutoff's absolute errors): the error is up only if even the band's bottom is — alarming
above the impact margin; a partition's impact streak counts consecutive cutoffs that
alarmed. (A partition's cutoff has ~1,000 customers, ~100 of them active: without the
band the realised MAE of a week alone moves by a quarter on the clean year.)

Between the two, the error **so far**: each day of the horizon already seen shows part of
every prediction's error — spend since the cutoff beyond the prediction, max(0, spent −
predicted), which only a later return can undo. Its mean d days after a cutoff is
compared with the same figure of the holdout d days after its cutoff (the trainer keeps
the holdout's spend day by day), the cutoff's band's low end against the holdout's high
end (a few customers carry it in the first days) and the margin: a drift in spend
shows as soon as customers buy, days before the cutoff's labels are due. A model saved
without the holdout's days is compared with its whole holdout MAE instead (the error so
far is a lower bound of the MAE the labels will show: a later, surer signal).

Before any label, the error at the **spend level** seen: a change of what customers spend
(prices, basket sizes) changes the future the model predicts before it shows in their
histories, and the loss model, which reads those histories, cannot see it. At each cutoff,
like for like: each returning customer who bought in the last step (a week) — their net
spend per purchase in it over their net spend per invoice before it. A change of mix (other
customers buying) leaves it alone; a change of level moves every one of them. Its median r
(95 % band from order statistics) re-prices the holdout's labels: the holdout's MAE with
labels × r, at the r in the band (at or above 1) that gives the least error, against its MAE
at r = 1 (its own). A band that holds r = 1, or lies below it, gives no excess; no label of
the cutoff is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from detector.drift.checks import Verdict
from detector.model.loader import LoadedModel
from schemas.loss_model import BAND_Z

POPULATIONS = ("all", "active")
MIN_CUSTOMERS = 50  # fewer customers in a population: not compared


@dataclass
class CutoffError:
    """One cutoff's error figures per population: estimated (mae, low, high), realised MAE
    and the low end of its interval."""

    cutoff: float
    customers: dict[str, int]
    estimated: dict[str, tuple[float, float, float]] = field(default_factory=dict)
    realised: dict[str, float] = field(default_factory=dict)
    realised_low: dict[str, float] = field(default_factory=dict)
    so_far: dict[str, float] = field(default_factory=dict)  # mean error already shown
    so_far_low: dict[str, float] = field(default_factory=dict)
    spend_level: float = math.nan  # r: the returning buyers' median basket now over before
    at_level: dict[str, float] = field(default_factory=dict)  # the holdout's MAE at r's band

    def __setstate__(self, state: dict) -> None:
        """Figures pickled before the error so far or the spend level have none yet."""
        state.setdefault("so_far", {})
        state.setdefault("so_far_low", {})
        state.setdefault("spend_level", math.nan)
        state.setdefault("at_level", {})
        self.__dict__.update(state)


@dataclass(frozen=True)
class HoldoutLevel:
    """The holdout's labels and predictions per population: its error re-priced at another
    spend level. Per population, its own MAE (level 1) and the level of its least MAE are
    fixed by the holdout: found once."""

    labels: dict[str, np.ndarray]
    predictions: dict[str, np.ndarray]
    own: dict[str, float] = field(init=False)
    best: dict[str, float] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "own", {p: self.mae(p, 1.0) for p in self.labels})
        object.__setattr__(self, "best", {p: self._least_level(p) for p in self.labels})

    def mae(self, population: str, level: float) -> float:
        return float(np.abs(level * self.labels[population] - self.predictions[population]).mean())

    def _least_level(self, population: str) -> float:
        """The MAE is convex in the level, its minimum at the median of predictions / labels
        weighted by the labels."""
        y, predicted = self.labels[population], self.predictions[population]
        buying = y > 0
        ratios, weights = predicted[buying] / y[buying], y[buying]
        if not ratios.size:
            return 1.0
        order = np.argsort(ratios)
        middle = np.searchsorted(np.cumsum(weights[order]), weights.sum() / 2)
        return float(ratios[order][min(middle, ratios.size - 1)])

    def least_mae(self, population: str, low: float, high: float) -> float:
        """The least MAE over levels in [low, high]."""
        return self.mae(population, min(max(self.best[population], low), high))


def median_band(values: np.ndarray) -> tuple[float, float, float]:
    """The median and a 95 % band for it: the order statistics of ranks n/2 -+ 1.96 sqrt(n)/2
    (1-based: floor below, ceil above + 1; distribution-free)."""
    ordered = np.sort(values)
    n = ordered.size
    half = BAND_Z * math.sqrt(n) / 2
    low, high = max(math.floor(n / 2 - half) - 1, 0), min(math.ceil(n / 2 + half + 1) - 1, n - 1)
    return float(ordered[low]), float(np.median(ordered)), float(ordered[high])


def holdout_level(model: LoadedModel, step_days: float) -> HoldoutLevel | None:
    """None for a model saved without its holdout predictions."""
    predicted = model.holdout_predictions
    if predicted is None or predicted.size != model.holdout_errors.size:
        return None
    labels = np.clip(predicted - model.holdout_errors, 0, None).astype(np.float64)
    masks = {"all": np.ones(labels.size, dtype=bool), "active": model.holdout_active(step_days)}
    return HoldoutLevel({p: labels[m] for p, m in masks.items()},
                        {p: predicted[m].astype(np.float64) for p, m in masks.items()})


def at_level(figures: CutoffError, level: HoldoutLevel, baskets: np.ndarray) -> None:
    """The holdout's error at the spend level the returning buyers' basket ratios show: the
    least over their median's band at or above 1, per population. A lower level is not judged:
    the predictions, which follow each customer's spend, come down with it, and the labels
    re-priced alone overstate the error (country-mix at H = 90, bench/RESULTS.md: baskets at
    0.3 of before, the holdout re-priced +26 %, the realised error of those cutoffs down)."""
    if baskets.size < MIN_CUSTOMERS:
        return
    low, figures.spend_level, high = median_band(baskets)
    for population in POPULATIONS:
        if level.labels[population].size >= MIN_CUSTOMERS:
            figures.at_level[population] = level.least_mae(population, max(low, 1.0), max(high, 1.0))


def level_verdict(figures: CutoffError, level: HoldoutLevel, margin: float) -> Verdict:
    """The holdout's least error at the spend level seen against its own (r = 1)."""
    reference = {p: level.own[p] if p in figures.at_level else math.nan for p in POPULATIONS}
    excess = _excess({p: figures.at_level.get(p, math.nan) for p in POPULATIONS}, figures, reference)
    return Verdict("error", "spend_level", excess, margin, bool(excess > margin))


def holdout_maes(model: LoadedModel, step_days: float) -> dict[str, float]:
    """The holdout's realised MAE per population (NaN when a population is too small)."""
    errors = np.abs(model.holdout_errors)
    active = model.holdout_active(step_days)
    out = {}
    for population, mask in (("all", np.ones(errors.size, dtype=bool)), ("active", active)):
        out[population] = float(errors[mask].mean()) if mask.sum() >= MIN_CUSTOMERS else math.nan
    return out


def holdout_so_far(model: LoadedModel, step_days: float) -> dict[str, np.ndarray] | None:
    """Per population, the holdout's error so far after d = 1..H days, at the high end of its
    95 % interval (None when the model was saved without the holdout's days). In the first
    days a handful of customers carry it, in the holdout as in a cutoff: the cutoff's low
    end is compared with the holdout's high end."""
    spent, predicted = model.holdout_spent_by_day, model.holdout_predictions
    if spent is None or predicted is None or spent.shape[0] != predicted.size:
        return None
    shown = shown_so_far(predicted[:, None], spent.astype(np.float64))
    out = {}
    for population, mask in (("all", np.ones(shown.shape[0], dtype=bool)),
                             ("active", model.holdout_active(step_days))):
        chosen = shown[mask]
        out[population] = (chosen.mean(axis=0) + BAND_Z * chosen.std(axis=0, ddof=1) / math.sqrt(mask.sum())
                           if mask.sum() >= MIN_CUSTOMERS else np.full(shown.shape[1], math.nan))
    return out


def estimate(model: LoadedModel, cutoff: float, losses: np.ndarray, active: np.ndarray) -> CutoffError:
    figures = CutoffError(cutoff, {"all": int(losses.size), "active": int(active.sum())})
    for population, mask in (("all", slice(None)), ("active", active)):
        figures.estimated[population] = model.loss_model.estimate(losses[mask])
    return figures


def _mean_and_low(errors: np.ndarray) -> tuple[float, float]:
    """The mean absolute error and the low end of its 95 % interval (NaN when too few)."""
    mae = float(errors.mean()) if errors.size else math.nan
    half = BAND_Z * float(errors.std(ddof=1)) / math.sqrt(errors.size) if errors.size > 1 else math.nan
    return mae, max(mae - half, 0.0) if not math.isnan(half) else math.nan


def realise(figures: CutoffError, errors: np.ndarray, active: np.ndarray) -> None:
    for population, mask in (("all", slice(None)), ("active", active)):
        figures.realised[population], figures.realised_low[population] = _mean_and_low(np.abs(errors[mask]))


def shown_so_far(predictions: np.ndarray, spent: np.ndarray) -> np.ndarray:
    """The part of each prediction's error that spend since the cutoff already shows."""
    return np.maximum(spent - predictions, 0.0)


def so_far(figures: CutoffError, shown: np.ndarray, active: np.ndarray) -> None:
    for population, mask in (("all", slice(None)), ("active", active)):
        figures.so_far[population], figures.so_far_low[population] = _mean_and_low(shown[mask])


def _excess(values: dict[str, float], figures: CutoffError, reference: dict[str, float]) -> float:
    """The largest relative excess over the holdout among populations large enough."""
    excess = [values[p] / reference[p] - 1 for p in POPULATIONS
              if figures.customers[p] >= MIN_CUSTOMERS and reference[p] > 0 and not math.isnan(values[p])]
    return max(excess) if excess else math.nan


def estimated_verdict(figures: CutoffError, reference: dict[str, float], margin: float) -> Verdict:
    low = _excess({p: figures.estimated[p][1] for p in POPULATIONS}, figures, reference)
    return Verdict("error", "estimated", low, margin, bool(low > margin))


def realised_verdict(figures: CutoffError, reference: dict[str, float], margin: float) -> Verdict:
    excess = _excess(figures.realised_low, figures, reference)
    return Verdict("error", "realised", excess, margin, bool(excess > margin))


def so_far_verdict(figures: CutoffError, reference: dict[str, float], margin: float) -> Verdict:
    excess = _excess(figures.so_far_low, figures, reference)
    return Verdict("error", "so_far", excess, margin, bool(excess > margin))
