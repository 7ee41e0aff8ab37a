"""`python -m trainer`: train the CLV model and save it with the detector's reference profile."""

from __future__ import annotations

import time

import orjson
import typer
from pydantic import ValidationError
from rich.console import Console

from producer import data
from schemas import artifacts
from schemas import kafka as connection
from schemas.batch_metrics import PushSettings, push_training
from schemas.settings import build, flags_from
from schemas.topics import KafkaSettings
from trainer import versions
from trainer.features import TrainingDataError, select_window
from trainer.publish import publish
from trainer.settings import TrainerSettings
from trainer.train import fit

console = Console(stderr=True, soft_wrap=True)


EXIT_BAD_INPUT = 2  # settings or data unusable: nothing trained
EXIT_NOT_ANNOUNCED = 3  # trained and saved, but the announcement did not reach Kafka


@flags_from(TrainerSettings, KafkaSettings, PushSettings)
def run(**overrides: str | None) -> None:
    """Train on a file (or a time range of it), save a new model version, announce it.

    Exit codes: 0 saved (and announced, unless --publish false); 2 bad settings or data, or
    the topic to train from unreachable: nothing trained; 3 saved but not announced (Kafka
    unreachable: announce it by training again, or copy the version directory where the
    detectors read models).
    """
    started = time.monotonic()
    try:
        settings, kafka = build(TrainerSettings, overrides), build(KafkaSettings, overrides)
        push = build(PushSettings, overrides)
    except ValidationError as error:
        console.print(f"[red]invalid setting:[/red] {error}")
        raise typer.Exit(EXIT_BAD_INPUT) from None
    try:
        if settings.from_topic:
            from trainer.topic_source import read_transactions

            console.print(f"reading {kafka.transactions_topic} from {kafka.kafka_bootstrap_servers}")
            connection.check(kafka)
            frame = read_transactions(kafka)
        else:
            console.print(f"loading {settings.data or 'the cached data set'}")
            frame = data.load_online_retail(settings.data)
        frame = select_window(frame, settings.since, settings.until)
        trained = fit(frame, settings.horizon_days, progress=lambda m: console.print(f"• {m}"))
    except (data.DataError, TrainingDataError, ValueError, connection.KafkaUnavailable) as error:
        console.print(f"[red]error:[/red] {error}")
        push_training(push, success=False, seconds=time.monotonic() - started)
        raise typer.Exit(EXIT_BAD_INPUT) from None
    source = f"topic {kafka.transactions_topic}" if settings.from_topic else str(settings.data)
    version, path = versions.save(settings.models_dir, trained, frame, settings.horizon_days, source)
    h = trained.holdout
    console.print(f"model {version} ({trained.name}) in {path}: holdout MAE {h['mae']:.1f} vs naive "
                  f"{h['baseline_mae']:.1f}, RMSE {h['rmse']:.1f}, R² {h['r2']:.3f}")
    announced, code = False, 0
    if settings.publish:
        try:
            connection.check(kafka)
            publish(kafka, orjson.loads((path / artifacts.METADATA).read_bytes()), path)
            announced = True
            console.print(f"announced on {kafka.model_updates_topic}")
        except RuntimeError as error:  # KafkaUnavailable, or an undelivered announcement
            console.print(f"[yellow]saved, but not announced on {kafka.model_updates_topic}: "
                          f"{error}[/yellow]")
            code = EXIT_NOT_ANNOUNCED
    push_training(push, success=True, seconds=time.monotonic() - started, rows=len(frame), version=version,
                  holdout=h, announced=announced)
    if code:
        raise typer.Exit(code)


def main() -> None:
    typer.run(run)
