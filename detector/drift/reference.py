"""The reference the current window is compared with: warm-up events or a saved profile."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from schemas.features import CATEGORICAL, NUMERIC, Columns

SEGMENTS = ("country", "stock_code")  # what an alarm is attributed to (detector/drift/attribution.py)


@dataclass(frozen=True)
class Reference:
    numeric: dict[str, np.ndarray]  # sorted values per numeric feature
    categorical: dict[str, Counter]
    size: int
    source: str  # "warm-up" or a model version
    # Per numeric feature, each sorted value's segment (its row's country, stock code), when
    # known: older model profiles have no stock codes.
    segments: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def from_columns(cls, cols: Columns, source: str = "warm-up") -> Reference:
        orders = {f: np.argsort(cols[f], kind="stable") for f in NUMERIC}
        numeric = {f: cols[f][order] for f, order in orders.items()}
        categorical = {f: Counter(cols[f].tolist()) for f in CATEGORICAL}
        segments = {f: {d: cols[d][order] for d in SEGMENTS if d in cols} for f, order in orders.items()}
        return cls(numeric, categorical, len(cols["quantity"]), source, segments)
