"""Training rows read back from the transactions topic, so retraining needs no file."""

from __future__ import annotations

import os
import time

import pandas as pd
from confluent_kafka import Consumer, TopicPartition

from schemas.topics import KafkaSettings
from schemas.transaction import InvalidEvent, decode_transaction
from trainer.features import TrainingDataError


def read_transactions(kafka: KafkaSettings, timeout: float = 300.0) -> pd.DataFrame:
    """Every valid row on the topic, up to the end offsets seen when reading starts."""
    topic = kafka.transactions_topic
    consumer = Consumer(kafka.librdkafka(**{"group.id": f"driftstream-trainer-{os.getpid()}",
                                            "enable.auto.commit": False}))
    try:
        meta = consumer.list_topics(topic, timeout=30).topics.get(topic)
        if meta is None or meta.error is not None:
            raise TrainingDataError(f"topic {topic} does not exist on {kafka.kafka_bootstrap_servers}")
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=30)[1]
                for p in meta.partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p, end in ends.items() if end > 0])
        done = {p for p, end in ends.items() if end == 0}
        rows = []
        deadline = time.monotonic() + timeout
        while len(done) < len(ends):
            if time.monotonic() > deadline:
                raise TrainingDataError(f"reading {topic} took longer than {timeout:.0f} s")
            for msg in consumer.consume(5_000, timeout=1.0):
                if msg.error() is not None:
                    continue
                if msg.offset() + 1 >= ends[msg.partition()]:
                    done.add(msg.partition())
                try:
                    row = decode_transaction(msg.value())
                except InvalidEvent:
                    continue
                rows.append((row.InvoiceNo, row.StockCode, row.Description, row.Quantity,
                             row.InvoiceDate, row.UnitPrice, row.CustomerID, row.Country))
    finally:
        consumer.close()
    frame = pd.DataFrame(rows, columns=["InvoiceNo", "StockCode", "Description", "Quantity",
                                        "InvoiceDate", "UnitPrice", "CustomerID", "Country"])
    if frame.empty:
        raise TrainingDataError(f"topic {topic} holds no valid transaction")
    frame["CustomerID"] = frame["CustomerID"].astype("float64")
    return frame
