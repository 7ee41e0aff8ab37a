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

from detector.pipeline.episode_log import severity
from detector.pipeline.report_page import render
from schemas import kafka as connection
from schemas.settings import build, flags_from
from schemas.topics import KafkaSettings

console = Console(stderr=True, soft_wrap=True)


def alarms(kafka: KafkaSettings, timeout: float = 60.0,
           kinds: tuple[str, ...] = ("alarm",)) -> list[dict]:
    """Every alarm (or event of ``kinds``) on the drift events topic, oldest first."""
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
                if event.get("kind") in kinds:
                    found.append(event)
        return sorted(found, key=lambda e: e["emitted_at"])
    finally:
        consumer.close()


def episode_alarm(events: list[dict], which: str, feature: str | None) -> tuple[dict, dict]:
    """The episode named ``which`` (an id, or "latest") and its peak alarm."""
    episodes: dict[str, dict] = {}
    for event in events:  # oldest first: a close replaces its open
        on_feature = event["kind"].startswith("episode_") and feature in (None, event["episode"]["feature"])
        if on_feature:
            episodes[event["episode"]["id"]] = event["episode"]
    if not episodes:
        raise LookupError(f"no drift episode{f' on {feature}' if feature else ''}")
    if which != "latest" and which not in episodes:
        raise LookupError(f"no episode {which!r}; the latest: {', '.join(list(episodes)[-5:])}")
    episode = episodes[which] if which != "latest" else list(episodes.values())[-1]
    partition = int(episode["id"].split("-", 1)[0])
    inside = [a for a in events if a["kind"] == "alarm" and a.get("partition") == partition
              and a["results"][0]["feature"] == episode["feature"]
              and episode["start_time"] <= (a["window"]["event_time_end"] or "") <= episode["end_time"]]
    if not inside:
        raise LookupError(f"the alarms of episode {episode['id']} are no longer on the topic")
    peak = max(inside, key=lambda a: severity(a["results"][0]["test"], a["results"][0]["statistic"],
                                              a["results"][0]["threshold"]))
    return episode, peak


@flags_from(KafkaSettings)
def report(
    index: Annotated[int, typer.Option(help="which alarm: 0 the first, -1 the latest")] = -1,
    feature: Annotated[str | None, typer.Option(help="only alarms (or episodes) on this feature")] = None,
    episode: Annotated[str | None, typer.Option(help="the page of a drift episode instead: its id (on "
                                                "drift.events and in the log), or 'latest'")] = None,
    out: Annotated[Path, typer.Option(help="where to write the page")] = Path("alarm-report.html"),
    **overrides: str | None,
) -> None:
    """Render an alarm (or a drift episode, with its peak alarm) read back from drift.events
    as a self-contained HTML page."""
    try:
        kafka = build(KafkaSettings, overrides)
        connection.check(kafka)
        kinds = ("alarm", "episode_open", "episode_close") if episode else ("alarm",)
        events = alarms(kafka, kinds=kinds)
        found = [a for a in events if a["kind"] == "alarm"
                 and (feature is None or a["results"][0]["feature"] == feature)]
        if episode:
            chosen, peak = episode_alarm(events, episode, feature)
            out.write_text(render(peak, episode=chosen))
            console.print(f"{out}: episode {chosen['id']} ({chosen['state']}, {chosen['alarms']} alarm(s)), "
                          f"its peak alarm {peak['results'][0]['test']} of {peak['emitted_at']}")
            return
    except (ValidationError, RuntimeError, LookupError) as error:
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
