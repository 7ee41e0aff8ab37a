"""Detector settings: env vars prefixed DETECTOR_ (plus the shared Kafka ones)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from detector.model_monitor import ModelConfig
from detector.monitor import MonitorConfig
from schemas.transaction import Limits


class DetectorSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="DETECTOR_", extra="ignore", protected_namespaces=())

    reference_size: int = Field(20_000, ge=100,
                                description="warm-up events forming the reference (N), per partition")
    window_size: int = Field(200, ge=20, description="current window in events (W), per partition")
    panes: int = Field(4, ge=1, description="panes per window (P); evaluated as each completes")
    false_alarms_per_million: float = Field(0.1, gt=0, description="false-alarm budget, all "
                                            "features and tests together, per 1M events")
    ks_min_effect: float = Field(0.05, ge=0, lt=1, description="minimum KS D to alarm")
    categorical_min_effect: float = Field(0.10, ge=0, lt=1, description="minimum total variation "
                                          "distance for a categorical alarm")
    out_of_range_min_share: float = Field(0.01, gt=0, le=1, description="minimum share outside "
                                          "the reference range to alarm")
    adwin_delta: float = Field(1e-5, gt=0, lt=1, description="ADWIN confidence delta")
    adwin_clock: int = Field(8, ge=1, description="ADWIN checks for a change every this many updates")
    adwin_group: int = Field(1, ge=1, description="events averaged per ADWIN update (CPU vs delay)")
    models_dir: Path = Field(Path("models"), description="the trainer's model versions and `latest` "
                             "(none yet: warm-up reference, no model tracking)")
    model_step_days: float = Field(7.0, gt=0, description="event-time days between prediction cutoffs")
    model_burn_in_days: float = Field(60.0, ge=0, description="event-time history a partition needs "
                                      "before its customers are predicted")
    model_alpha: float = Field(1e-4, gt=0, lt=1, description="level of each model check per cutoff")
    model_min_effect: float = Field(0.10, ge=0, lt=1, description="minimum KS D between predictions "
                                    "and the model's holdout predictions to alarm")
    model_error_min_share: float = Field(0.01, gt=0, le=1, description="minimum share of errors "
                                         "outside the holdout errors' range to alarm")
    model_error_window: int = Field(1000, ge=10, description="scored predictions in the rolling "
                                    "MAE/RMSE")
    model_adwin_delta: float = Field(1e-9, gt=0, lt=1, description="ADWIN delta on error ranks "
                                     "(stricter than the data one: errors of a cutoff share its week)")
    checkpoint_seconds: float = Field(5.0, gt=0, description="state checkpoint interval; offsets are "
                                      "committed only up to the last checkpoint")
    app_id: str = Field("driftstream-detector", description="Faust app id = consumer group")
    metrics_port: int = Field(8000, ge=0, le=65535, description="port of /metrics (0 = any free)")
    metrics_host: str = Field("0.0.0.0", description="address /metrics binds to")  # noqa: S104
    reports_dir: Path = Field(Path("reports"), description="where latest_drift_report.json goes")
    data_dir: Path = Field(Path("var/detector"), description="Faust state directory")
    max_message_bytes: int = Field(16_384, ge=256, description="larger messages go to the DLQ "
                                   "(reason too_large)")
    max_field_chars: int = Field(1_024, ge=16, description="messages with a longer text field go to "
                                 "the DLQ (reason field_too_long)")
    batch_size: int = Field(1000, ge=1, description="events taken per batch")
    batch_seconds: float = Field(0.5, gt=0, description="max wait to fill a batch")
    session_timeout: float = Field(30.0, gt=0, description="consumer group session timeout, s "
                                   "(Tansu joins take half of it: the demo uses 6)")
    log_level: str = Field("info", description="debug, info, warning, error")

    def monitor_config(self) -> MonitorConfig:
        return MonitorConfig(
            reference_size=self.reference_size, window_size=self.window_size, panes=self.panes,
            false_alarms_per_million=self.false_alarms_per_million,
            ks_min_effect=self.ks_min_effect, categorical_min_effect=self.categorical_min_effect,
            out_of_range_min_share=self.out_of_range_min_share, adwin_delta=self.adwin_delta,
            adwin_clock=self.adwin_clock, adwin_group=self.adwin_group)

    def limits(self) -> Limits:
        return Limits(self.max_message_bytes, self.max_field_chars)

    def model_tracking(self) -> ModelConfig:
        return ModelConfig(
            step_days=self.model_step_days, burn_in_days=self.model_burn_in_days,
            alpha=self.model_alpha, min_effect=self.model_min_effect,
            error_min_share=self.model_error_min_share, error_window=self.model_error_window,
            adwin_delta=self.model_adwin_delta)
