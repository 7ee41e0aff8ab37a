"""The features the trainer and the detector must compute alike: their shared contract.

- Event time: InvoiceDate as seconds since the epoch (a naive time is read as UTC).
- Row features, what the data-drift checks watch: quantity, unit price, line total
  (numeric); country, cancellation, missing customer (categorical); plus missing
  description for data quality and the stock code, which alarms are attributed to, and
  the customer (NaN when missing: the customer–country check keeps each one's country). From
  decoded rows (the detector) or a frame (the trainer's reference profile, offline runs).
- CLV customer features at a cutoff, what the model predicts from: the trainer aggregates
  with pandas, the detector keeps the same aggregates per customer as events stream in;
  both turn them into features with ``clv_features``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # pandas (0.6 s to import) only where a frame is built: the Faust process
    import pandas as pd  # reads the feature names here and never builds one

from schemas.transaction import CANCELLATION_PREFIX, Transaction, is_cancellation

DAY = 86_400.0  # seconds
# A customer's history, as both trainer and detector define it: it restarts after more
# than CUSTOMER_IDLE_DAYS without a purchase (and an idle customer is not predicted), and
# an invoice number seen again more than INVOICE_GRACE after its last line counts anew.
CUSTOMER_IDLE_DAYS = 400
INVOICE_GRACE = DAY

NUMERIC = ("quantity", "unit_price", "line_total")
CATEGORICAL = ("country", "cancellation", "customer_missing")
FEATURES = NUMERIC + CATEGORICAL

CLV_FEATURES = ("recency_days", "frequency", "monetary", "tenure_days", "basket_size",
                "returns_share", "lines", "spend_last_horizon")

Columns = dict[str, np.ndarray]
_EPOCH = datetime(1970, 1, 1)


def epoch_seconds(when: datetime) -> float:
    """Seconds since the epoch; a naive time is UTC."""
    return (when - _EPOCH).total_seconds() if when.tzinfo is None else when.timestamp()


def epoch_seconds_of(times: pd.Series) -> np.ndarray:
    """The same for a column of (naive) pandas datetimes, to the second."""
    return times.to_numpy("datetime64[s]").astype(np.int64).astype(np.float64)


def cancellations(invoices: pd.Series) -> np.ndarray:
    """``is_cancellation`` for a column of invoice numbers."""
    return invoices.astype(str).str.startswith(CANCELLATION_PREFIX).to_numpy(np.bool_)


def columns(rows: Sequence[Transaction]) -> Columns:
    """Row-feature columns of decoded transactions, and ``event_time``."""
    quantity, price, country, stock, invoice, customer, description, when = zip(*[
        (r.Quantity, r.UnitPrice, r.Country, r.StockCode, r.InvoiceNo, r.CustomerID, r.Description,
         r.InvoiceDate) for r in rows], strict=True)
    q = np.array(quantity, dtype=np.float64)
    p = np.array(price, dtype=np.float64)
    return {
        "quantity": q,
        "unit_price": p,
        "line_total": q * p,
        "country": np.array(country, dtype=object),
        "stock_code": np.array(stock, dtype=object),
        "cancellation": np.array([is_cancellation(i) for i in invoice], dtype=np.bool_),
        "customer_missing": np.array([c is None for c in customer], dtype=np.bool_),
        "customer_id": np.array([math.nan if c is None else c for c in customer], dtype=np.float64),
        "description_missing": np.array([d is None for d in description], dtype=np.bool_),
        "event_time": np.array([epoch_seconds(w) for w in when], dtype=np.float64),
    }


def from_frame(frame: pd.DataFrame) -> Columns:
    """The same columns from a pandas frame in the UCI columns."""
    quantity = frame["Quantity"].to_numpy(np.float64)
    price = frame["UnitPrice"].to_numpy(np.float64)
    return {
        "quantity": quantity, "unit_price": price, "line_total": quantity * price,
        "country": frame["Country"].astype(str).to_numpy(dtype=object),
        "stock_code": frame["StockCode"].astype(str).to_numpy(dtype=object),
        "cancellation": cancellations(frame["InvoiceNo"]),
        "customer_missing": frame["CustomerID"].isna().to_numpy(np.bool_),
        "customer_id": frame["CustomerID"].to_numpy(np.float64, na_value=np.nan),
        "description_missing": frame["Description"].isna().to_numpy(np.bool_),
        "event_time": epoch_seconds_of(frame["InvoiceDate"]),
    }


def customer_events(frame: pd.DataFrame) -> tuple[list, list, list, list]:
    """Per row of a frame, what the detector's model tracker is fed: customer (None when
    missing), invoice, line total, event time."""
    customers = [None if c != c else int(c) for c in frame["CustomerID"].tolist()]
    totals = (frame["Quantity"].to_numpy(np.float64) * frame["UnitPrice"].to_numpy(np.float64)).tolist()
    return (customers, frame["InvoiceNo"].astype(str).tolist(), totals,
            epoch_seconds_of(frame["InvoiceDate"]).tolist())


def clv_features(cutoff: float, first, last, invoices, monetary, lines, cancelled, recent_spend
                 ) -> pd.DataFrame:
    """CLV features at ``cutoff`` from per-customer aggregates (times in epoch seconds):
    first and last purchase, distinct invoices, net spend, lines, cancelled lines, and net
    spend in the horizon before the cutoff. Sequences, or Series sharing one index."""
    import pandas as pd

    out = pd.DataFrame({
        "recency_days": (cutoff - np.asarray(last, np.float64)) / DAY,
        "frequency": np.asarray(invoices, np.float64),
        "monetary": np.asarray(monetary, np.float64),
        "tenure_days": (cutoff - np.asarray(first, np.float64)) / DAY,
        "returns_share": np.asarray(cancelled, np.float64) / np.asarray(lines, np.float64),
        "lines": np.asarray(lines, np.float64),
        "spend_last_horizon": np.asarray(recent_spend, np.float64),
    }, index=lines.index if isinstance(lines, pd.Series) else None)
    out["basket_size"] = out["monetary"] / out["frequency"]
    return out[list(CLV_FEATURES)]
