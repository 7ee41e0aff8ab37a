"""`python -m detector report`: the page of any alarm on drift.events, rendered on demand."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import orjson
import typer
from confluent_kafka import Consumer, KafkaError, TopicPartition
from pydantic import ValidationError
from rich.console import Console

from detector.pipeline.report_page import render
from schemas import kafka as connection
from schemas.settings import build, flags_from
from schemas.topics import KafkaSettings

console = Console(stderr=True, soft_wrap=True)


def alarms(kafka: KafkaSettings, timeout: float = 60.0) -> list[dict]:
    """Every alarm on the drift events topic, oldest first (partition by partition)."""
    topic = kafka.drift_events_topic
    consumer = Consumer(kafka.librdkafka(**{"group.id": "driftstream-report", "enable.auto.commit": False,
                                            "enable.partition.eof": True}))
    try:
        meta = consumer.list_topics(topic, timeout=timeout).topics.get(topic)
        if meta is None or meta.error is not None:
            raise RuntimeError(f"topic {topic} does not exist")
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
                for p in meta.partitions}
        consumer.assign([TopicPartition(topic, p, 0) for p in ends])
        found, done, deadline = [], {p for p, end in ends.items() if end == 0}, time.monotonic() + timeout
        while len(done) < len(ends) and time.monotonic() < deadline:
            for msg in consumer.consume(1000, timeout=0.5):
                if msg.error() is not None:
                    if msg.error().code() == KafkaError._PARTITION_EOF:
                        done.add(msg.partition())
                    continue
                event = orjson.loads(msg.value())
                if event.get("kind") == "alarm":
                    found.append(event)
        return sorted(found, key=lambda e: e["emitted_at"])
    finally:
        consumer.close()


@flags_from(KafkaSettings)
def report(
    index: Annotated[int, typer.Option(help="which alarm: 0 the first, -1 the latest")] = -1,
    feature: Annotated[str | None, typer.Option(help="only alarms on this feature")] = None,
    out: Annotated[Path, typer.Option(help="where to write the page")] = Path("alarm-report.html"),
    **overrides: str | None,
) -> None:
    """Render an alarm read back from drift.events as a self-contained HTML page."""
    try:
        kafka = build(KafkaSettings, overrides)
        connection.check(kafka)
        found = [a for a in alarms(kafka) if feature is None or a["results"][0]["feature"] == feature]
    except (ValidationError, RuntimeError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    if not found:
        console.print(f"no alarm{f' on {feature}' if feature else ''} on {kafka.drift_events_topic}")
        raise typer.Exit(1)
    try:
        alarm = found[index]
    except IndexError:
        console.print(f"[red]error:[/red] {len(found)} alarms; --index {index} is not one of them")
        raise typer.Exit(2) from None
    out.write_text(render(alarm))
    first = alarm["results"][0]
    console.print(f"{out}: {first['feature']} / {first['test']} alarm of {alarm['emitted_at']} "
                  f"({len(found)} alarm(s) on {kafka.drift_events_topic})")


def main() -> None:
    app = typer.Typer(add_completion=False)
    app.command()(report)
    app(prog_name="python -m detector report")
