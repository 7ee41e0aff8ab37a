"""Trainer settings: env vars prefixed TRAINER_ (plus the shared Kafka ones)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class TrainerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TRAINER_", extra="ignore")

    data: Path | None = Field(None, description="Online Retail file to train on (CSV, XLSX, parquet)")
    models_dir: Path = Field(Path("models"), description="versioned model directories and `latest`")
    horizon_days: int = Field(90, ge=7, le=365, description="CLV horizon H: spend over the next H days")
    from_topic: bool = Field(False, description="train on the transactions topic instead of a file")
    since: str | None = Field(None, description="train on events at or after this time (ISO)")
    until: str | None = Field(None, description="train on events before this time (ISO)")
    publish: bool = Field(True, description="announce the new version on model.updates")
    window_days: int = Field(365, ge=30, le=3650, description="the service trains on the last N days of "
                             "event time on the transactions topic (a request may ask for another)")
    promote_margin: float = Field(0.02, ge=0, lt=1, description="the service promotes a challenger only if "
                                  "its MAE is below the champion's × (1 − margin) on the same cutoff")
    group_id: str = Field("driftstream-trainer", description="the service's consumer group on "
                          "retrain.requests (one trainer per group handles each request)")
