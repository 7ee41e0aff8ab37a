"""Customer features at a cutoff, and the CLV target: spend over the next H days."""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURES = ("recency_days", "frequency", "monetary", "tenure_days", "basket_size",
            "returns_share", "lines", "spend_last_horizon")


class TrainingDataError(ValueError):
    """Too little history, or no customer, to train on."""


def line_totals(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame.loc[frame["CustomerID"].notna(), ["CustomerID", "InvoiceNo", "InvoiceDate",
                                                   "Quantity", "UnitPrice"]].copy()
    rows["CustomerID"] = rows["CustomerID"].astype(np.int64)
    rows["total"] = rows["Quantity"] * rows["UnitPrice"]
    rows["cancelled"] = rows["InvoiceNo"].astype(str).str.startswith("C")
    return rows


def customer_features(rows: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    """One row per customer seen before ``cutoff``; ``rows`` from line_totals()."""
    past = rows[rows["InvoiceDate"] < cutoff]
    if past.empty:
        raise TrainingDataError(f"no customer purchases before {cutoff:%Y-%m-%d}")
    grouped = past.groupby("CustomerID")
    recent = past[past["InvoiceDate"] >= cutoff - pd.Timedelta(days=horizon_days)]
    cutoff_s = cutoff.timestamp()
    seconds = grouped["InvoiceDate"]
    return from_aggregates(
        cutoff_s,
        first=(seconds.min() - pd.Timestamp(0)).dt.total_seconds(),
        last=(seconds.max() - pd.Timestamp(0)).dt.total_seconds(),
        invoices=grouped["InvoiceNo"].nunique(), monetary=grouped["total"].sum(),
        lines=grouped.size(), cancelled=grouped["cancelled"].sum(),
        recent_spend=recent.groupby("CustomerID")["total"].sum().reindex(grouped.size().index,
                                                                          fill_value=0.0))


def from_aggregates(cutoff: float, first, last, invoices, monetary, lines, cancelled, recent_spend
                    ) -> pd.DataFrame:
    """The features from per-customer running aggregates (times in epoch seconds).

    The one definition of the features: the trainer aggregates with pandas, the detector
    keeps the same aggregates per customer as events stream in.
    """
    day = 86400.0
    out = pd.DataFrame({
        "recency_days": (cutoff - np.asarray(last, np.float64)) / day,
        "frequency": np.asarray(invoices, np.float64),
        "monetary": np.asarray(monetary, np.float64),
        "tenure_days": (cutoff - np.asarray(first, np.float64)) / day,
        "returns_share": np.asarray(cancelled, np.float64) / np.asarray(lines, np.float64),
        "lines": np.asarray(lines, np.float64),
        "spend_last_horizon": np.asarray(recent_spend, np.float64),
    }, index=lines.index if isinstance(lines, pd.Series) else None)
    out["basket_size"] = out["monetary"] / out["frequency"]
    return out[list(FEATURES)]


def target(rows: pd.DataFrame, customers: pd.Index, cutoff: pd.Timestamp, horizon_days: int) -> pd.Series:
    """Net spend in [cutoff, cutoff + H) per customer (0 when none), floored at 0."""
    future = rows[(rows["InvoiceDate"] >= cutoff)
                  & (rows["InvoiceDate"] < cutoff + pd.Timedelta(days=horizon_days))]
    spend = future.groupby("CustomerID")["total"].sum().reindex(customers, fill_value=0.0)
    return spend.clip(lower=0.0).rename("spend_next_horizon")
