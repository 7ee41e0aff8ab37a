"""Raw Kafka messages in, valid rows and dead letters out: a pure function of the batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from schemas import topics
from schemas.transaction import InvalidEvent, Limits, Transaction, decode_transaction


class Message(NamedTuple):
    key: bytes | None
    value: bytes | None
    headers: object
    topic: str
    partition: int
    offset: int


class DeadLetter(NamedTuple):
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, bytes]]
    reason: str


@dataclass
class PartitionRows:
    rows: list[Transaction] = field(default_factory=list)
    headers: list[object] = field(default_factory=list)  # replay metadata, for evaluation only
    last_offset: int = -1  # of every message taken, valid or not
    messages: list[Message] = field(default_factory=list)  # each row's message, as it came


@dataclass
class DecodedBatch:
    partitions: dict[int, PartitionRows] = field(default_factory=dict)
    dead_letters: list[tuple[Message, DeadLetter]] = field(default_factory=list)


def dead_letter(msg: Message, reason: str, detail: str) -> DeadLetter:
    """The message as it came, with why it was rejected and where it came from."""
    value, headers = topics.dead_letter(msg.value, reason, detail, msg.topic, msg.partition, msg.offset)
    return DeadLetter(msg.key, value, headers, reason)


def decode_batch(messages: list[Message], limits: Limits, seen: dict[int, int]) -> DecodedBatch:
    """Valid rows per partition and dead letters, skipping every message at or below the
    last offset taken (``seen``: what the state already holds, per partition): redeliveries
    after a restart or a rebalance, also within one batch."""
    out = DecodedBatch()
    for msg in messages:
        part = out.partitions.get(msg.partition)
        if msg.offset <= (seen.get(msg.partition, -1) if part is None else part.last_offset):
            continue
        if part is None:
            part = out.partitions[msg.partition] = PartitionRows()
        part.last_offset = msg.offset
        try:
            part.rows.append(decode_transaction(msg.value, limits))
        except InvalidEvent as error:
            out.dead_letters.append((msg, dead_letter(msg, error.reason, error.detail)))
            continue
        part.headers.append(msg.headers)
        part.messages.append(msg)
    return out
