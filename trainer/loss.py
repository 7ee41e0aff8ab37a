"""Fitting the loss model (schemas/loss_model.py) beside the CLV model.

It learns from weekly cutoffs over the training span (from the first training cutoff to
the last whose label window ends before the holdout cutoff): more, and more varied,
cutoffs than the CLV model's monthly ones (measured on the year, H = 14: over the cutoffs
after training, the estimate's median error went from 32 % with the four monthly cutoffs to
10 % with the weekly ones). Cross-fitted, so the errors it learns are those of a model that
never saw their labels: each weekly cutoff belongs to the fold of its nearest training
cutoff; for each fold the chosen estimator is refitted on the other training cutoffs and
predicts the fold's weekly cutoffs. (With H above ~15 days a neighbouring training
cutoff's label window overlaps a weekly cutoff's: some of its future leaks into the
refitted model, so those errors come out a little small.) The holdout cutoff stays out of
both models: the trainer checks the estimate against its realised MAE there
(``holdout.estimated_mae`` in the metadata).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.preprocessing import StandardScaler

from schemas.loss_model import LossModel, loss_inputs
from trainer.features import customer_features, target

STEP_DAYS = 7


def weekly_cutoffs(train_cuts: list[pd.Timestamp], test_cut: pd.Timestamp, horizon_days: int
                   ) -> list[pd.Timestamp]:
    last = test_cut - pd.Timedelta(days=horizon_days)
    weeks = list(pd.date_range(train_cuts[0], last, freq=f"{STEP_DAYS}D"))
    return weeks or list(train_cuts)


def fit_loss_model(make: Callable[[], object], scaler: StandardScaler, rows: pd.DataFrame,
                   train_cuts: list[pd.Timestamp], train_parts: list[tuple[pd.DataFrame, pd.Series]],
                   test_cut: pd.Timestamp, horizon_days: int) -> LossModel:
    """``train_parts``: the CLV model's training cutoffs' (features, spend), in ``train_cuts`` order."""
    weeks = weekly_cutoffs(train_cuts, test_cut, horizon_days)
    fold = [min(range(len(train_cuts)), key=lambda j, c=c: abs(c - train_cuts[j])) for c in weeks]
    inputs, losses = [], []
    for k in sorted(set(fold)):
        others = [j for j in range(len(train_cuts)) if j != k] or [k]  # one training cutoff: in-sample
        model = make().fit(np.vstack([scaler.transform(train_parts[j][0]) for j in others]),
                           np.concatenate([train_parts[j][1].to_numpy() for j in others]))
        for cut in (c for c, f in zip(weeks, fold, strict=True) if f == k):
            x = customer_features(rows, cut, horizon_days)
            y = target(rows, x.index, cut, horizon_days).to_numpy()
            scaled = scaler.transform(x)
            predicted = np.clip(model.predict(scaled), 0, None)
            inputs.append(loss_inputs(scaled, predicted))
            losses.append(np.abs(predicted - y))
    x, y = np.vstack(inputs), np.concatenate(losses)
    estimator = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, min_samples_leaf=50,
                                              random_state=0).fit(x, y)
    fitted = np.clip(estimator.predict(x), 0, None)
    dispersion = float(((y - fitted) ** 2).sum() / max((fitted ** 2).sum(), 1e-12))
    return LossModel(estimator, dispersion)
