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
    out = pd.DataFrame({
        "recency_days": (cutoff - grouped["InvoiceDate"].max()).dt.total_seconds() / 86400,
        "frequency": grouped["InvoiceNo"].nunique(),
        "monetary": grouped["total"].sum(),
        "tenure_days": (cutoff - grouped["InvoiceDate"].min()).dt.total_seconds() / 86400,
        "returns_share": grouped["cancelled"].mean(),
        "lines": grouped.size(),
        "spend_last_horizon": recent.groupby("CustomerID")["total"].sum(),
    })
    out["basket_size"] = out["monetary"] / out["frequency"]
    return out.fillna({"spend_last_horizon": 0.0})[list(FEATURES)]


def target(rows: pd.DataFrame, customers: pd.Index, cutoff: pd.Timestamp, horizon_days: int) -> pd.Series:
    """Net spend in [cutoff, cutoff + H) per customer (0 when none), floored at 0."""
    future = rows[(rows["InvoiceDate"] >= cutoff)
                  & (rows["InvoiceDate"] < cutoff + pd.Timedelta(days=horizon_days))]
    spend = future.groupby("CustomerID")["total"].sum().reindex(customers, fill_value=0.0)
    return spend.clip(lower=0.0).rename("spend_next_horizon")
