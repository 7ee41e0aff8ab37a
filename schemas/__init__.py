"""Event contracts shared by the producer, the detector and the trainer."""

from schemas.topics import KafkaSettings
from schemas.transaction import INVALID_REASONS, InvalidEvent, Transaction, decode_transaction

__all__ = ["INVALID_REASONS", "InvalidEvent", "KafkaSettings", "Transaction", "decode_transaction"]
