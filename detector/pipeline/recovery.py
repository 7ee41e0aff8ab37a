"""When processing a partition's rows fails anyway: roll back, find the row, go on.

Decoding turns every bad message into a dead letter (schemas/transaction.py); this is the
net below it. A journal keeps, per partition, the last snapshot of its state and the rows
applied since. If applying a batch raises, the state is rebuilt from the journal, the
batch is applied in halves, and halves that fail are split again down to single rows:
each row that fails alone goes to the DLQ (reason processing_error, with the error), the
rest is applied once. A crash loop on one message is impossible: it never reaches the
state, and its offset is covered like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from detector.drift.monitor import Outcome
from detector.model.tracker import ModelOutcome
from detector.pipeline.messages import Message, PartitionRows

log = logging.getLogger(__name__)


@dataclass
class Applied:
    """Rows applied to a partition's state, and what they produced."""

    rows: PartitionRows
    data: list[Outcome]
    model: list[ModelOutcome]
    events_before: int  # the state's event count before these rows
    episodes: list = field(default_factory=list)  # ("open" | "close", Episode) they caused


@dataclass
class Entry:
    snapshot: bytes | None  # None: the state was new then
    since: list[PartitionRows] = field(default_factory=list)


class Journal:
    def __init__(self) -> None:
        self._entries: dict[int, Entry] = {}

    def reset(self, partition: int, snapshot: bytes | None) -> None:
        """The partition's state is (again) exactly this snapshot."""
        self._entries[partition] = Entry(snapshot)

    def record(self, partition: int, rows: PartitionRows) -> None:
        self._entries[partition].since.append(rows)

    def forget(self, partition: int) -> None:
        self._entries.pop(partition, None)

    def entry(self, partition: int) -> Entry:
        return self._entries[partition]


def part(rows: PartitionRows, start: int, stop: int) -> PartitionRows:
    messages = rows.messages[start:stop]
    return PartitionRows(rows.rows[start:stop], rows.headers[start:stop], messages[-1].offset, messages)


def isolate(batch: PartitionRows, apply: Callable[[PartitionRows], Applied],
            rebuild: Callable[[list[Applied]], None]) -> tuple[list[Applied], list[tuple[Message, str]]]:
    """Apply ``batch`` to a state rebuilt as it was before it, in parts: the parts applied,
    and the rows that fail on their own with the error's summary."""
    applied: list[Applied] = []
    failed: list[tuple[Message, str]] = []

    def attempt(rows: PartitionRows) -> None:
        try:
            applied.append(apply(rows))
            return
        except Exception as error:  # whatever a row provokes: roll back, narrow down
            rebuild(applied)
            if len(rows.rows) == 1:
                failed.append((rows.messages[0], f"{type(error).__name__}: {error}"))
                return
        middle = len(rows.rows) // 2
        attempt(part(rows, 0, middle))
        attempt(part(rows, middle, len(rows.rows)))

    rebuild([])
    attempt(batch)
    for msg, error in failed:
        log.error("processing failed: topic=%s partition=%d offset=%d: %s", msg.topic, msg.partition,
                  msg.offset, error)
    return applied, failed

