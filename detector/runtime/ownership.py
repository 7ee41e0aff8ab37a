"""Which events the worker may process now, across rebalances.

The driver can return events of a newly assigned partition before the worker's own
assignment hook (which puts the partition's state in place) has run, and a batch fetched
before a revocation can still hold events of the revoked partitions. Events of a partition
that is not owned are therefore held, in arrival order, until the hooks decide: the
assignment hook releases those of the partitions it assigns; events of partitions that
end up elsewhere are let go (their new owner reads them from the committed offset, which
never passes what a saved snapshot covers).

Held events continue what the worker processed, so they fit the state it saved on
revocation. If that save fails the worker stops (runtime/app.py), so nothing held is ever
processed against an older snapshot.

Events come and go per partition, in chunks: (partition, [message, ...]).
"""

from __future__ import annotations

from collections.abc import Iterable

Chunk = tuple[int, list]


class Ownership:
    def __init__(self) -> None:
        self.owned: set[int] = set()  # partitions whose states are in place
        self._held: list[Chunk] = []

    def admit(self, chunks: Iterable[Chunk]) -> list[Chunk]:
        """The chunks to process now; the others are held until the next assignment."""
        # Held chunks are only ever of partitions not owned, so order within a partition holds.
        ready = []
        for chunk in chunks:
            (ready if chunk[0] in self.owned else self._held).append(chunk)
        return ready

    def revoke(self, partitions: Iterable[int]) -> None:
        self.owned -= set(partitions)

    def assign(self, partitions: Iterable[int]) -> list[Chunk]:
        """Own exactly ``partitions`` (an assignment replaces the previous one); return the
        held chunks of those partitions, to process before any later event."""
        self.owned = set(partitions)
        ready = [chunk for chunk in self._held if chunk[0] in self.owned]
        self._held = []
        return ready

    @property
    def held(self) -> int:
        """Events held."""
        return sum(len(messages) for _, messages in self._held)
