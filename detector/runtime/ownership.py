"""Which events the worker may process now, across rebalances.

Faust can hand the agent events of a newly assigned partition before the worker's own
assignment hook (which puts the partition's state in place) has run, and a batch taken
before a revocation can still hold events of the revoked partitions. Dropping such events
is not safe: Faust commits the first run of consecutive acked offsets even if it starts
above the committed one, so events dropped at the head of a partition would be committed
unprocessed (seen: 2,000 events lost in a three-worker rebalance). Events of a partition
that is not owned are therefore held, in arrival order, until the hooks decide: the
assignment hook releases those of the partitions it assigns; events of partitions that
end up elsewhere are let go unacked (their new owner reads them from the committed offset).

Held events continue what the worker processed, so they fit the state it saved on
revocation. If that save fails the worker stops (runtime/app.py), so nothing held is ever
processed against an older snapshot.
"""

from __future__ import annotations

from collections.abc import Iterable


class Ownership:
    def __init__(self) -> None:
        self.owned: set[int] = set()  # partitions whose states are in place
        self._held: list = []

    def admit(self, batch: Iterable) -> list:
        """The events (Faust events: ``.message.partition``) to process now; the others are held
        until the next assignment."""
        # Held events are only ever of partitions not owned, so order within a partition holds.
        ready = []
        for event in batch:
            partition = event.message.partition
            if partition in self.owned:
                ready.append(event)
            else:
                self._held.append(event)
        return ready

    def revoke(self, partitions: Iterable[int]) -> None:
        self.owned -= set(partitions)

    def assign(self, partitions: Iterable[int]) -> list:
        """Own exactly ``partitions`` (Faust's assignment replaces the previous one); return the
        held events of those partitions, to process before any later event."""
        self.owned = set(partitions)
        ready = [e for e in self._held if e.message.partition in self.owned]
        self._held = []
        return ready

    @property
    def held(self) -> int:
        return len(self._held)
