"""Running per-customer aggregates of one partition: what the CLV features are made of.

Kept as plain lists per customer so an event costs a few dict and list operations; the
features themselves are built only at a cutoff (``schemas.features.clv_features``, the
definition the trainer uses too).

Memory follows the live customer population, not the stream: spend older than H before
the watermark is dropped (on arrival, and by ``prune``), recent spend is summed per
distinct event time (the same year replayed again, whose event time does not advance,
adds to the sums instead of growing a list), invoice numbers are kept only while a line
of theirs could still arrive (``INVOICE_GRACE``), and a customer idle for
``CUSTOMER_IDLE_DAYS`` is forgotten — the trainer defines a customer's history the same
way, so in event-time order the streamed features equal the trainer's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from schemas.features import CUSTOMER_IDLE_DAYS, DAY, INVOICE_GRACE, clv_features
from schemas.transaction import is_cancellation

FIRST, LAST, MONETARY, LINES, CANCELLED, FREQUENCY, INVOICES, RECENT = range(8)


class CustomerStore:
    """Aggregates per customer; ``recent`` keeps {time: total} of the last H days only.

    >>> store = CustomerStore(horizon_days=30)
    >>> store.add(17850, 0.0, "536365", 15.3, watermark=0.0)
    >>> store.add(17850, DAY, "C536379", -5.0, watermark=DAY)
    >>> x = store.features(cutoff=2 * DAY)
    >>> x.loc[17850, ["frequency", "monetary", "returns_share", "recency_days"]].tolist()
    [2.0, 10.3, 0.5, 1.0]
    """

    def __init__(self, horizon_days: int) -> None:
        self.horizon = horizon_days * DAY
        self.idle = CUSTOMER_IDLE_DAYS * DAY
        self.customers: dict[int, list] = {}

    def __setstate__(self, state: dict) -> None:
        """Snapshots written before recent spend was summed per time hold (time, total) lists."""
        self.__dict__.update(state)
        for customer in self.customers.values():
            if isinstance(customer[RECENT], list):
                recent: dict[float, float] = {}
                for when, total in customer[RECENT]:
                    recent[when] = recent.get(when, 0.0) + total
                customer[RECENT] = recent

    def __len__(self) -> int:
        return len(self.customers)

    def add(self, customer: int, when: float, invoice: str, total: float, watermark: float) -> None:
        """One line; ``watermark`` is the largest event time the partition has seen."""
        state = self.customers.get(customer)
        if state is None or when - state[LAST] > self.idle:  # new, or back after a long absence
            self.customers[customer] = [when, when, total, 1, int(is_cancellation(invoice)), 1,
                                        {invoice: when}, {when: total}]
            return
        if when < state[FIRST]:
            state[FIRST] = when
        if when > state[LAST]:
            state[LAST] = when
        state[MONETARY] += total
        state[LINES] += 1
        state[CANCELLED] += is_cancellation(invoice)
        invoices = state[INVOICES]
        seen = invoices.get(invoice)
        if seen is None or when - seen > INVOICE_GRACE:
            state[FREQUENCY] += 1
        if when >= watermark - INVOICE_GRACE:
            invoices[invoice] = when if seen is None else max(seen, when)
        if when >= watermark - self.horizon:  # older spend is before every cutoff still to come
            recent = state[RECENT]
            recent[when] = recent.get(when, 0.0) + total

    def monetary(self, customers: np.ndarray) -> np.ndarray:
        get = self.customers.get
        return np.array([get(c, (0, 0, 0.0))[MONETARY] for c in customers.tolist()], np.float64)

    def basket_ratios(self, since: float, until: float) -> np.ndarray:
        """Per returning customer who bought in [since, until): net spend per purchase time in
        it over net spend per invoice before it (customers with net spend in both). ``since``
        at most H before the watermark: recent spend holds no older."""
        out = []
        for state in self.customers.values():
            if state[LAST] < since or state[FIRST] >= since:
                continue
            spans = [total for when, total in state[RECENT].items() if since <= when < until]
            spent = sum(spans)
            before = state[MONETARY] - spent
            invoices = state[FREQUENCY] - len(spans)
            if spans and spent > 0 and before > 0 and invoices > 0:
                out.append(spent / len(spans) / (before / invoices))
        return np.array(out, np.float64)

    def prune(self, now: float) -> None:
        """Forget what no cutoff from ``now`` on needs: spend older than H, invoice numbers
        past their grace, customers idle for longer than CUSTOMER_IDLE_DAYS."""
        since, grace, idle = now - self.horizon, now - INVOICE_GRACE, now - self.idle
        expired = []
        for customer, state in self.customers.items():
            if state[LAST] < idle:
                expired.append(customer)
                continue
            recent = state[RECENT]
            if recent and min(recent) < since:
                state[RECENT] = {t: spend for t, spend in recent.items() if t >= since}
            invoices = state[INVOICES]
            if invoices and min(invoices.values()) < grace:
                state[INVOICES] = {i: t for i, t in invoices.items() if t >= grace}
        for customer in expired:
            del self.customers[customer]

    def features(self, cutoff: float) -> pd.DataFrame:
        """Features of every customer with history before ``cutoff`` (epoch seconds)."""
        self.prune(cutoff)
        ids, first, last, invoices, monetary, lines, cancelled, recent_spend = ([] for _ in range(8))
        for customer, state in self.customers.items():
            ids.append(customer)
            first.append(state[FIRST])
            last.append(state[LAST])
            invoices.append(state[FREQUENCY])
            monetary.append(state[MONETARY])
            lines.append(state[LINES])
            cancelled.append(state[CANCELLED])
            recent_spend.append(sum(total for when, total in state[RECENT].items() if when < cutoff))
        frame = clv_features(cutoff, first, last, invoices, monetary, lines, cancelled, recent_spend)
        frame.index = pd.Index(ids, name="CustomerID")
        return frame
