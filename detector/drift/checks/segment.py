"""Checks inside one country at a time: relations a feature's own distribution hides.

One market re-priced, one feed's currency changed, prices moved between two markets: a
country's values move while every feature's marginal stays put (the year is 91 % one
country). For each of the largest countries by reference share (the dominant one left
out: its values are the marginal's), these tests look at that country's rows only, over a
window of its last ``window_size`` rows, evaluated every ``step`` of them:

- ``ks_segment`` (each numeric feature): exact two-sample KS between the window's values
  and the reference rows' of the same country;
- ``product_price`` (unit price): the share of rows whose price is off its product's
  reference price (the median over the reference rows of its stock code, all countries;
  codes with ``MIN_PRODUCT_ROWS`` rows or more) by more than ``PRICE_TOLERANCE``, against
  that country's share in the reference: Fisher's exact test, one-sided, of the window's
  off-price count against the reference's (conditional on their total, so the reference's
  own sampling is accounted for; its critical count computed once per country).
  A product's price is nearly fixed, so prices moved between markets show at once, even
  when the two markets' price distributions are alike (Germany's and France's over the
  year: KS D 0.034). Rows of products the reference never saw are not counted.

Each alarms on the rising edge of a country's verdict; the verdict names the country.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from detector.drift.checks import Verdict
from detector.drift.checks.ks import ks_critical_value, ks_distance
from detector.drift.reference import Reference
from schemas.features import Columns

PRICE_TOLERANCE = math.log(1.2)  # off its product's price by more than 20 % either way
MIN_REFERENCE = 100  # reference rows a country needs to be tested on its own
MIN_PRODUCT_ROWS = 10  # reference rows a stock code needs for its median price to be a product's price


@dataclass(frozen=True, slots=True)
class SegmentVerdict(Verdict):
    segment: str = ""  # "country=Germany"

    @property
    def where(self) -> tuple[str, str]:
        """(kind, name) of the segment: ("country", "Germany")."""
        kind, name = self.segment.split("=", 1)
        return kind, name


def segments(reference: Reference, count: int) -> list[tuple[str, float]]:
    """The ``count`` largest countries by reference share below one half, with their shares."""
    counts = reference.categorical.get("country", {})
    total = sum(counts.values()) or 1
    ranked = sorted(((str(c), n / total) for c, n in counts.items()), key=lambda item: (-item[1], item[0]))
    return [(c, share) for c, share in ranked if share < 0.5 and counts[c] >= MIN_REFERENCE][:count]


def product_prices(reference: Reference) -> dict[str, float] | None:
    """Each stock code's median reference unit price (None: the reference has no stock codes)."""
    codes = reference.segments.get("unit_price", {}).get("stock_code")
    if codes is None:
        return None
    prices = reference.numeric["unit_price"]
    positive = prices > 0
    grouped = pd.Series(prices[positive]).groupby(codes[positive].astype(str))
    medians = grouped.median()[grouped.size() >= MIN_PRODUCT_ROWS]
    return dict(zip(medians.index, np.log(medians.to_numpy()), strict=True))


def fisher_critical_count(m: int, r: int, n: int, alpha: float) -> float:
    """Fewest off-price rows among ``n`` that Fisher's exact test (one-sided, conditional on
    the total) finds more than ``r`` among ``m`` in the reference at level ``alpha``; n + 1 if
    none does. Both are samples: the reference's own noise is accounted for.

    >>> fisher_critical_count(210, 9, 40, 5e-7)
    14
    """
    for k in range(n + 1):
        if stats.hypergeom.sf(k - 1, m + n, r + k, n) <= alpha:
            return k
    return n + 1


