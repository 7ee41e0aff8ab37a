"""The transaction row: its Python type and the one function that validates raw bytes.

The JSON Schema in ``transaction.schema.json`` describes the same contract; a test keeps
the two in agreement.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Annotated

import msgspec

MAX_MAGNITUDE = 1_000_000

INVALID_REASONS = (
    "malformed_json",
    "not_object",
    "missing_field",
    "wrong_type",
    "non_finite",
    "out_of_bounds",
    "bad_timestamp",
    "empty_field",
)

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
    CustomerID: Annotated[int, msgspec.Meta(ge=0)] | None
    Country: NonEmpty

    @property
    def is_cancellation(self) -> bool:
        return self.InvoiceNo[0] == "C"


class InvalidEvent(ValueError):
    """A message that is not a valid transaction; ``reason`` is one of INVALID_REASONS."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


_decoder = msgspec.json.Decoder(Transaction)


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


def decode_transaction(raw: bytes | None) -> Transaction:
    """Turn a Kafka value into a validated Transaction or raise InvalidEvent.

    >>> decode_transaction(b'{"InvoiceNo":"536365","StockCode":"85123A","Description":null,'
    ...   b'"Quantity":6,"InvoiceDate":"2010-12-01T08:26:00","UnitPrice":2.55,'
    ...   b'"CustomerID":17850,"Country":"United Kingdom"}').Quantity
    6
    >>> try:
    ...     decode_transaction(b'{oops')
    ... except InvalidEvent as error:
    ...     print(error.reason)
    malformed_json
    """
    if raw is None:
        raise InvalidEvent("malformed_json", "empty message value")
    try:
        row = _decoder.decode(raw)
    except msgspec.ValidationError as error:
        raise InvalidEvent(_reason_for(error), str(error)) from None
    except msgspec.DecodeError as error:
        raise InvalidEvent("malformed_json", str(error)) from None
    price = row.UnitPrice
    if not math.isfinite(price):
        raise InvalidEvent("non_finite", f"UnitPrice is {price}")
    if abs(price) > MAX_MAGNITUDE:
        raise InvalidEvent("out_of_bounds", f"|UnitPrice| {price} exceeds {MAX_MAGNITUDE}")
    return row

