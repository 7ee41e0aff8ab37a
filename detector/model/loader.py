"""Loading a trained CLV model version (schemas/artifacts.py) as the detector uses it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import orjson
import pandas as pd

from detector.drift.reference import Reference
from schemas import artifacts
from schemas.features import CATEGORICAL, NUMERIC
from schemas.loss_model import LossModel


class ModelLoadError(RuntimeError):
    """A model directory that is missing, incomplete or unreadable."""


@dataclass(frozen=True)
class LoadedModel:
    version: str
    model: object
    scaler: object
    feature_names: tuple[str, ...]
    horizon_days: int
    holdout: dict[str, float]
    reference: Reference  # the training rows' profile: the data-drift reference
    predictions: np.ndarray  # sorted: the prediction-drift reference
    holdout_errors: np.ndarray
    loss_model: LossModel | None = None  # versions before the loss model have none
    holdout_recency_days: np.ndarray | None = None  # the holdout customers' recency
    holdout_predictions: np.ndarray | None = None  # in the order of holdout_errors (older: None)
    trained_until: float | None = None  # event time (epoch s) of the last training row
    holdout_spent_by_day: np.ndarray | None = None  # (customers, H): spend in the first d days (older: None)

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        """Predicted spend over the next H days, floored at 0 as the trainer does."""
        return self.predict_with_losses(x)[0]

    def predict_with_losses(self, x: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions, and each one's expected absolute error (None without a loss model)."""
        scaled = self.scaler.transform(x[list(self.feature_names)])
        predictions = np.clip(self.model.predict(scaled), 0, None)
        losses = None if self.loss_model is None else self.loss_model.predict(scaled, predictions)
        return predictions, losses

    def holdout_active(self, days: float) -> np.ndarray:
        """Mask of the holdout customers who bought in the ``days`` before its cutoff (all,
        for a version without their recency)."""
        if self.holdout_recency_days is None:
            return np.ones(self.holdout_errors.size, dtype=bool)
        return self.holdout_recency_days < days


def load(path: Path) -> LoadedModel:
    try:
        metadata = orjson.loads((path / artifacts.METADATA).read_bytes())
        model = joblib.load(io.BytesIO((path / artifacts.MODEL).read_bytes()))
        scaler = joblib.load(io.BytesIO((path / artifacts.SCALER).read_bytes()))
        loss_file = path / metadata.get("loss_model", artifacts.LOSS_MODEL)
        loss_model = joblib.load(io.BytesIO(loss_file.read_bytes())) if loss_file.exists() else None
        if loss_model is not None and not isinstance(loss_model, LossModel):
            raise TypeError(f"{loss_file.name} holds a {type(loss_model).__name__}, not a LossModel")
        with np.load(path / metadata.get("reference_profile", artifacts.PROFILE)) as npz:
            profile = {name: npz[name] for name in npz.files}
        cols = {name: profile[name] for name in (*NUMERIC, "event_time")}
        for name in CATEGORICAL:
            cols[name] = profile[name].astype(object) if name == "country" else profile[name].astype(bool)
        if "stock_code" in profile:  # profiles before attribution lack it
            cols["stock_code"] = profile["stock_code"].astype(object)
        return LoadedModel(
            version=metadata["version"], model=model, scaler=scaler,
            feature_names=tuple(metadata["features"]), horizon_days=int(metadata["horizon_days"]),
            holdout=metadata["holdout"],
            reference=Reference.from_columns(cols, source=metadata["version"]),
            # The holdout cutoff's predictions: the population as of the latest training data
            # (earlier cutoffs see customers with less history); older profiles lack them.
            predictions=np.sort(profile.get("holdout_predictions", profile["train_predictions"])),
            holdout_errors=profile["holdout_errors"], loss_model=loss_model,
            holdout_recency_days=profile.get("holdout_recency_days"),
            holdout_predictions=profile.get("holdout_predictions"),
            trained_until=_epoch(metadata.get("data_window", {}).get("end")),
            holdout_spent_by_day=profile.get("holdout_spent_by_day"))
    except Exception as error:  # missing files, foreign pickles, damaged archives: all one error
        raise ModelLoadError(f"cannot load the model in {path}: {type(error).__name__}: {error}") from error


def _epoch(timestamp: str | None) -> float | None:
    return None if timestamp is None else pd.Timestamp(timestamp).value / 1e9


def load_latest(models_dir: Path) -> LoadedModel | None:
    """The version `latest` points at; None when no model was trained yet."""
    version = artifacts.read_latest(models_dir)
    return None if version is None else load(models_dir / version)


def resolve(models_dir: Path, version: str, announced_path: str | None) -> Path:
    """Where an announced version lives here: our models dir first (a shared volume mounts
    it elsewhere than the trainer sees it), else the path the trainer announced."""
    local = models_dir / version
    if local.exists() or not announced_path:
        return local
    return Path(announced_path)
