"""Running per-customer aggregates of one partition: what the CLV features are made of.

Kept as plain lists per customer so an event costs a few dict and list operations; the
features themselves are built only at a cutoff (schemas.features.clv_features, the
definition the trainer uses too).
"""

from __future__ import annotations

from collections import deque

import numpy as np
import pandas as pd

from schemas.features import DAY, clv_features
from schemas.transaction import is_cancellation

FIRST, LAST, MONETARY, LINES, CANCELLED, INVOICES, RECENT = range(7)


class CustomerStore:
    """Aggregates per customer; ``recent`` keeps (time, total) of the last H days only.

    >>> store = CustomerStore(horizon_days=30)
    >>> store.add(17850, 0.0, "536365", 15.3)
    >>> store.add(17850, DAY, "C536379", -5.0)
    >>> x = store.features(cutoff=2 * DAY)
    >>> x.loc[17850, ["frequency", "monetary", "returns_share", "recency_days"]].tolist()
    [2.0, 10.3, 0.5, 1.0]
    """

    def __init__(self, horizon_days: int) -> None:
        self.horizon = horizon_days * DAY
        self.customers: dict[int, list] = {}

    def __len__(self) -> int:
        return len(self.customers)

    def add(self, customer: int, when: float, invoice: str, total: float) -> None:
        state = self.customers.get(customer)
        if state is None:
            self.customers[customer] = [when, when, total, 1, is_cancellation(invoice), {invoice},
                                        deque([(when, total)])]
            return
        if when < state[FIRST]:
            state[FIRST] = when
        if when > state[LAST]:
            state[LAST] = when
        state[MONETARY] += total
        state[LINES] += 1
        state[CANCELLED] += is_cancellation(invoice)
        state[INVOICES].add(invoice)
        state[RECENT].append((when, total))

    def monetary(self, customers: np.ndarray) -> np.ndarray:
        get = self.customers.get
        return np.array([get(c, (0, 0, 0.0))[MONETARY] for c in customers.tolist()], np.float64)

    def prune(self, now: float) -> None:
        """Forget spend older than H before ``now``."""
        since = now - self.horizon
        for state in self.customers.values():
            recent = state[RECENT]
            while recent and recent[0][0] < since:
                recent.popleft()

    def features(self, cutoff: float) -> pd.DataFrame:
        """Features of every customer seen so far, at ``cutoff`` (epoch seconds)."""
        self.prune(cutoff)
        ids, first, last, invoices, monetary, lines, cancelled, recent_spend = ([] for _ in range(8))
        for customer, state in self.customers.items():
            recent = state[RECENT]
            ids.append(customer)
            first.append(state[FIRST])
            last.append(state[LAST])
            invoices.append(len(state[INVOICES]))
            monetary.append(state[MONETARY])
            lines.append(state[LINES])
            cancelled.append(state[CANCELLED])
            recent_spend.append(sum(total for when, total in recent if when < cutoff))
        frame = clv_features(cutoff, first, last, invoices, monetary, lines, cancelled, recent_spend)
        frame.index = pd.Index(ids, name="CustomerID")
        return frame
