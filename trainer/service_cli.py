"""`python -m trainer serve` (the retrain service) and `python -m trainer request` (ask it)."""

from __future__ import annotations

import getpass
import socket
from typing import Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from schemas import kafka as connection
from schemas import retrain
from schemas.batch_metrics import PushSettings
from schemas.settings import build, flags_from
from schemas.topics import KafkaSettings
from trainer.settings import TrainerSettings

console = Console(stderr=True, soft_wrap=True)
app = typer.Typer(add_completion=False, no_args_is_help=True)


@app.callback()
def main() -> None:
    """The retrain loop: a service that answers retrain requests, and the command that makes one."""


def _settings(overrides: dict, *classes: type) -> list:
    try:
        return [build(cls, overrides) for cls in classes]
    except ValidationError as error:
        console.print(f"[red]invalid setting:[/red] {error}")
        raise typer.Exit(2) from None


@app.command("serve")
@flags_from(TrainerSettings, KafkaSettings, PushSettings)
def serve(
    once: Annotated[bool, typer.Option(help="answer the requests waiting now, then exit")] = False,
    **overrides: str | None,
) -> None:
    """Answer retrain requests from retrain.requests: train a challenger on the recent window of
    the transactions topic (or --data), judge it against the serving model on the latest
    labelled cutoff, promote it only if it wins by the margin, record every outcome."""
    import logging

    from trainer.service import RetrainService

    settings, kafka, push = _settings(overrides, TrainerSettings, KafkaSettings, PushSettings)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        service = RetrainService(settings, kafka, push, say=console.print)
        console.print(f"answering {kafka.retrain_requests_topic} on {kafka.kafka_bootstrap_servers} "
                      f"(models in {settings.models_dir}, margin {settings.promote_margin:.0%})")
        answered = service.run(once=once)
    except RuntimeError as error:  # KafkaUnavailable, an outcome that could not be recorded
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        raise typer.Exit(0) from None
    console.print(f"{answered} request(s) answered")


@app.command("request")
@flags_from(KafkaSettings)
def request(
    reason: Annotated[str, typer.Option(help="why retrain (recorded with the outcome)")],
    window_days: Annotated[int | None, typer.Option(help="train on the last N days of event time "
                                                    "(default: the service's TRAINER_WINDOW_DAYS)")] = None,
    force: Annotated[bool, typer.Option(help="promote even if the challenger does not beat the "
                                        "champion")] = False,
    **overrides: str | None,
) -> None:
    """Ask the trainer service to retrain; prints the request id to follow on retrain.outcomes."""
    from trainer.publish import deliver, ensure_retrain_topics, producer_for

    (kafka,) = _settings(overrides, KafkaSettings)
    try:
        made = retrain.new_request(reason, "person", f"{getpass.getuser()}@{socket.gethostname()}",
                                   window_days, force)
        connection.check(kafka)
        ensure_retrain_topics(kafka)
        deliver(producer_for(kafka), kafka.retrain_requests_topic, b"clv", retrain.encode(made))
    except retrain.InvalidRequest as error:  # an empty reason, a window out of bounds
        console.print(f"[red]invalid request:[/red] {error.detail}")
        raise typer.Exit(2) from None
    except RuntimeError as error:
        console.print(f"[red]error:[/red] {error}; nothing requested")
        raise typer.Exit(1) from None
    console.print(f"requested {made.id} on {kafka.retrain_requests_topic}")
    typer.echo(made.id)  # on stdout, for scripts
