"""Customers seen in another country than before: the customer–country relation.

A join that pairs customers with the wrong country, a feed that re-labels one market's
accounts: every country's share and values can stay as they were (the rows only change
places), while customers suddenly buy from a country they never bought from. A customer's
country barely ever changes (the year: 8 of 4,372 customers have two; 0.08 % of rows with
a customer are off the first country seen for it, in any order of the rows).

The check keeps each customer's first country (a partition holds its own customers: the
topic is keyed by customer) and, over its own first ``reference_size`` events, counts the
rows with a customer that are off it: the reference rate. Then, over a window of the last
``window_size`` such rows, evaluated every ``step`` of them, Fisher's exact test, one-sided,
of the window's off-country count against the reference's (conditional on their total: the
reference's own sampling is accounted for; the critical count computed once). It alarms on
the rising edge; the verdict names the country most of the window's off rows are now in.
State: one entry per customer the partition has seen (4,372 in the year, all partitions)
and the window's flags.
"""

from __future__ import annotations

from collections import Counter, deque

import numpy as np

from detector.drift.checks import Verdict
from detector.drift.checks.segment import SegmentVerdict, fisher_critical_count
from schemas.features import Columns


class CustomerCountryCheck:
    """The share of rows whose customer was first seen in another country, against its own
    first ``reference_size`` events.

    >>> check = CustomerCountryCheck(reference_size=1000, window_size=200, step=50, alpha=1e-6)
    >>> ids = np.arange(1000) % 100.0
    >>> home = np.where(ids < 50, "UK", "DE").astype(object)
    >>> check.update({"customer_id": ids, "country": home})  # learns the customers' countries
    []
    >>> check.update({"customer_id": ids[:200], "country": home[:200]})
    []
    >>> moved = np.where(ids[:200] < 10, "DE", home[:200]).astype(object)  # customers 0-9 now in DE
    >>> [(pos, v.test, v.segment) for pos, v in check.update({"customer_id": ids[:200], "country": moved})]
    [(49, 'customer_country', 'country=DE')]
    """

    feature = "country"
    test = "customer_country"
    streaming = True
    columns = True  # update() takes the chunk's columns: customer and country

    def __init__(self, reference_size: int, window_size: int, step: int, alpha: float) -> None:
        if not 0 < step <= window_size:
            raise ValueError(f"step must be in (0, {window_size}], not {step}")
        self.reference_size, self.window_size = reference_size, window_size
        self.step, self.alpha = step, alpha
        self.first: dict[float, str] = {}  # customer -> the country first seen for it
        self.seen = 0  # events seen while learning the reference
        self.ref_known = self.ref_off = 0
        self.critical: int | None = None  # off rows in a window that alarm; None while learning
        self.threshold = 1.0
        self._window: deque[str | None] = deque(maxlen=window_size)  # per row: its country if off, else None
        self._off = 0  # rows off their customer's country in the window
        self._since = 0
        self._drifted = False
        self._last = Verdict(self.feature, self.test, 0.0, self.threshold, False)

    def update(self, chunk: Columns) -> list[tuple[int, Verdict]]:
        if "customer_id" not in chunk:  # columns without customers (hand-made ones): all unknown
            chunk = {"customer_id": np.full(len(chunk["country"]), np.nan), "country": chunk["country"]}
        customers, countries = chunk["customer_id"].tolist(), chunk["country"].tolist()
        start = 0
        if self.critical is None:  # learning: the chunk's first rows may still belong to the reference
            start = min(len(customers), self.reference_size - self.seen)
            for customer, country in zip(customers[:start], countries[:start], strict=True):
                if customer == customer:  # not NaN: a known customer
                    self.ref_known += 1
                    self.ref_off += self.first.setdefault(customer, country) != country
            self.seen += start
            if self.seen < self.reference_size:
                return []
            self.critical = fisher_critical_count(self.ref_known, self.ref_off, self.window_size, self.alpha)
        hits = []
        for pos in range(start, len(customers)):
            customer = customers[pos]
            if customer != customer:
                continue
            country = countries[pos]
            off = self.first.setdefault(customer, country) != country
            if len(self._window) == self.window_size and self._window[0] is not None:
                self._off -= 1
            self._window.append(country if off else None)
            self._off += off
            self._since += 1
            if self._since < self.step or len(self._window) < self.window_size:
                continue
            self._since = 0
            verdict = self._evaluate()
            if verdict.drifted and not self._drifted:
                hits.append((pos, verdict))
            self._drifted = verdict.drifted
        return hits

    def _evaluate(self) -> Verdict:
        statistic = self._off / max(self.critical - 0.5, 0.5)  # 1 half a row below the critical count
        where = Counter(c for c in self._window if c is not None).most_common(1)
        if not where:  # nothing off: nowhere to name
            self._last = Verdict(self.feature, self.test, statistic, self.threshold, False)
        else:
            self._last = SegmentVerdict(self.feature, self.test, statistic, self.threshold, statistic > 1.0,
                                        f"country={where[0][0]}")
        return self._last

    def evaluate(self, window=None) -> Verdict:
        """The latest verdict (nothing drifted while learning)."""
        return self._last
