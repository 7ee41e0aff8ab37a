"""The rungs of the reading ladder: one reader of a topic, doing nothing with the events.

    --reader confluent   confluent-kafka Consumer.consume(10000) in a loop
    --reader aiokafka    aiokafka getmany(max_records=10000) in a loop (Faust's driver)
    --reader agent       a bare Faust agent: take_events(1000) from polls of 2,000, the
                         detector's Faust settings (how the worker read before its batch reader)
    --reader batch       the worker's batch reader (detector/runtime/batch_reader.py): each
                         fetch handed over whole, polls of DETECTOR_BATCH_SIZE

Each reads --expect events from the start of --topic in a fresh group --group, then writes
"<first event unix time> <last> <events> <process CPU seconds>" to --out (CPU counts
every thread since the process started) and exits.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time

from detector.runtime.settings import DetectorSettings
from schemas.topics import KafkaSettings


class Count:
    def __init__(self, expect: int, out: str) -> None:
        self.expect, self.out, self.n, self.first = expect, out, 0, 0.0

    def add(self, n: int) -> None:
        if n and not self.n:
            self.first = time.time()
        self.n += n
        if self.n >= self.expect:
            with open(self.out, "w") as out:
                out.write(f"{self.first} {time.time()} {self.n} {time.process_time()}\n")
            os._exit(0)


def confluent(topic: str, group: str, count: Count) -> None:
    from confluent_kafka import Consumer

    consumer = Consumer(KafkaSettings().librdkafka(**{"group.id": group, "auto.offset.reset": "earliest",
                                                      "enable.auto.commit": False}))
    consumer.subscribe([topic])
    while True:
        count.add(sum(1 for m in consumer.consume(10_000, timeout=1.0) if m.error() is None))


async def aiokafka_loop(topic: str, group: str, count: Count) -> None:
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=KafkaSettings().kafka_bootstrap_servers,
                                group_id=group, auto_offset_reset="earliest", enable_auto_commit=False,
                                max_poll_records=10_000)
    await consumer.start()
    while True:
        records = await consumer.getmany(timeout_ms=1000, max_records=10_000)
        count.add(sum(len(batch) for batch in records.values()))


def faust_reader(topic: str, group: str, count: Count, batch: bool) -> None:
    import faust

    from detector.runtime.app import faust_app
    from detector.runtime.batch_reader import BatchApp

    settings = DetectorSettings(data_dir=tempfile.mkdtemp(prefix="reader-"))
    if batch:
        app = faust_app(group, settings, KafkaSettings(), app_class=BatchApp)

        async def on_fetch(records) -> None:
            count.add(sum(len(b) for b in records.values()))

        app.read(app.topic(topic), on_fetch)
    else:
        app = faust_app(group, settings, KafkaSettings(), max_poll_records=2_000)

        @app.agent(app.topic(topic))
        async def bare(stream):
            async for events in stream.take_events(1_000, within=0.5):
                count.add(len(events))

    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--reader", choices=["confluent", "aiokafka", "agent", "batch"], required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--out", required=True, help="file to write the result line to")
    args = parser.parse_args()
    count = Count(args.expect, args.out)
    if args.reader == "confluent":
        confluent(args.topic, args.group, count)
    elif args.reader == "aiokafka":
        asyncio.run(aiokafka_loop(args.topic, args.group, count))
    else:
        faust_reader(args.topic, args.group, count, batch=args.reader == "batch")


if __name__ == "__main__":
    main()
