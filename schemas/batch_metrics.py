"""Batch jobs in Prometheus: the trainer and the producer push their run's metrics.

They run and exit, so Prometheus cannot scrape them: at the end of each run they push to a
Pushgateway (``PUSHGATEWAY_URL``; unset: nothing pushed), which Prometheus scrapes with
``honor_labels``. Each job's metrics are defined here, in one place, as the dashboard's
"Last training run" and "Replays" panels read them.
"""

from __future__ import annotations

import logging
import socket
import time
from datetime import datetime

from prometheus_client import CollectorRegistry, Counter, Gauge, push_to_gateway
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

log = logging.getLogger(__name__)


class PushSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore")

    pushgateway_url: str | None = Field(None, description="Prometheus Pushgateway the trainer and the "
                                        "producer push their run's metrics to (unset: not pushed)")


def _push(settings: PushSettings, job: str, registry: CollectorRegistry) -> bool:
    if not settings.pushgateway_url:
        return False
    try:
        push_to_gateway(settings.pushgateway_url, job=job, registry=registry,
                        grouping_key={"instance": socket.gethostname()}, timeout=5)
    except OSError as error:  # the run's outcome does not depend on its metrics
        log.warning("metrics not pushed to %s: %s", settings.pushgateway_url, error)
        return False
    return True


def push_training(settings: PushSettings, *, success: bool, seconds: float, rows: int = 0, version: str = "",
                  holdout: dict[str, float] | None = None, announced: bool = False) -> bool:
    r = CollectorRegistry()
    Gauge("clv_training_success", "1 if the last run saved a model", registry=r).set(success)
    Gauge("clv_training_announced", "1 if the last run's model was announced on model.updates",
          registry=r).set(announced)
    Gauge("clv_training_duration_seconds", "Duration of the last run", registry=r).set(seconds)
    Gauge("clv_training_rows", "Rows the last run trained on", registry=r).set(rows)
    Gauge("clv_training_last_run_timestamp_seconds", "When the last run ended", registry=r).set(time.time())
    if version:
        Gauge("clv_training_model_info", "The version the last run saved (1)", ["version"],
              registry=r).labels(version).set(1)
    figures = Gauge("clv_training_holdout", "The last model's holdout figures", ["metric"], registry=r)
    for metric in ("mae", "rmse", "baseline_mae"):
        figures.labels(metric).set((holdout or {}).get(metric, float("nan")))
    return _push(settings, "driftstream_trainer", r)


def push_replay(settings: PushSettings, *, success: bool, seconds: float, produced: int, delivered: int,
                failed: int, malformed: int, scenario: str, order: str) -> bool:
    r = CollectorRegistry()
    Gauge("clv_replay_success", "1 if every message of the last replay was delivered",
          registry=r).set(success)
    messages = Gauge("clv_replay_messages", "Messages of the last replay", ["outcome"], registry=r)
    for outcome, count in (("produced", produced), ("delivered", delivered), ("failed", failed),
                           ("malformed", malformed)):
        messages.labels(outcome).set(count)
    Gauge("clv_replay_duration_seconds", "Duration of the last replay", registry=r).set(seconds)
    Gauge("clv_replay_last_run_timestamp_seconds", "When the last replay ended", registry=r).set(time.time())
    Gauge("clv_replay_info", "The last replay's scenario and order (1)", ["scenario", "order"],
          registry=r).labels(scenario, order).set(1)
    return _push(settings, "driftstream_producer", r)


def push_retrain(settings: PushSettings, outcomes: list, in_progress: bool) -> bool:
    """The trainer service's figures: every outcome recorded on retrain.outcomes so far (so the
    counts survive restarts), the last comparison's two MAEs, and whether it is training now."""
    r = CollectorRegistry()
    counts = Counter("clv_retrain_outcomes", "Retrain requests handled, by outcome and who asked",
                     ["outcome", "requested_by"], registry=r)
    for outcome in ("promoted", "rejected", "failed", "superseded"):
        for requester in ("person", "policy"):
            counts.labels(outcome, requester).inc(
                sum(1 for o in outcomes if o.outcome == outcome and o.requested_by == requester))
    Gauge("clv_retrain_in_progress", "1 while the trainer service trains a challenger",
          registry=r).set(in_progress)
    compared = [o for o in outcomes if o.challenger_mae is not None]
    last = compared[-1] if compared else None
    mae = Gauge("clv_retrain_mae", "The last comparison's MAE on its labelled cutoff (champion: NaN "
                "when there was none)", ["model"], registry=r)
    for model in ("champion", "challenger"):
        value = getattr(last, f"{model}_mae", None) if last else None
        mae.labels(model).set(float("nan") if value is None else value)
    Gauge("clv_retrain_last_outcome_timestamp_seconds", "When the last request was answered",
          registry=r).set(datetime.fromisoformat(outcomes[-1].finished_at).timestamp() if outcomes
                          else float("nan"))
    return _push(settings, "driftstream_retrain", r)
