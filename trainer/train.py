"""Time-based holdout, estimator choice, and the metrics the detector compares against."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import Ridge
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

from schemas.loss_model import LossModel
from trainer.features import TrainingDataError, customer_features, line_totals, spend_by_day, target
from trainer.loss import fit_loss_model


@dataclass
class TrainedModel:
    scaler: StandardScaler
    model: object
    name: str
    holdout: dict[str, float]
    train_cutoffs: list[str]
    test_cutoff: str
    train_predictions: np.ndarray
    holdout_predictions: np.ndarray
    holdout_errors: np.ndarray
    loss_model: LossModel
    holdout_recency_days: np.ndarray  # who was active when: like-for-like populations
    holdout_spent_by_day: np.ndarray | None = None  # (customers, H): net spend in the first d days


CANDIDATES: dict[str, Callable[[], object]] = {
    "ridge": lambda: Ridge(alpha=1.0),
    "hist_gradient_boosting": lambda: HistGradientBoostingRegressor(
        loss="absolute_error", max_iter=300, learning_rate=0.05, random_state=0),
    # Spend is zero-inflated and heavy-tailed: on short horizons the median model above
    # predicts 0 for everyone; a log1p target keeps the ranking of customers.
    "hist_gradient_boosting_log1p": lambda: TransformedTargetRegressor(
        HistGradientBoostingRegressor(max_iter=300, learning_rate=0.05, random_state=0),
        func=np.log1p, inverse_func=np.expm1),
}


def cutoffs(start: pd.Timestamp, end: pd.Timestamp, horizon_days: int, n_train: int = 4,
            step_days: int = 30) -> tuple[list[pd.Timestamp], pd.Timestamp]:
    """Test cutoff = end − H; training cutoffs end their label window before it."""
    horizon = pd.Timedelta(days=horizon_days)
    test_cutoff = (end - horizon).normalize()
    last_train = test_cutoff - horizon
    train = [last_train - pd.Timedelta(days=step_days * k) for k in range(n_train)]
    train = [c for c in train if c - start >= pd.Timedelta(days=60)]
    if not train:
        span = (end - start).days
        raise TrainingDataError(f"{span} days of history is too little for a {horizon_days}-day "
                                f"horizon: need more than {2 * horizon_days + 60} days")
    return sorted(train), test_cutoff


def fit(frame: pd.DataFrame, horizon_days: int, progress: Callable[[str], None] = lambda _: None,
        openmp_threads: int | None = 1) -> TrainedModel:
    # One OpenMP thread by default: beside one other busy process on a 2-core machine (a worker,
    # a test) the boosting's default pool of one spinning thread per core made a fit 26 times
    # slower (298 s against 11.6), while alone it gained 15 % (8.6 s against 10.1):
    # bench/fit_threads.py. None: the library's default pool.
    with threadpool_limits(openmp_threads):
        return _fit(frame, horizon_days, progress)


def _fit(frame: pd.DataFrame, horizon_days: int, progress: Callable[[str], None]) -> TrainedModel:
    rows = line_totals(frame)
    if rows.empty:
        raise TrainingDataError("no row has a CustomerID: nothing to learn per customer")
    train_cuts, test_cut = cutoffs(rows["InvoiceDate"].min(), rows["InvoiceDate"].max(), horizon_days)
    progress(f"features at {len(train_cuts)} training cutoffs and the holdout cutoff {test_cut:%Y-%m-%d}")
    parts = []
    for cut in train_cuts:
        x = customer_features(rows, cut, horizon_days)
        parts.append((x, target(rows, x.index, cut, horizon_days)))
    x_train = pd.concat([p[0] for p in parts])
    y_train = pd.concat([p[1] for p in parts])
    x_test = customer_features(rows, test_cut, horizon_days)
    y_test = target(rows, x_test.index, test_cut, horizon_days)
    scaler = StandardScaler().fit(x_train)
    scores = {}
    for name, make in CANDIDATES.items():
        progress(f"fitting {name} on {len(x_train):,} customer-cutoffs")
        model = make().fit(scaler.transform(x_train), y_train)
        prediction = np.clip(model.predict(scaler.transform(x_test)), 0, None)
        scores[name] = (mean_absolute_error(y_test, prediction), model, prediction)
    # A constant prediction can win on MAE (most customers spend nothing) but ranks nobody
    # and gives the detector no prediction distribution to watch: choose among the others.
    informative = [n for n in scores if np.ptp(scores[n][2]) > 0] or list(scores)
    name = min(informative, key=lambda n: scores[n][0])
    mae, model, prediction = scores[name]
    baseline = x_test["spend_last_horizon"].clip(lower=0).to_numpy()
    progress("cross-fitting the loss model on weekly cutoffs of the training span")
    loss_model = fit_loss_model(CANDIDATES[name], scaler, rows, train_cuts, parts, test_cut, horizon_days)
    estimated, low, high = loss_model.estimate(loss_model.predict(scaler.transform(x_test), prediction))
    holdout = {
        "mae": float(mae),
        "rmse": float(np.sqrt(mean_squared_error(y_test, prediction))),
        "r2": float(r2_score(y_test, prediction)),
        "baseline_mae": float(mean_absolute_error(y_test, baseline)),
        "customers": int(len(y_test)),
        **{f"mae_{n}": float(s[0]) for n, s in scores.items()},
        # the loss model's estimate of the holdout MAE, made without its labels
        "estimated_mae": estimated, "estimated_mae_low": low, "estimated_mae_high": high,
    }
    train_predictions = np.clip(model.predict(scaler.transform(x_train)), 0, None)
    return TrainedModel(scaler, model, name, holdout, [f"{c:%Y-%m-%d}" for c in train_cuts],
                        f"{test_cut:%Y-%m-%d}", train_predictions, prediction,
                        prediction - y_test.to_numpy(), loss_model, x_test["recency_days"].to_numpy(),
                        spend_by_day(rows, x_test.index, test_cut, horizon_days))
