"""A trained model as a version directory (schemas/artifacts.py): joblib artifacts,
metadata, and the reference profile the detector compares windows with."""

from __future__ import annotations

import io
import platform
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import orjson
import pandas as pd
import sklearn

from schemas import artifacts
from schemas.features import CLV_FEATURES, FEATURES, from_frame
from trainer.train import TrainedModel

PROFILE_SAMPLE = 20_000


def reference_profile(frame: pd.DataFrame, seed: int = 0) -> dict[str, np.ndarray]:
    """What the detector compares windows with: a seeded sample of the training rows."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(frame), size=min(PROFILE_SAMPLE, len(frame)), replace=False)
    cols = from_frame(frame.iloc[np.sort(pick)])
    return {name: cols[name] for name in (*FEATURES, "stock_code", "event_time")}


def _joblib_bytes(obj: object) -> bytes:
    buffer = io.BytesIO()
    joblib.dump(obj, buffer)
    return buffer.getvalue()


def save(models_dir: Path, trained: TrainedModel, frame: pd.DataFrame, horizon_days: int,
         source: str, promote: bool = True) -> tuple[str, Path]:
    """Write a new version directory, then (``promote``) move `latest` to it."""
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = models_dir / version
    target.mkdir(parents=True)
    artifacts.atomic_write(target / artifacts.MODEL, _joblib_bytes(trained.model))
    artifacts.atomic_write(target / artifacts.SCALER, _joblib_bytes(trained.scaler))
    artifacts.atomic_write(target / artifacts.LOSS_MODEL, _joblib_bytes(trained.loss_model))
    profile = io.BytesIO()
    np.savez_compressed(profile, **{k: v.astype(str) if v.dtype == object else v
                                    for k, v in reference_profile(frame).items()},
                        train_predictions=trained.train_predictions,
                        holdout_predictions=trained.holdout_predictions,
                        holdout_errors=trained.holdout_errors,
                        holdout_recency_days=trained.holdout_recency_days,
                        **({} if trained.holdout_spent_by_day is None
                           else {"holdout_spent_by_day": trained.holdout_spent_by_day}))
    artifacts.atomic_write(target / artifacts.PROFILE, profile.getvalue())
    metadata = {
        "version": version,
        "model": "clv",
        "estimator": trained.name,
        "source": source,
        "data_window": {"start": f"{frame['InvoiceDate'].min():%Y-%m-%dT%H:%M:%S}",
                        "end": f"{frame['InvoiceDate'].max():%Y-%m-%dT%H:%M:%S}", "rows": len(frame)},
        "horizon_days": horizon_days,
        "train_cutoffs": trained.train_cutoffs,
        "test_cutoff": trained.test_cutoff,
        "features": list(CLV_FEATURES),
        "holdout": trained.holdout,
        "reference_profile": artifacts.PROFILE,
        "loss_model": artifacts.LOSS_MODEL,
        "libraries": {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                      "numpy": np.__version__, "pandas": pd.__version__, "joblib": joblib.__version__},
    }
    artifacts.atomic_write(target / artifacts.METADATA, orjson.dumps(metadata, option=orjson.OPT_INDENT_2))
    if promote:
        artifacts.write_latest(models_dir, version)
    return version, target


def record_outcome(path: Path, outcome: dict) -> dict:
    """Put a retrain outcome into the version's metadata (``retrain``); the new metadata."""
    metadata = orjson.loads((path / artifacts.METADATA).read_bytes())
    metadata["retrain"] = outcome
    artifacts.atomic_write(path / artifacts.METADATA, orjson.dumps(metadata, option=orjson.OPT_INDENT_2))
    return metadata


def retrain_outcome(models_dir: Path, request_id: str) -> tuple[Path, dict] | None:
    """The version whose metadata records the outcome of retrain request ``request_id``."""
    for metadata_file in sorted(models_dir.glob(f"*/{artifacts.METADATA}"), reverse=True):
        recorded = orjson.loads(metadata_file.read_bytes()).get("retrain")
        if recorded and recorded.get("request_id") == request_id:
            return metadata_file.parent, recorded
    return None
