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

    def __setstate__(self, state: dict) -> None:
        """Figures pickled before the error so far was measured have none yet."""
        state.setdefault("so_far", {})
        state.setdefault("so_far_low", {})
        self.__dict__.update(state)


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
