"""The worker's rule for events around rebalances: none of an owned partition is skipped."""

from __future__ import annotations

from types import SimpleNamespace

from detector.runtime.ownership import Ownership


def events(partition: int, offsets: range) -> list:
    return [SimpleNamespace(message=SimpleNamespace(partition=partition, offset=o)) for o in offsets]


def offsets(batch: list) -> list[tuple[int, int]]:
    return [(e.message.partition, e.message.offset) for e in batch]


def test_events_before_the_assignment_hook_are_processed_after_it_in_order() -> None:
    ownership = Ownership()
    ownership.assign([0])
    early = events(4, range(0, 1000)) + events(5, range(0, 500))  # Faust's batches, hook not run yet
    assert offsets(ownership.admit(early[:700])) == []
    assert offsets(ownership.admit(early[700:] + events(0, range(3)))) == [(0, 0), (0, 1), (0, 2)]
    assert ownership.held == 1500
    released = ownership.assign([0, 4, 5])
    assert offsets(released) == offsets(early)  # every one, in arrival order
    assert offsets(ownership.admit(events(4, range(1000, 1002)))) == [(4, 1000), (4, 1001)]
    assert ownership.held == 0


def test_events_of_a_partition_that_went_elsewhere_are_let_go() -> None:
    ownership = Ownership()
    ownership.assign([1, 2])
    ownership.revoke([1, 2])  # a batch taken before the revocation still holds partition 2's events
    assert ownership.admit(events(2, range(10, 20))) == []
    assert ownership.assign([1]) == []  # partition 2 is another worker's now: nothing of it processed
    assert ownership.held == 0
    assert ownership.admit(events(2, range(20, 21))) == []


def test_a_partition_that_comes_back_continues_with_the_events_it_held() -> None:
    ownership = Ownership()
    ownership.assign([3])
    ownership.revoke([3])
    assert ownership.admit(events(3, range(50, 60))) == []
    assert offsets(ownership.assign([3])) == [(3, o) for o in range(50, 60)]
