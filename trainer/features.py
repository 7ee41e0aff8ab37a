"""Customer features at a cutoff, and the CLV target: spend over the next H days.

The features themselves are defined once, in ``schemas.features.clv_features``: here they
are aggregated with pandas over the rows before a cutoff, as the detector aggregates them
over a stream.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.features import (
    CUSTOMER_IDLE_DAYS,
    INVOICE_GRACE,
    cancellations,
    clv_features,
    epoch_seconds_of,
)


class TrainingDataError(ValueError):
    """Too little history, or no customer, to train on."""


def line_totals(frame: pd.DataFrame) -> pd.DataFrame:
    rows = frame.loc[frame["CustomerID"].notna(), ["CustomerID", "InvoiceNo", "InvoiceDate",
                                                   "Quantity", "UnitPrice"]].copy()
    rows["CustomerID"] = rows["CustomerID"].astype(np.int64)
    rows["total"] = rows["Quantity"] * rows["UnitPrice"]
    rows["cancelled"] = cancellations(rows["InvoiceNo"])
    return rows


def history(rows: pd.DataFrame, cutoff: pd.Timestamp) -> pd.DataFrame:
    """Each customer's lines before ``cutoff`` that count: since their last absence of more
    than CUSTOMER_IDLE_DAYS, and none for a customer idle that long at the cutoff (rows keep
    their order)."""
    past = rows[rows["InvoiceDate"] < cutoff]
    by_time = past.sort_values(["CustomerID", "InvoiceDate"], kind="stable")
    idle = pd.Timedelta(days=CUSTOMER_IDLE_DAYS)
    customer = by_time["CustomerID"]
    life = (by_time.groupby("CustomerID")["InvoiceDate"].diff() > idle).groupby(customer).cumsum()
    current = life == life.groupby(customer).transform("max")
    last = by_time["InvoiceDate"].groupby(customer).transform("max")
    keep = current & (cutoff - last <= idle)
    return past[keep.reindex(past.index)]


def invoice_counts(past: pd.DataFrame) -> pd.Series:
    """Invoices per customer; an invoice number seen again more than INVOICE_GRACE after
    its last line counts anew."""
    lines = past.sort_values(["CustomerID", "InvoiceNo", "InvoiceDate"], kind="stable")
    gap = lines.groupby(["CustomerID", "InvoiceNo"])["InvoiceDate"].diff()
    anew = gap.isna() | (gap > pd.Timedelta(seconds=INVOICE_GRACE))
    return anew.groupby(lines["CustomerID"]).sum()


def customer_features(rows: pd.DataFrame, cutoff: pd.Timestamp, horizon_days: int) -> pd.DataFrame:
    """One row per customer with a history before ``cutoff``; ``rows`` from line_totals()."""
    past = history(rows, cutoff)
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
        invoices=invoice_counts(past).reindex(customers), monetary=grouped["total"].sum(),
        lines=grouped.size(), cancelled=grouped["cancelled"].sum(),
        recent_spend=recent.groupby("CustomerID")["total"].sum().reindex(customers, fill_value=0.0))


def target(rows: pd.DataFrame, customers: pd.Index, cutoff: pd.Timestamp, horizon_days: int) -> pd.Series:
    """Net spend in [cutoff, cutoff + H) per customer (0 when none), floored at 0."""
    future = rows[(rows["InvoiceDate"] >= cutoff)
                  & (rows["InvoiceDate"] < cutoff + pd.Timedelta(days=horizon_days))]
    spend = future.groupby("CustomerID")["total"].sum().reindex(customers, fill_value=0.0)
    return spend.clip(lower=0.0).rename("spend_next_horizon")


def spend_by_day(rows: pd.DataFrame, customers: pd.Index, cutoff: pd.Timestamp, horizon_days: int
                 ) -> np.ndarray:
    """Net spend in [cutoff, cutoff + d days) per customer (rows) for d = 1..H (columns): how a
    cutoff's labels build up, day by day."""
    future = rows[(rows["InvoiceDate"] >= cutoff)
                  & (rows["InvoiceDate"] < cutoff + pd.Timedelta(days=horizon_days))]
    day = ((future["InvoiceDate"] - cutoff) // pd.Timedelta(days=1)).to_numpy()
    daily = (pd.DataFrame({"CustomerID": future["CustomerID"].to_numpy(), "day": day,
                           "total": future["total"].to_numpy()})
             .pivot_table(index="CustomerID", columns="day", values="total", aggfunc="sum", fill_value=0.0)
             .reindex(index=customers, columns=range(horizon_days), fill_value=0.0))
    return daily.to_numpy(np.float64).cumsum(axis=1).astype(np.float32)


def select_window(frame: pd.DataFrame, since: str | None, until: str | None) -> pd.DataFrame:
    try:
        start = pd.Timestamp(since) if since else frame["InvoiceDate"].min()
        end = pd.Timestamp(until) if until else frame["InvoiceDate"].max() + pd.Timedelta(seconds=1)
    except ValueError as error:
        raise TrainingDataError(f"bad --since/--until time: {error}") from None
    window = frame[(frame["InvoiceDate"] >= start) & (frame["InvoiceDate"] < end)]
    if window.empty:
        raise TrainingDataError(f"no rows between {start} and {end}")
    return window.reset_index(drop=True)
