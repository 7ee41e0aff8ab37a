"""The reference the current window is compared with: warm-up events or a saved profile."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from schemas.features import CATEGORICAL, NUMERIC, Columns


@dataclass(frozen=True)
class Reference:
    numeric: dict[str, np.ndarray]  # sorted values per numeric feature
    categorical: dict[str, Counter]
    size: int
    source: str  # "warm-up" or a model version

    @classmethod
    def from_columns(cls, cols: Columns, source: str = "warm-up") -> Reference:
        numeric = {f: np.sort(cols[f]) for f in NUMERIC}
        categorical = {f: Counter(cols[f].tolist()) for f in CATEGORICAL}
        return cls(numeric, categorical, len(cols["quantity"]), source)
