"""`python -m detector`: run the drift detector worker."""

from __future__ import annotations

import logging
import sys

import typer
from pydantic import ValidationError
from rich.console import Console

from detector.runtime.settings import DetectorSettings
from schemas.settings import build, flags_from
from schemas.topics import KafkaSettings

console = Console(stderr=True, soft_wrap=True)


def load_settings(overrides: dict) -> tuple[DetectorSettings, KafkaSettings]:
    try:
        return build(DetectorSettings, overrides), build(KafkaSettings, overrides)
    except ValidationError as error:
        console.print(f"[red]invalid setting:[/red] {error}")
        raise typer.Exit(2) from None


@flags_from(DetectorSettings, KafkaSettings)
def run(**overrides: str | None) -> None:
    """Consume transactions, detect drift, serve /metrics, publish drift events.

    Every flag also reads the env var named in the table of the README (DETECTOR_*, or the
    shared KAFKA_* and *_TOPIC ones). `python -m detector report --help`: an alarm from
    drift.events as an HTML page.
    """
    settings, kafka = load_settings(overrides)
    logging.basicConfig(level=settings.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    from detector.runtime.worker import run_worker

    try:
        run_worker(settings, kafka)
    except RuntimeError as error:  # the pipeline process could not start (port in use, ...)
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None


def main() -> None:
    typer.run(run)
