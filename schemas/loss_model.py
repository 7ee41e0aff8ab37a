"""The loss model's contract, shared by the trainer that fits it and the detector that uses it.

A loss model maps a customer's scaled CLV features and the CLV model's prediction to that
prediction's expected absolute error (direct loss estimation). Averaged over a cutoff's
customers it is the cutoff's estimated MAE, before any label is due; the band is a 95 %
interval for the realised MAE of the same customers, from how far single absolute errors
strayed from their estimates where the trainer could see them: Var(|e| | x) ≈ dispersion ×
E(|e| | x)², the customers independent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BAND_Z = 1.96


def loss_inputs(scaled: np.ndarray, predictions: np.ndarray) -> np.ndarray:
    """What the loss model reads: the scaled CLV features and log1p of the prediction."""
    return np.column_stack([scaled, np.log1p(np.clip(predictions, 0, None))])


@dataclass
class LossModel:
    estimator: object  # a fitted scikit-learn regressor on loss_inputs()
    dispersion: float

    def predict(self, scaled: np.ndarray, predictions: np.ndarray) -> np.ndarray:
        """Each prediction's expected absolute error."""
        return np.clip(self.estimator.predict(loss_inputs(scaled, predictions)), 0, None)

    def estimate(self, losses: np.ndarray) -> tuple[float, float, float]:
        """Estimated MAE of customers whose expected absolute errors are ``losses``, with the
        band's low and high ends (NaN for no customer)."""
        if losses.size == 0:
            return (float("nan"),) * 3
        mae = float(losses.mean())
        half = BAND_Z * float(np.sqrt(self.dispersion * (losses ** 2).sum())) / losses.size
        return mae, max(mae - half, 0.0), mae + half
