"""Drift scenarios applied to a replay from an onset row."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

SCENARIOS = ("none", "scale", "outliers", "country-mix", "gradual")
UK = "United Kingdom"


@dataclass(frozen=True)
class Scenario:
    name: str = "none"
    onset: int = 0
    ramp: int = 10_000  # rows over which `gradual` reaches full `scale`
    uk_share: float = 0.70  # UK share after onset in `country-mix`
    outlier_share: float = 0.10

    def __post_init__(self) -> None:
        if self.name not in SCENARIOS:
            raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, not {self.name!r}")
        if self.onset < 0:
            raise ValueError(f"onset must be >= 0, not {self.onset}")
        if self.ramp < 1:
            raise ValueError(f"ramp must be >= 1 row, not {self.ramp}")
        if not 0 < self.uk_share < 1:
            raise ValueError(f"uk_share must be in (0, 1), not {self.uk_share}")


def resolve_onset(onset: str, rows: int) -> int:
    """An onset given as a row index ("270000") or a fraction of the rows ("0.5")."""
    try:
        value = float(onset)
    except ValueError:
        raise ValueError(f"onset must be a row index or a fraction in [0, 1), not {onset!r}") from None
    if "." in onset or "e" in onset.lower():
        if not 0 <= value < 1:
            raise ValueError(f"onset fraction must be in [0, 1), not {onset}")
        return int(value * rows)
    if value < 0 or value != int(value):
        raise ValueError(f"onset row must be a non-negative integer, not {onset}")
    return min(int(value), rows)


def apply(frame: pd.DataFrame, scenario: Scenario, seed: int) -> tuple[pd.DataFrame, int]:
    """Return the drifted rows and the onset as a position in the returned rows.

    Rows before the onset are untouched. ``country-mix`` drops rows, so the returned
    onset is where the first post-onset row now stands (the same row index here).
    """
    if scenario.name == "none" or scenario.onset >= len(frame):
        return frame, min(scenario.onset, len(frame))
    rng = np.random.default_rng(seed)
    out = frame.copy()
    after = np.arange(len(out)) >= scenario.onset
    n_after = int(after.sum())
    quantity = out["Quantity"].to_numpy(dtype=np.float64, copy=True)
    price = out["UnitPrice"].to_numpy(dtype=np.float64, copy=True)
    if scenario.name in ("scale", "gradual"):
        q_factor = rng.uniform(1.5, 3.0, n_after)
        p_factor = rng.uniform(1.3, 2.5, n_after)
        if scenario.name == "gradual":
            weight = np.minimum(np.arange(1, n_after + 1) / scenario.ramp, 1.0)
            q_factor = 1 + weight * (q_factor - 1)
            p_factor = 1 + weight * (p_factor - 1)
        quantity[after] = np.rint(quantity[after] * q_factor)
        price[after] = np.round(price[after] * p_factor, 2)
    elif scenario.name == "outliers":
        hit = rng.random(n_after) < scenario.outlier_share
        idx = np.flatnonzero(after)[hit]
        quantity[idx] = rng.choice(np.array([-9999.0, 99999.0]), idx.size)
        price[idx] = np.round(rng.uniform(0.01, 100_000, idx.size), 2)
    elif scenario.name == "country-mix":
        p_uk = float((out["Country"].to_numpy()[~after] == UK).mean()) if scenario.onset else 0.91
        keep_uk = scenario.uk_share * (1 - p_uk) / ((1 - scenario.uk_share) * p_uk)
        is_uk = out["Country"].to_numpy() == UK
        drop = after & is_uk & (rng.random(len(out)) >= keep_uk)
        return out.loc[~drop].reset_index(drop=True), scenario.onset
    out["Quantity"] = quantity.astype(np.int64)
    out["UnitPrice"] = price
    return out, scenario.onset
