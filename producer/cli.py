"""`python -m producer replay`: replay Online Retail onto Kafka, clean or drifted."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import numpy as np
import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from producer import data, scenarios
from producer.replay import replay
from producer.settings import ProducerSettings
from schemas.topics import KafkaSettings, ensure_topics

app = typer.Typer(help="Replay UCI Online Retail rows onto Kafka, clean or drifted.",
                  no_args_is_help=True, add_completion=False)
console = Console(stderr=True, soft_wrap=True)


@app.callback()
def main() -> None:
    """driftstream producer. Every flag also reads an env var (shown in brackets)."""


@app.command("replay")
def replay_command(
    data_path: Annotated[Path | None, typer.Option("--data", envvar="PRODUCER_DATA",
                         help="Online Retail file: CSV, XLSX or parquet in the UCI columns")] = None,
    download: Annotated[bool, typer.Option(help="download the UCI archive into the cache "
                                           "when no --data is given")] = False,
    cache_dir: Annotated[Path | None, typer.Option(envvar="PRODUCER_CACHE_DIR",
                         help="cache for the downloaded data set [default: ~/.cache/driftstream]")] = None,
    order: Annotated[str, typer.Option(envvar="PRODUCER_ORDER",
                                       help="time (real drift) or shuffled (stationary)")] = "shuffled",
    seed: Annotated[int, typer.Option(envvar="PRODUCER_SEED", help="seed for shuffle and drift")] = 42,
    scenario: Annotated[str, typer.Option(envvar="PRODUCER_SCENARIO",
                        help="none, scale, outliers, country-mix or gradual")] = "none",
    onset: Annotated[str, typer.Option(envvar="PRODUCER_ONSET",
                     help="drift onset: row index (270954) or fraction (0.5)")] = "0.5",
    ramp: Annotated[int, typer.Option(envvar="PRODUCER_RAMP", help="rows for gradual to reach "
                                      "full scale")] = 10_000,
    rate: Annotated[float, typer.Option(envvar="PRODUCER_RATE",
                                        help="events per second; 0 = as fast as possible")] = 0.0,
    limit: Annotated[int, typer.Option(envvar="PRODUCER_LIMIT", help="first N rows only; 0 = all")] = 0,
    malformed: Annotated[int, typer.Option(envvar="PRODUCER_MALFORMED",
                         help="malformed messages to mix in (they go to the DLQ)")] = 0,
    bootstrap: Annotated[str | None, typer.Option(envvar="KAFKA_BOOTSTRAP_SERVERS",
                         help="Kafka bootstrap servers")] = None,
    topic: Annotated[str | None, typer.Option(envvar="TRANSACTIONS_TOPIC",
                     help="topic to produce to")] = None,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
) -> None:
    """Replay rows in time or shuffled order, with a drift scenario from an onset."""
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        settings = ProducerSettings(order=order, seed=seed, scenario=scenario, onset=onset,
                                    ramp=ramp, rate=rate, limit=limit, malformed=malformed,
                                    cache_dir=cache_dir)
        frame = data.load_online_retail(data_path, settings.cache_dir, download)
        if settings.order == "shuffled":
            perm = np.random.default_rng(settings.seed).permutation(len(frame))
            frame = frame.iloc[perm].reset_index(drop=True)
        else:
            frame = frame.sort_values("InvoiceDate", kind="stable").reset_index(drop=True)
        if settings.limit:
            frame = frame.iloc[:settings.limit]
        spec = scenarios.Scenario(settings.scenario, scenarios.resolve_onset(settings.onset, len(frame)),
                                  ramp=settings.ramp)
    except (ValueError, data.DataError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    frame, onset_row = scenarios.apply(frame, spec, settings.seed)
    overrides = {k: v for k, v in (("kafka_bootstrap_servers", bootstrap),
                                   ("transactions_topic", topic)) if v}
    kafka = KafkaSettings(**overrides)
    try:
        ensure_topics(kafka, [kafka.transactions_topic])
    except Exception as error:  # confluent-kafka raises KafkaException with a code
        console.print(f"[red]error:[/red] cannot reach Kafka at {kafka.kafka_bootstrap_servers}: {error}")
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
    if result.undelivered:
        console.print(f"[red]{result.undelivered} messages were not delivered[/red]")
        raise typer.Exit(1)
