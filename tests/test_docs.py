"""The README keeps its promises: two commands first, every env var and metric documented."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from detector.metrics import Metrics
from detector.settings import DetectorSettings
from producer.settings import ProducerSettings
from schemas.topics import KafkaSettings
from trainer.settings import TrainerSettings

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()


def test_first_lines_give_the_demo_and_test_commands() -> None:
    head = "\n".join(README.splitlines()[:6])
    assert "make demo" in head and "make test" in head
    ci = (Path(__file__).resolve().parents[1] / ".ci" / "run").read_text()
    assert "make test" in ci


def test_every_env_var_is_in_the_readme() -> None:
    for cls in (KafkaSettings, DetectorSettings, ProducerSettings, TrainerSettings):
        prefix = cls.model_config.get("env_prefix", "")
        for name in cls.model_fields:
            assert f"`{(prefix + name).upper()}`" in README, name


def test_every_metric_is_in_the_readme() -> None:
    registry = CollectorRegistry()
    Metrics(registry)
    for metric in registry.collect():
        name = metric.name + ("_total" if metric.type == "counter" else "")
        assert f"`{name}`" in README, name
