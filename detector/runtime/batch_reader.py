"""Faust's consumer, read a fetch at a time instead of an event at a time.

Faust's fetcher turns every record into a Faust message, tracks it for acks and awaits
one callback per event (a task per `wait_first`), then the conductor and the agent's
stream pass it through queues one by one: 35–44 times slower than the aiokafka driver
under it (bench/RESULTS.md, the reading ladder). `BatchConsumer` keeps everything else of
Faust's consumer — group membership, rebalance hooks, pause/resume, seeks, flow control,
the consumer thread — and replaces only that loop: each fetch (aiokafka's records by
partition) goes to one handler as it is.

Nothing is acked to Faust, so Faust commits nothing: the worker commits, itself, the
offsets its saved snapshots cover (runtime/app.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping

import faust
from faust.transport.drivers import aiokafka as faust_aiokafka
from faust.types import TP

Fetch = Mapping[TP, list]  # aiokafka ConsumerRecords by topic partition, in offset order


class BatchConsumer(faust_aiokafka.Consumer):
    on_fetch: Callable[[Fetch], Awaitable[None]] | None = None

    async def _drain_messages(self, fetcher) -> None:  # the Fetcher service's loop
        consumer_stopped, fetcher_stopped = self._stopped.is_set, fetcher._stopped.is_set
        try:
            while not (consumer_stopped() or fetcher_stopped()):
                # Waits while the flow is stopped (a rebalance) and fetches active partitions only.
                records, _ = await self._wait_next_records(1.0)
                if records and not self.should_stop and self.on_fetch is not None:
                    # Also a fetch that ends as the flow stops: the handler holds the events of
                    # partitions not owned (runtime/ownership.py); none is dropped, none skipped.
                    # Shielded: a stop that cancels this loop lets the batch in hand finish (the
                    # pipeline process is mid-answer), and the shutdown hook saves it after.
                    await asyncio.shield(self.on_fetch(records))
                else:
                    await asyncio.sleep(0)
        except (asyncio.CancelledError, *self.consumer_stopped_errors):
            if self.transport.app.should_stop:
                return
            raise


class BatchApp(faust.App):
    """A Faust app whose consumer reads in batches (the worker sets ``consumer.on_fetch``)."""

    def _new_transport(self):
        transport = super()._new_transport()
        if not isinstance(transport, faust_aiokafka.Transport):
            raise ValueError("the batch reader runs on Faust's kafka:// (aiokafka) driver")
        transport.Consumer = BatchConsumer
        return transport

    def read(self, topic: faust.types.TopicT, on_fetch: Callable[[Fetch], Awaitable[None]]) -> None:
        """Subscribe to ``topic`` (no agent) and hand each fetch to ``on_fetch``."""
        self.topics.add(topic)
        self._on_fetch = on_fetch
        if self._consumer is not None:
            self._consumer.on_fetch = on_fetch

    def _new_consumer(self):
        consumer = super()._new_consumer()
        consumer.on_fetch = getattr(self, "_on_fetch", None)
        return consumer
