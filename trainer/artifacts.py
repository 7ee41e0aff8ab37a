"""The versioned model directory: joblib artifacts, metadata, reference profile, `latest`."""

from __future__ import annotations

import os
import platform
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import joblib
import numpy as np
import orjson
import pandas as pd
import sklearn

from detector import features as detector_features
from trainer.features import FEATURES
from trainer.train import TrainedModel

PROFILE_SAMPLE = 20_000


def reference_profile(frame: pd.DataFrame, seed: int = 0) -> dict[str, np.ndarray]:
    """What the detector compares windows with: a seeded sample of the training rows."""
    rng = np.random.default_rng(seed)
    pick = rng.choice(len(frame), size=min(PROFILE_SAMPLE, len(frame)), replace=False)
    cols = detector_features.from_frame(frame.iloc[np.sort(pick)])
    return {name: cols[name] for name in (*detector_features.FEATURES, "event_time")}


def save(models_dir: Path, trained: TrainedModel, frame: pd.DataFrame, horizon_days: int,
         source: str) -> tuple[str, Path]:
    """Write a new version directory, then move `latest` to it atomically."""
    version = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    target = models_dir / version
    target.mkdir(parents=True)
    joblib.dump(trained.model, target / "clv_model.pkl")
    joblib.dump(trained.scaler, target / "scaler.pkl")
    profile = reference_profile(frame)
    np.savez_compressed(target / "reference_profile.npz", **{k: v.astype(str) if v.dtype == object else v
                                                           for k, v in profile.items()},
                        train_predictions=trained.train_predictions,
                        holdout_predictions=trained.holdout_predictions,
                        holdout_errors=trained.holdout_errors)
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
        "features": list(FEATURES),
        "holdout": trained.holdout,
        "reference_profile": "reference_profile.npz",
        "libraries": {"python": platform.python_version(), "scikit-learn": sklearn.__version__,
                      "numpy": np.__version__, "pandas": pd.__version__, "joblib": joblib.__version__},
    }
    (target / "metadata.json").write_bytes(orjson.dumps(metadata, option=orjson.OPT_INDENT_2))
    fd, tmp = tempfile.mkstemp(dir=models_dir, prefix=".latest-")
    with os.fdopen(fd, "w") as handle:
        handle.write(version + "\n")
    os.replace(tmp, models_dir / "latest")
    return version, target


def latest(models_dir: Path) -> Path | None:
    pointer = models_dir / "latest"
    if not pointer.exists():
        return None
    return models_dir / pointer.read_text().strip()
