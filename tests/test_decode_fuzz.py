"""Property-based fuzzing of the decoder: whatever the bytes, a valid transaction or InvalidEvent.

A decoder that lets any other exception out is a poison pill: the message stops the stream.
"""

from __future__ import annotations

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.transaction import INVALID_REASONS, InvalidEvent, Transaction, decode_transaction

GOOD = orjson.dumps({"InvoiceNo": "536365", "StockCode": "85123A", "Description": "WHITE HEART",
                     "Quantity": 6, "InvoiceDate": "2010-12-01T08:26:00", "UnitPrice": 2.55,
                     "CustomerID": 17850, "Country": "United Kingdom"})
FIELDS = ("InvoiceNo", "StockCode", "Description", "Quantity", "InvoiceDate", "UnitPrice",
          "CustomerID", "Country")
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12)
FUZZ = settings(max_examples=1_500, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


def decodes_or_says_why(raw: bytes | None) -> None:
    try:
        row = decode_transaction(raw)
    except InvalidEvent as error:
        assert error.reason in INVALID_REASONS
    else:
        assert isinstance(row, Transaction)
        assert all("\x00" not in (getattr(row, f) or "") for f in ("InvoiceNo", "StockCode", "Country"))


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes(raw: bytes) -> None:
    decodes_or_says_why(raw)


@FUZZ
@given(st.lists(st.tuples(st.integers(0, len(GOOD) - 1), st.binary(min_size=1, max_size=3)),
                min_size=1, max_size=4))
def test_byte_mutations_of_a_valid_message(edits: list[tuple[int, bytes]]) -> None:
    raw = bytearray(GOOD)
    for where, replacement in edits:
        raw[where:where + len(replacement)] = replacement
    decodes_or_says_why(bytes(raw))


@FUZZ
@given(st.sampled_from(FIELDS), JSON_VALUES)
def test_any_json_value_in_any_field(field: str, value: object) -> None:
    row = orjson.loads(GOOD)
    row[field] = value
    try:
        raw = orjson.dumps(row)
    except (TypeError, orjson.JSONEncodeError):  # e.g. NaN keys orjson refuses to write
        return
    decodes_or_says_why(raw)


@FUZZ
@given(st.text(max_size=60))
def test_any_text_in_string_fields(text: str) -> None:
    for field in ("InvoiceNo", "StockCode", "Description", "Country", "InvoiceDate"):
        decodes_or_says_why(orjson.dumps({**orjson.loads(GOOD), field: text}))
