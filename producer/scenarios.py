"""Drift scenarios applied to a replay from an onset row, most with a size.

| scenario | size (default) | after the onset |
|---|---|---|
| scale | — | Quantity × U[1.5, 3], UnitPrice × U[1.3, 2.5] |
| gradual | — | scale, ramped in over ``ramp`` rows |
| outliers | share (0.10) | that share of rows: Quantity −9999 or 99999, UnitPrice U[0.01, 100000] |
| country-mix | UK share (0.70) | UK rows dropped at random until they are that share |
| price | ε (0.5) | UnitPrice × (1 + ε) |
| quantity | ε (0.5) | Quantity × (1 + ε), rounded |
| missing-customer | k points (0.10) | CustomerID removed from more rows: its missing share up k points |
| new-country | share (0.05) | that share of rows from a country never seen before ("Atlantis") |
| cancellations | factor k (3) | the cancelled share × k (lines turned into cancellations) |
| one-country | share (1.0) | rows of other countries than ``country`` dropped until it is that share |
| swap-prices | share (1.0) | that share of ``country``'s and France's rows: a price drawn from the other's |
| country-price | ε (0.5) | ``country``'s UnitPrice × (1 + ε): one market re-priced |
| customer-country | share (0.10) | that share of the customers: their countries shuffled among them |

The last three change relations and leave the marginals about as they were: the price's
relation to its country and product, who buys where.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

UK = "United Kingdom"
NEW_COUNTRY = "Atlantis"
DEFAULT_SIZES = {"outliers": 0.10, "country-mix": 0.70, "price": 0.5, "quantity": 0.5,
                 "missing-customer": 0.10, "new-country": 0.05, "cancellations": 3.0, "one-country": 1.0,
                 "swap-prices": 1.0, "country-price": 0.5, "customer-country": 0.10}
SCENARIOS = ("none", "scale", "gradual", "outliers", "country-mix", "price", "quantity", "missing-customer",
             "new-country", "cancellations", "one-country", "swap-prices", "country-price",
             "customer-country")
SHARES = ("outliers", "country-mix", "new-country", "one-country", "missing-customer", "swap-prices",
          "customer-country")


@dataclass(frozen=True)
class Scenario:
    name: str = "none"
    onset: int = 0
    ramp: int = 10_000  # rows over which `gradual` reaches full `scale`
    size: float | None = None  # None: the scenario's default (DEFAULT_SIZES)
    country: str = "Germany"  # one-country, swap-prices, country-price

    def __post_init__(self) -> None:
        if self.name not in SCENARIOS:
            raise ValueError(f"scenario must be one of {', '.join(SCENARIOS)}, not {self.name!r}")
        if self.onset < 0:
            raise ValueError(f"onset must be >= 0, not {self.onset}")
        if self.ramp < 1:
            raise ValueError(f"ramp must be >= 1 row, not {self.ramp}")
        if self.name in SHARES and not 0 < self.amount <= 1:
            raise ValueError(f"size of {self.name} is a share in (0, 1], not {self.amount}")
        if self.name in ("price", "quantity", "country-price") and self.amount <= -1:
            raise ValueError(f"size of {self.name} is ε > -1 (values × (1 + ε)), not {self.amount}")
        if self.name == "cancellations" and self.amount < 1:
            raise ValueError(f"size of cancellations is a factor >= 1, not {self.amount}")

    @property
    def amount(self) -> float:
        return DEFAULT_SIZES.get(self.name, 0.0) if self.size is None else self.size


def resolve_onset(onset: str, rows: int) -> int:
    """An onset given as a row index ("270000") or a fraction of the rows ("0.5")."""
    try:
        value = float(onset)
    except ValueError:
        raise ValueError(f"onset must be a row index or a fraction in [0, 1), not {onset!r}") from None
    if "." in onset or "e" in onset.lower():
        if not 0 <= value < 1:
            raise ValueError(f"onset fraction must be in [0, 1), not {onset}")
        return int(value * rows)
    if value < 0 or value != int(value):
        raise ValueError(f"onset row must be a non-negative integer, not {onset}")
    return min(int(value), rows)


def _keep_share(out: pd.DataFrame, after: np.ndarray, chosen: np.ndarray, share: float,
                rng: np.random.Generator, onset: int) -> tuple[pd.DataFrame, int]:
    """Drop other rows after the onset at random until ``chosen`` rows are ``share`` of them."""
    p = float(chosen[after].mean())
    if share >= 1:
        drop = after & ~chosen
    elif share > p:
        drop = after & ~chosen & (rng.random(len(out)) >= p * (1 - share) / ((1 - p) * share))
    else:
        drop = after & chosen & (rng.random(len(out)) >= share * (1 - p) / ((1 - share) * p))
    return out.loc[~drop].reset_index(drop=True), onset


def apply(frame: pd.DataFrame, scenario: Scenario, seed: int) -> tuple[pd.DataFrame, int]:
    """Return the drifted rows and the onset as a position in the returned rows.

    Rows before the onset are untouched. Scenarios that drop rows keep the onset where the
    first post-onset row now stands (the same row index here).
    """
    if scenario.name == "none" or scenario.onset >= len(frame):
        return frame, min(scenario.onset, len(frame))
    rng = np.random.default_rng(seed)
    out = frame.copy()
    after = np.arange(len(out)) >= scenario.onset
    n_after, size = int(after.sum()), scenario.amount
    quantity = out["Quantity"].to_numpy(dtype=np.float64, copy=True)
    price = out["UnitPrice"].to_numpy(dtype=np.float64, copy=True)
    country = out["Country"].to_numpy()
    if scenario.name in ("scale", "gradual"):
        q_factor = rng.uniform(1.5, 3.0, n_after)
        p_factor = rng.uniform(1.3, 2.5, n_after)
        if scenario.name == "gradual":
            weight = np.minimum(np.arange(1, n_after + 1) / scenario.ramp, 1.0)
            q_factor = 1 + weight * (q_factor - 1)
            p_factor = 1 + weight * (p_factor - 1)
        quantity[after] = np.rint(quantity[after] * q_factor)
        price[after] = np.round(price[after] * p_factor, 2)
    elif scenario.name == "outliers":
        idx = np.flatnonzero(after)[rng.random(n_after) < size]
        quantity[idx] = rng.choice(np.array([-9999.0, 99999.0]), idx.size)
        price[idx] = np.round(rng.uniform(0.01, 100_000, idx.size), 2)
    elif scenario.name == "price":
        price[after] = np.round(price[after] * (1 + size), 2)
    elif scenario.name == "quantity":
        quantity[after] = np.rint(quantity[after] * (1 + size))
    elif scenario.name == "country-mix":
        return _keep_share(out, after, country == UK, size, rng, scenario.onset)
    elif scenario.name == "one-country":
        return _keep_share(out, after, country == scenario.country, size, rng, scenario.onset)
    elif scenario.name == "new-country":
        out.loc[np.flatnonzero(after)[rng.random(n_after) < size], "Country"] = NEW_COUNTRY
    elif scenario.name == "missing-customer":
        known = after & out["CustomerID"].notna().to_numpy()
        base = 1 - float(known[after].mean())
        clear = known & (rng.random(len(out)) < size / max(1 - base, 1e-9))
        out.loc[clear, "CustomerID"] = np.nan
    elif scenario.name == "cancellations":
        invoices = out["InvoiceNo"].astype(str)
        cancelled = invoices.str.startswith("C").to_numpy()
        base = float(cancelled[after].mean())
        turn = after & ~cancelled & (rng.random(len(out)) < base * (size - 1) / max(1 - base, 1e-9))
        out.loc[turn, "InvoiceNo"] = "C" + invoices[turn]
        quantity[turn] = -np.abs(quantity[turn])
    elif scenario.name == "swap-prices":
        original = price.copy()
        for mine, theirs in ((scenario.country, "France"), ("France", scenario.country)):
            rows = after & (country == mine) & (rng.random(len(out)) < size)
            price[rows] = rng.choice(original[country == theirs], int(rows.sum()))
    elif scenario.name == "country-price":
        rows = after & (country == scenario.country)
        price[rows] = np.round(price[rows] * (1 + size), 2)
    elif scenario.name == "customer-country":
        customers = out["CustomerID"].to_numpy()
        known = after & ~pd.isna(customers)
        ids = np.unique(customers[known])
        chosen = ids[rng.random(ids.size) < size]
        home = pd.Series(country[known], index=customers[known]).groupby(level=0).first()[chosen]
        moved = dict(zip(chosen.tolist(), rng.permutation(home.to_numpy()).tolist(), strict=True))
        rows = known & np.isin(customers, chosen)
        out.loc[rows, "Country"] = [moved[c] for c in customers[rows].tolist()]
    out["Quantity"] = quantity.astype(np.int64)
    out["UnitPrice"] = price
    return out, scenario.onset
