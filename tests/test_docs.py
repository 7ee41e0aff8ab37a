"""The README keeps its promises: two commands first, every env var and metric documented."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from detector.metrics import Metrics
from detector.runtime.settings import DetectorSettings
from producer.settings import ProducerSettings
from schemas.batch_metrics import PushSettings
from schemas.settings import settings_of, shown_default
from schemas.topics import KafkaSettings
from trainer.settings import TrainerSettings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_first_lines_give_the_demo_and_test_commands() -> None:
    head = "\n".join(README.splitlines()[:6])
    assert "make demo" in head and "make test" in head
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "make test" in ci


def readme_settings() -> dict[str, tuple[str, str]]:
    """The Configuration table: env var → (default, meaning)."""
    table = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    rows = [line.split(" | ") for line in table.splitlines() if line.startswith("| `")]
    return {env.strip("| `"): (default.strip("`"), meaning.rstrip(" |")) for env, default, meaning in rows}


def test_the_readme_table_is_the_settings() -> None:
    """Every setting once, with its default and help: the same as the settings classes."""
    table = readme_settings()
    classes = (KafkaSettings, PushSettings, DetectorSettings, ProducerSettings, TrainerSettings)
    settings = [s for cls in classes for s in settings_of(cls)]
    assert sorted(table) == sorted(s.env for s in settings)
    for s in settings:
        default, meaning = table[s.env]
        assert meaning == s.field.description, s.env
        assert default == (shown_default(s.field) or "—"), s.env


def test_every_metric_is_in_the_readme() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    for metric in registry.collect():
        name = metric.name + ("_total" if metric.type == "counter" else "")
        assert f"`{name}`" in README, name
