"""Champion against challenger: the serving model and a newly trained one on the same cutoff.

The cutoff is the challenger's holdout: the latest one whose labels (spend over the next H
days) are all on hand. The challenger never trained on it (its training labels end where
its holdout begins), and neither did a champion trained on an older window (its labels end
before the challenger's window does). Both models predict the same customers from the same
histories, read from the challenger's window; the challenger is promoted only if its MAE
beats the champion's by the margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import joblib
import numpy as np
import orjson
import pandas as pd

from schemas import artifacts
from trainer.features import customer_features, line_totals, target
from trainer.train import TrainedModel


@dataclass(frozen=True)
class Champion:
    version: str
    path: Path
    horizon_days: int


@dataclass(frozen=True)
class Verdict:
    promote: bool
    champion_mae: float | None  # None: no champion to beat
    challenger_mae: float
    customers: int
    detail: str


def serving(models_dir: Path) -> Champion | None:
    """The version `latest` names in ``models_dir`` (None: nothing serves yet)."""
    version = artifacts.read_latest(models_dir)
    if version is None:
        return None
    path = models_dir / version
    metadata = orjson.loads((path / artifacts.METADATA).read_bytes())
    return Champion(version, path, int(metadata["horizon_days"]))


def champion_mae(champion: Champion, frame: pd.DataFrame, trained: TrainedModel) -> tuple[float, int]:
    """The champion's MAE on the challenger's holdout cutoff, and how many customers it covers."""
    cut = pd.Timestamp(trained.test_cutoff)
    rows = line_totals(frame)
    x = customer_features(rows, cut, champion.horizon_days)
    y = target(rows, x.index, cut, champion.horizon_days).to_numpy()
    model = joblib.load(champion.path / artifacts.MODEL)
    scaler = joblib.load(champion.path / artifacts.SCALER)
    predicted = np.clip(model.predict(scaler.transform(x)), 0, None)
    return float(np.abs(predicted - y).mean()), len(y)


def judge(champion: Champion | None, frame: pd.DataFrame, trained: TrainedModel, margin: float,
          force: bool = False) -> Verdict:
    challenger = float(trained.holdout["mae"])
    customers = int(trained.holdout["customers"])
    if champion is None:
        return Verdict(True, None, challenger, customers, "no champion: the first model serves")
    mae, _ = champion_mae(champion, frame, trained)
    bar = mae * (1 - margin)
    if challenger < bar:
        detail = f"challenger MAE {challenger:.1f} beats the champion's {mae:.1f} by more than {margin:.0%}"
        return Verdict(True, mae, challenger, customers, detail)
    detail = (f"challenger MAE {challenger:.1f} does not beat the champion's {mae:.1f} by {margin:.0%} "
              f"(needed below {bar:.1f})")
    if force:
        return Verdict(True, mae, challenger, customers, f"forced by the request; {detail}")
    return Verdict(False, mae, challenger, customers, detail)
