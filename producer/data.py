"""Reading Online Retail from CSV, XLSX or parquet, in the UCI columns."""

from __future__ import annotations

import io
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

UCI_COLUMNS = (
    "InvoiceNo", "StockCode", "Description", "Quantity",
    "InvoiceDate", "UnitPrice", "CustomerID", "Country",
)
UCI_URL = "https://archive.ics.uci.edu/static/public/352/online+retail.zip"


class DataError(Exception):
    """The data file is missing, unreadable or lacks the UCI columns."""


def load_online_retail(path: Path | None, cache_dir: Path | None = None,
                       download: bool = False) -> pd.DataFrame:
    """Load the data set; with no path, use (or, with ``download``, fill) the cache."""
    if path is None:
        path = _cached_or_download(cache_dir, download)
    if not path.exists():
        raise DataError(f"data file {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path)
        elif suffix == ".csv":
            frame = pd.read_csv(path, dtype={"InvoiceNo": str, "StockCode": str},
                                encoding_errors="replace")
        elif suffix in (".xlsx", ".xls"):
            frame = pd.read_excel(path, dtype={"InvoiceNo": str, "StockCode": str})
        else:
            raise DataError(f"{path}: unsupported file type {suffix!r} (use .csv, .xlsx or .parquet)")
    except DataError:
        raise
    except Exception as error:  # pandas raises many types for unreadable files
        raise DataError(f"cannot read {path}: {error}") from error
    return normalise(frame, source=str(path))


def normalise(frame: pd.DataFrame, source: str = "data") -> pd.DataFrame:
    missing = [c for c in UCI_COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{source} lacks the UCI column(s) {', '.join(missing)}; "
                        f"expected {', '.join(UCI_COLUMNS)}")
    out = frame.loc[:, list(UCI_COLUMNS)].copy()
    out["InvoiceNo"] = out["InvoiceNo"].astype(str)
    out["StockCode"] = out["StockCode"].astype(str)
    out["Country"] = out["Country"].astype(str)
    out["Quantity"] = pd.to_numeric(out["Quantity"], errors="coerce")
    out["UnitPrice"] = pd.to_numeric(out["UnitPrice"], errors="coerce")
    out["CustomerID"] = pd.to_numeric(out["CustomerID"], errors="coerce")
    out["InvoiceDate"] = pd.to_datetime(out["InvoiceDate"], errors="coerce")
    bad = out["Quantity"].isna() | out["UnitPrice"].isna() | out["InvoiceDate"].isna()
    out = out.loc[~bad].reset_index(drop=True)
    if out.empty:
        raise DataError(f"{source} has no usable rows")
    out["Quantity"] = out["Quantity"].astype(np.int64)
    return out


def _cached_or_download(cache_dir: Path | None, download: bool) -> Path:
    cache_dir = cache_dir or Path.home() / ".cache" / "driftstream"
    target = cache_dir / "online_retail.parquet"
    if target.exists():
        return target
    if not download:
        raise DataError(
            "no data file given and none cached. Pass --data PATH (CSV, XLSX or parquet in the "
            f"UCI columns), or --download to fetch {UCI_URL} into {cache_dir}")
    try:
        with urllib.request.urlopen(UCI_URL, timeout=60) as response:  # noqa: S310 (fixed https URL)
            archive = zipfile.ZipFile(io.BytesIO(response.read()))
    except OSError as error:
        raise DataError(f"download of {UCI_URL} failed ({error}); pass --data PATH instead") from error
    xlsx = next(n for n in archive.namelist() if n.endswith(".xlsx"))
    frame = normalise(pd.read_excel(archive.open(xlsx), dtype={"InvoiceNo": str, "StockCode": str}))
    cache_dir.mkdir(parents=True, exist_ok=True)
    frame.to_parquet(target)
    return target


def arrange(frame: pd.DataFrame, order: str, seed: int, passes: int = 1, limit: int = 0,
            skip: int = 0) -> pd.DataFrame:
    """The rows in replay order, ``passes`` times over, then the first ``limit`` (0: all)
    without the first ``skip``.

    ``shuffled``: each pass a new seeded permutation (a stationary stream as long as wanted).
    ``time``: by InvoiceDate; each later pass moved forward by the data's span rounded up to
    whole weeks, so event time keeps increasing and weekdays stay where they were.
    """
    if order == "shuffled":
        parts = [frame.iloc[np.random.default_rng(seed + k).permutation(len(frame))] for k in range(passes)]
    else:
        ordered = frame.sort_values("InvoiceDate", kind="stable")
        weeks = -(-(ordered["InvoiceDate"].max() - ordered["InvoiceDate"].min()) // pd.Timedelta(weeks=1))
        span = pd.Timedelta(weeks=int(weeks))
        parts = [ordered.assign(InvoiceDate=ordered["InvoiceDate"] + k * span) for k in range(passes)]
    out = pd.concat(parts, ignore_index=True) if passes > 1 else parts[0].reset_index(drop=True)
    out = out.iloc[:limit] if limit else out
    if skip >= len(out):
        raise DataError(f"--skip {skip} leaves no row of the {len(out):,} to replay")
    return out.iloc[skip:].reset_index(drop=True) if skip else out
