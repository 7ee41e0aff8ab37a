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

    def predict(self, x: pd.DataFrame) -> np.ndarray:
        """Predicted spend over the next H days, floored at 0 as the trainer does."""
        scaled = self.scaler.transform(x[list(self.feature_names)])
        return np.clip(self.model.predict(scaled), 0, None)


def load(path: Path) -> LoadedModel:
    try:
        metadata = orjson.loads((path / artifacts.METADATA).read_bytes())
        model = joblib.load(io.BytesIO((path / artifacts.MODEL).read_bytes()))
        scaler = joblib.load(io.BytesIO((path / artifacts.SCALER).read_bytes()))
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
            holdout_errors=profile["holdout_errors"])
    except Exception as error:  # missing files, foreign pickles, damaged archives: all one error
        raise ModelLoadError(f"cannot load the model in {path}: {type(error).__name__}: {error}") from error


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