def off_price(prices: np.ndarray, codes: np.ndarray, log_medians: dict[str, float]) -> np.ndarray:
    """Per row: 1.0 off its product's reference price, 0.0 on it, NaN unknown product or price."""
    known = np.array([log_medians.get(str(c), math.nan) for c in codes.tolist()], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.log(np.where(prices > 0, prices, math.nan)) - known
    return np.where(np.isnan(ratio), math.nan, (np.abs(ratio) > PRICE_TOLERANCE).astype(np.float64))


class _Country:
    """One country's window, and whether its last verdict was drifted."""

    def __init__(self, name: str, window_size: int) -> None:
        self.name = name
        self.values: deque[float] = deque(maxlen=window_size)
        self.since = 0  # values since the last evaluation
        self.drifted = False


class SegmentCheck:
    """``test`` ("ks_segment" or "product_price") of ``feature`` inside each country given."""

    streaming = True
    columns = True  # update() takes the chunk's columns: it needs the country (and stock code)

    def __init__(self, feature: str, test: str, reference: Reference, countries: list[tuple[str, float]],
                 window_size: int, step: int, alpha: float) -> None:
        if not 0 < step <= window_size:
            raise ValueError(f"step must be in (0, {window_size}], not {step}")
        self.feature, self.test, self.step, self.window_size = feature, test, step, window_size
        self._countries: list[_Country] = []
        self._threshold: dict[str, float] = {}
        self._reference: dict[str, np.ndarray | float] = {}
        country_of = reference.segments.get(feature, {}).get("country")
        self._log_medians = product_prices(reference) if test == "product_price" else None
        if country_of is None or (test == "product_price" and self._log_medians is None):
            countries = []
        values = reference.numeric[feature]
        for name, _ in countries:
            mine = values[country_of == name]  # sorted, as the reference's values
            if test == "ks_segment":
                self._reference[name] = mine
                self._threshold[name] = ks_critical_value(mine.size, window_size, alpha)
            else:
                codes = reference.segments[feature]["stock_code"][country_of == name]
                flags = off_price(mine, codes, self._log_medians)
                known = flags[~np.isnan(flags)]
                if known.size < MIN_REFERENCE:
                    continue
                self._reference[name] = float(known.mean())
                critical = fisher_critical_count(known.size, int(known.sum()), window_size, alpha)
                self._threshold[name] = (critical - 0.5) / window_size  # half a row below the count
            self._countries.append(_Country(name, window_size))
        self.threshold = max(self._threshold.values(), default=1.0)
        self._last = SegmentVerdict(feature, test, 0.0, self.threshold, False)

    @property
    def countries(self) -> list[str]:
        return [c.name for c in self._countries]

    def update(self, chunk: Columns) -> list[tuple[int, Verdict]]:
        if not self._countries:
            return []
        country, values = chunk["country"], chunk[self.feature]
        hits = []
        for state in self._countries:
            rows = np.flatnonzero(country == state.name)
            mine = values[rows]
            if self._log_medians is not None:  # only the country's rows are looked up
                mine = off_price(mine, chunk["stock_code"][rows], self._log_medians)
            for pos, value in zip(rows.tolist(), mine.tolist(), strict=True):
                if value != value:  # NaN: a product the reference never saw
                    continue
                state.values.append(value)
                state.since += 1
                if state.since < self.step or len(state.values) < self.window_size:
                    continue
                state.since = 0
                verdict = self._evaluate(state)
                if verdict.ratio > self._last.ratio or self._last.segment == state.name:
                    self._last = verdict
                if verdict.drifted and not state.drifted:
                    hits.append((pos, verdict))
                state.drifted = verdict.drifted
        hits.sort(key=lambda hit: hit[0])
        return hits

    def _evaluate(self, state: _Country) -> SegmentVerdict:
        window = np.fromiter(state.values, np.float64, len(state.values))
        if self.test == "ks_segment":
            statistic = ks_distance(self._reference[state.name], window)
        else:
            statistic = float(window.mean())
        threshold = self._threshold[state.name]
        return SegmentVerdict(self.feature, self.test, statistic, threshold, statistic > threshold,
                              f"country={state.name}")

    def evaluate(self, window: np.ndarray | None = None) -> Verdict:
        """The latest verdict of the country nearest (or furthest past) its threshold."""
        return self._last
