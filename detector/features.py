"""Feature columns of a batch of transactions: what every check reads."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import numpy as np

from schemas.transaction import Transaction

NUMERIC = ("quantity", "unit_price", "line_total")
CATEGORICAL = ("country", "cancellation", "customer_missing")
FEATURES = NUMERIC + CATEGORICAL

Columns = dict[str, np.ndarray]


def columns(rows: Sequence[Transaction]) -> Columns:
    """Column arrays for rows; ``event_time`` is seconds since the epoch (naive = UTC)."""
    quantity, price, country, invoice, customer, description, when = zip(*[
        (r.Quantity, r.UnitPrice, r.Country, r.InvoiceNo, r.CustomerID, r.Description,
         r.InvoiceDate) for r in rows], strict=True)
    q = np.array(quantity, dtype=np.float64)
    p = np.array(price, dtype=np.float64)
    return {
        "quantity": q,
        "unit_price": p,
        "line_total": q * p,
        "country": np.array(country, dtype=object),
        "cancellation": np.array([i[0] == "C" for i in invoice], dtype=np.bool_),
        "customer_missing": np.array([c is None for c in customer], dtype=np.bool_),
        "description_missing": np.array([d is None for d in description], dtype=np.bool_),
        "event_time": np.array([_epoch(w) for w in when], dtype=np.float64),
    }


def _epoch(when: datetime) -> float:
    return (when - _EPOCH).total_seconds() if when.tzinfo is None else when.timestamp()


def from_frame(frame) -> Columns:
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


def customer_events(frame) -> tuple[list, list, list, list]:
    """What ModelMonitor.update takes, per row of a pandas frame (offline runs): customer
    (None when missing), invoice, line total, event time (epoch seconds)."""
    customers = [None if c != c else int(c) for c in frame["CustomerID"].tolist()]
    totals = (frame["Quantity"].to_numpy(np.float64) * frame["UnitPrice"].to_numpy(np.float64)).tolist()
    times = frame["InvoiceDate"].to_numpy("datetime64[s]").astype(np.int64).astype(np.float64).tolist()
    return customers, frame["InvoiceNo"].astype(str).tolist(), totals, times


def take(cols: Columns, start: int, stop: int) -> Columns:
    return {name: values[start:stop] for name, values in cols.items()}


def concat(parts: Sequence[Columns]) -> Columns:
    return {name: np.concatenate([p[name] for p in parts]) for name in parts[0]}


def length(cols: Columns) -> int:
    return len(cols["quantity"])


_EPOCH = datetime(1970, 1, 1)
