"""Feature columns of a batch of transactions: what every check reads."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from schemas.transaction import Transaction

NUMERIC = ("quantity", "unit_price", "line_total")
CATEGORICAL = ("country", "cancellation", "customer_missing")
FEATURES = NUMERIC + CATEGORICAL

Columns = dict[str, np.ndarray]


def columns(rows: Sequence[Transaction]) -> Columns:
    """Column arrays for rows; ``event_time`` is seconds since the epoch (naive = UTC)."""
    quantity = np.fromiter((r.Quantity for r in rows), np.float64, len(rows))
    price = np.fromiter((r.UnitPrice for r in rows), np.float64, len(rows))
    return {
        "quantity": quantity,
        "unit_price": price,
        "line_total": quantity * price,
        "country": np.array([r.Country for r in rows], dtype=object),
        "cancellation": np.fromiter((r.InvoiceNo[0] == "C" for r in rows), np.bool_, len(rows)),
        "customer_missing": np.fromiter((r.CustomerID is None for r in rows), np.bool_, len(rows)),
        "description_missing": np.fromiter((r.Description is None for r in rows), np.bool_, len(rows)),
        "event_time": np.fromiter((_epoch(r) for r in rows), np.float64, len(rows)),
    }


def _epoch(row: Transaction) -> float:
    when = row.InvoiceDate
    return (when - _EPOCH).total_seconds() if when.tzinfo is None else when.timestamp()


def from_frame(frame) -> Columns:  # noqa: ANN001 (pandas frame in UCI columns)
    """The same columns from a pandas frame (reference profiles, offline evaluation)."""
    quantity = frame["Quantity"].to_numpy(np.float64)
    price = frame["UnitPrice"].to_numpy(np.float64)
    times = frame["InvoiceDate"].to_numpy("datetime64[s]").astype(np.int64).astype(np.float64)
    return {
        "quantity": quantity, "unit_price": price, "line_total": quantity * price,
        "country": frame["Country"].astype(str).to_numpy(dtype=object),
        "cancellation": frame["InvoiceNo"].astype(str).str.startswith("C").to_numpy(np.bool_),
        "customer_missing": frame["CustomerID"].isna().to_numpy(np.bool_),
        "description_missing": frame["Description"].isna().to_numpy(np.bool_),
        "event_time": times,
    }


def take(cols: Columns, start: int, stop: int) -> Columns:
    return {name: values[start:stop] for name, values in cols.items()}


def concat(parts: Sequence[Columns]) -> Columns:
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def length(cols: Columns) -> int:
    return len(cols["quantity"])


import datetime as _dt  # noqa: E402

_EPOCH = _dt.datetime(1970, 1, 1)
