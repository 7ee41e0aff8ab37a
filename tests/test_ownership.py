"""The worker's rule for events around rebalances: none of an owned partition is skipped."""

from __future__ import annotations

from detector.runtime.ownership import Ownership


def chunk(partition: int, offsets: range) -> tuple[int, list]:
    return partition, [(partition, o) for o in offsets]


def offsets(chunks: list) -> list[tuple[int, int]]:
    return [m for _, messages in chunks for m in messages]


def test_events_before_the_assignment_hook_are_processed_after_it_in_order() -> None:
    ownership = Ownership()
    ownership.assign([0])
    early = [chunk(4, range(0, 700)), chunk(5, range(0, 500)), chunk(4, range(700, 1000))]  # hook not run yet
    assert ownership.admit(early[:2]) == []
    assert offsets(ownership.admit([early[2], chunk(0, range(3))])) == [(0, 0), (0, 1), (0, 2)]
    assert ownership.held == 1500
    released = ownership.assign([0, 4, 5])
    assert offsets(released) == offsets(early)  # every one, in arrival order
    assert offsets(ownership.admit([chunk(4, range(1000, 1002))])) == [(4, 1000), (4, 1001)]
    assert ownership.held == 0


def test_events_of_a_partition_that_went_elsewhere_are_let_go() -> None:
    ownership = Ownership()
    ownership.assign([1, 2])
    ownership.revoke([1, 2])  # a batch fetched before the revocation still holds partition 2's events
    assert ownership.admit([chunk(2, range(10, 20))]) == []
    assert ownership.assign([1]) == []  # partition 2 is another worker's now: nothing of it processed
    assert ownership.held == 0
    assert ownership.admit([chunk(2, range(20, 21))]) == []


def test_a_partition_that_comes_back_continues_with_the_events_it_held() -> None:
    ownership = Ownership()
    ownership.assign([3])
    ownership.revoke([3])
    assert ownership.admit([chunk(3, range(50, 60))]) == []
    assert offsets(ownership.assign([3])) == [(3, o) for o in range(50, 60)]
