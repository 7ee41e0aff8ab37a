"""The transaction row: its Python type and the one function that validates raw bytes.

The JSON Schema in ``transaction.schema.json`` describes the same contract; a test keeps
the two in agreement. Whatever the bytes, ``decode_transaction`` returns a valid
Transaction or raises InvalidEvent: no other exception can leave it, so no single message
can stop a consumer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

import msgspec

MAX_MAGNITUDE = 1_000_000
MAX_CUSTOMER_ID = 10**12
YEARS = (1900, 2200)  # event times outside [1900, 2200) are typing errors, not history

INVALID_REASONS = (
    "malformed_json",
    "invalid_utf8",
    "not_object",
    "missing_field",
    "wrong_type",
    "non_finite",
    "out_of_bounds",
    "bad_timestamp",
    "empty_field",
    "too_large",
    "field_too_long",
    "control_characters",
    "undecodable",
)
# Reasons a message lands in the DLQ: the decoder's, and a failure while processing it.
DLQ_REASONS = (*INVALID_REASONS, "processing_error")

Bounded = Annotated[int, msgspec.Meta(ge=-MAX_MAGNITUDE, le=MAX_MAGNITUDE)]
NonEmpty = Annotated[str, msgspec.Meta(min_length=1)]


class Transaction(msgspec.Struct, frozen=True):
    """One Online Retail row; field names are the UCI column names."""

    InvoiceNo: NonEmpty
    StockCode: NonEmpty
    Description: str | None
    Quantity: Bounded
    InvoiceDate: datetime
    UnitPrice: float
    CustomerID: Annotated[int, msgspec.Meta(ge=0, le=MAX_CUSTOMER_ID)] | None
    Country: NonEmpty

    @property
    def is_cancellation(self) -> bool:
        return is_cancellation(self.InvoiceNo)


CANCELLATION_PREFIX = "C"  # the UCI convention: a cancelled invoice's number starts with C


def is_cancellation(invoice: str) -> bool:
    return invoice.startswith(CANCELLATION_PREFIX)


@dataclass(frozen=True)
class Limits:
    """Size limits a message must meet (the detector's settings choose them)."""

    max_message_bytes: int = 16_384
    max_field_chars: int = 1_024

    def __post_init__(self) -> None:
        if self.max_message_bytes < 256:
            raise ValueError(f"max_message_bytes must be >= 256, not {self.max_message_bytes}")
        if self.max_field_chars < 16:
            raise ValueError(f"max_field_chars must be >= 16, not {self.max_field_chars}")


DEFAULT_LIMITS = Limits()


class InvalidEvent(ValueError):
    """A message that is not a valid transaction; ``reason`` is one of INVALID_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


_decoder = msgspec.json.Decoder(Transaction)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _reason_for(error: msgspec.ValidationError) -> str:
    text = str(error)
    if text.startswith("Object missing required field"):
        return "missing_field"
    if text.startswith("Expected `object`"):
        return "not_object"
    if "RFC3339" in text or "datetime" in text:
        return "bad_timestamp"
    if "Number out of range" in text:
        return "non_finite"
    if "length >=" in text:
        return "empty_field"
    if ">=" in text or "<=" in text:
        return "out_of_bounds"
    return "wrong_type"


def decode_transaction(raw: bytes | None, limits: Limits = DEFAULT_LIMITS) -> Transaction:
    """Turn a Kafka value into a validated Transaction or raise InvalidEvent.

    >>> decode_transaction(b'{"InvoiceNo":"536365","StockCode":"85123A","Description":null,'
    ...   b'"Quantity":6,"InvoiceDate":"2010-12-01T08:26:00","UnitPrice":2.55,'
    ...   b'"CustomerID":17850,"Country":"United Kingdom"}').Quantity
    6
    >>> for raw in (b'{oops', b'{"Country": "\\xff"}'):
    ...     try:
    ...         decode_transaction(raw)
    ...     except InvalidEvent as error:
    ...         print(error.reason)
    malformed_json
    invalid_utf8
    """
    if raw is None:
        raise InvalidEvent("malformed_json", "empty message value")
    try:
        return _decode(raw, limits)
    except InvalidEvent:
        raise
    except Exception as error:  # whatever a hostile message provokes, it is the message's fault
        raise InvalidEvent("undecodable", f"{type(error).__name__}: {error}") from None


def _decode(raw: bytes, limits: Limits) -> Transaction:
    if len(raw) > limits.max_message_bytes:
        raise InvalidEvent("too_large", f"{len(raw)} bytes > {limits.max_message_bytes}")
    try:
        row = _decoder.decode(raw)
    except msgspec.ValidationError as error:
        raise InvalidEvent(_reason_for(error), str(error)) from None
    except msgspec.DecodeError as error:
        raise InvalidEvent("malformed_json", str(error)) from None
    except UnicodeDecodeError as error:
        raise InvalidEvent("invalid_utf8", str(error)) from None
    except RecursionError:
        raise InvalidEvent("malformed_json", "nested too deeply") from None
    price = row.UnitPrice
    if not math.isfinite(price):
        raise InvalidEvent("non_finite", f"UnitPrice is {price}")
    if abs(price) > MAX_MAGNITUDE:
        raise InvalidEvent("out_of_bounds", f"|UnitPrice| {price} exceeds {MAX_MAGNITUDE}")
    if not YEARS[0] <= row.InvoiceDate.year < YEARS[1]:
        raise InvalidEvent("bad_timestamp", f"InvoiceDate {row.InvoiceDate} outside {YEARS}")
    texts = (row.InvoiceNo, row.StockCode, row.Description or "", row.Country)
    if len(raw) > limits.max_field_chars:  # only then can one field be longer
        for text in texts:
            if len(text) > limits.max_field_chars:
                raise InvalidEvent("field_too_long", f"{len(text)} characters > {limits.max_field_chars}")
    if b"\\" in raw or b"\x7f" in raw:  # raw control bytes are malformed JSON: only escapes remain
        for text in texts:
            if _CONTROL.search(text):
                raise InvalidEvent("control_characters", f"{text[:40]!r}")
    return row
