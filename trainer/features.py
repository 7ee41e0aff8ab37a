"""Customer features at a cutoff, and the CLV target: spend over the next H days.

The features themselves are defined once, in ``schemas.features.clv_features``: here they
are aggregated with pandas over the rows before a cutoff, as the detector aggregates them
over a stream.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.features import cancellations, clv_features, epoch_seconds_of


class TrainingDataError(ValueError):
    """Too little history, or no customer, to train on."""


def line_totals(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame.loc[frame["CustomerID"].notna(), ["CustomerID", "InvoiceNo", "InvoiceDate",
                                                   "Quantity", "UnitPrice"]].copy()
    rows["CustomerID"] = rows["CustomerID"].astype(np.int64)
    rows["total"] = rows["Quantity"] * rows["UnitPrice"]
    rows["cancelled"] = cancellations(rows["InvoiceNo"])
    return rows


def customer_features(rows: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    """One row per customer seen before ``cutoff``; ``rows`` from line_totals()."""
    past = rows[rows["InvoiceDate"] < cutoff]
    if past.empty:
        raise TrainingDataError(f"no customer purchases before {cutoff:%Y-%m-%d}")
    grouped = past.groupby("CustomerID")
    recent = past[past["InvoiceDate"] >= cutoff - pd.Timedelta(days=horizon_days)]
    times = grouped["InvoiceDate"]
    customers = grouped.size().index
    return clv_features(
        cutoff.timestamp(),
        first=pd.Series(epoch_seconds_of(times.min()), index=customers),
        last=pd.Series(epoch_seconds_of(times.max()), index=customers),
        invoices=grouped["InvoiceNo"].nunique(), monetary=grouped["total"].sum(),
        lines=grouped.size(), cancelled=grouped["cancelled"].sum(),
        recent_spend=recent.groupby("CustomerID")["total"].sum().reindex(customers, fill_value=0.0))


def target(rows: pd.DataFrame, customers: pd.Index, cutoff: pd.Timestamp, horizon_days: int) -> pd.Series:
    """Net spend in [cutoff, cutoff + H) per customer (0 when none), floored at 0."""
    future = rows[(rows["InvoiceDate"] >= cutoff)
                  & (rows["InvoiceDate"] < cutoff + pd.Timedelta(days=horizon_days))]
    spend = future.groupby("CustomerID")["total"].sum().reindex(customers, fill_value=0.0)
    return spend.clip(lower=0.0).rename("spend_next_horizon")
