"""`python -m producer replay`: replay Online Retail onto Kafka, clean or drifted."""

from __future__ import annotations

import logging
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from producer import data, scenarios
from producer.replay import replay
from producer.settings import ProducerSettings
from schemas import kafka as connection
from schemas.batch_metrics import PushSettings, push_replay
from schemas.settings import build, flags_from
from schemas.topics import KafkaSettings, ensure_topics

app = typer.Typer(help="Replay UCI Online Retail rows onto Kafka, clean or drifted.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True, soft_wrap=True)


@app.callback()
def main() -> None:
    """driftstream producer. Every flag also reads an env var (shown in brackets)."""


@app.command("replay")
@flags_from(ProducerSettings, KafkaSettings, PushSettings)
def replay_command(
    download: Annotated[bool, typer.Option(help="download the UCI archive into the cache "
                                           "when no --data is given")] = False,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    **overrides: str | None,
) -> None:
    """Replay rows in time or shuffled order, with a drift scenario from an onset."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings, kafka = build(ProducerSettings, overrides), build(KafkaSettings, overrides)
        push = build(PushSettings, overrides)
        frame = data.arrange(data.load_online_retail(settings.data, settings.cache_dir, download),
                             settings.order, settings.seed, settings.passes, settings.limit,
                             settings.skip)
        spec = scenarios.Scenario(settings.scenario, scenarios.resolve_onset(settings.onset, len(frame)),
                                  ramp=settings.ramp, size=settings.size, country=settings.country)
    except (ValueError, data.DataError) as error:  # pydantic's ValidationError is a ValueError
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    frame, onset_row = scenarios.apply(frame, spec, settings.seed)
    try:
        connection.check(kafka)
        ensure_topics(kafka, [kafka.transactions_topic])
    except RuntimeError as error:  # KafkaUnavailable, or topics that cannot be created
        console.print(f"[red]error:[/red] {error}; nothing produced")
        raise typer.Exit(1) from None
    total = len(frame) + settings.malformed
    with Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=console, disable=not progress) as bar:
        task = bar.add_task("replay", total=total)
        result = replay(frame, kafka, scenario=spec.name, onset=onset_row, rate=settings.rate,
                        malformed=settings.malformed, seed=settings.seed,
                        on_progress=lambda n: bar.advance(task, n))
    console.print(
        f"replay {result.replay_id}: {result.produced} produced ({result.malformed} malformed), "
        f"{result.delivered} delivered, {result.failed} failed, scenario={spec.name} "
        f"onset={onset_row}, {result.seconds:.1f} s ({result.produced / max(result.seconds, 1e-9):,.0f}/s)")
    push_replay(push, success=not result.undelivered, seconds=result.seconds, produced=result.produced,
                delivered=result.delivered, failed=result.failed, malformed=result.malformed,
                scenario=spec.name, order=settings.order)
    if result.undelivered:
        console.print(f"[red]{result.undelivered} messages were not delivered[/red]")
        raise typer.Exit(1)
