"""Detector settings: env vars prefixed DETECTOR_ (plus the shared Kafka ones).

The statistics' settings are the monitor's and the model tracker's own config models,
held here as groups: each setting is defined once, where it is used.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from detector.drift.config import MonitorConfig
from detector.model.config import ModelConfig
from detector.model.retrain_policy import RetrainConfig
from schemas.settings import GroupedSettings
from schemas.transaction import Limits


class DetectorSettings(GroupedSettings):
    model_config = SettingsConfigDict(env_prefix="DETECTOR_", extra="ignore", protected_namespaces=())

    monitor: MonitorConfig = Field(MonitorConfig(), json_schema_extra={"env_group_prefix": ""})
    model: ModelConfig = Field(ModelConfig(), json_schema_extra={"env_group_prefix": "model_"})
    retrain: RetrainConfig = Field(RetrainConfig(), json_schema_extra={"env_group_prefix": "retrain_"})
    models_dir: Path = Field(Path("models"), description="model versions and `latest` (a cache: "
                             "versions announced on model.updates are fetched from model.artifacts)")
    checkpoint_seconds: float = Field(5.0, gt=0, description="interval between state snapshots; "
                                      "offsets are committed only up to the last snapshot")
    exactly_once: bool = Field(False, description="write each checkpoint's snapshots, drift events, dead "
                               "letters and input offsets in one Kafka transaction: read_committed readers "
                               "see every output once, also after a crash (off: at least once, each drift "
                               "event's id tells repeats)")
    transaction_timeout: float = Field(30.0, ge=1, description="with DETECTOR_EXACTLY_ONCE: how long the "
                                       "broker keeps a transaction open (a killed worker's blocks "
                                       "read_committed readers of its topics that long, unless it restarts "
                                       "with the same DETECTOR_GROUP_INSTANCE_ID); more than the checkpoint "
                                       "interval plus a batch's processing")
    state_max_bytes: int = Field(64 * 1024 * 1024, ge=1024 * 1024, description="largest state "
                                 "snapshot (max.message.bytes of the state topic)")
    app_id: str = Field("driftstream-detector", description="Faust app id = consumer group")
    metrics_port: int = Field(8000, ge=0, le=65535, description="port of /metrics (0 = any free)")
    metrics_host: str = Field("0.0.0.0", description="address /metrics binds to")  # noqa: S104
    reports_dir: Path = Field(Path("reports"), description="where latest_drift_report.json goes")
    data_dir: Path = Field(Path("var/detector"), description="Faust's working directory (a cache: "
                           "partition states live on the state topic in Kafka)")
    max_message_bytes: int = Field(16_384, ge=256, description="larger messages go to the DLQ "
                                   "(reason too_large)")
    max_field_chars: int = Field(1_024, ge=16, description="messages with a longer text field go to "
                                 "the DLQ (reason field_too_long)")
    batch_size: int = Field(10_000, ge=1, description="most events per fetch (the driver's max poll "
                            "records): one batch to the pipeline")
    session_timeout: float = Field(10.0, gt=0, description="consumer group session timeout, s: how long "
                                   "a dead worker's partitions wait for a survivor, and how long a stalled "
                                   "worker keeps them (heartbeats every min(3, timeout/4) s; Apache Kafka "
                                   "accepts 6 to 1800 by default; Tansu joins take half of it: the demo "
                                   "uses 6)")
    group_instance_id: str | None = Field(None, description="static group membership: a worker restarted "
                                          "with the same id within the session timeout keeps its partitions, "
                                          "no rebalance (unique per worker)")
    log_level: str = Field("info", pattern="^(debug|info|warning|error)$",
                           description="debug, info, warning, error")

    @model_validator(mode="after")
    def _transactions_outlast_checkpoints(self) -> DetectorSettings:
        if self.exactly_once and self.transaction_timeout <= 2 * self.checkpoint_seconds:
            raise ValueError(f"DETECTOR_TRANSACTION_TIMEOUT ({self.transaction_timeout:g} s) must be "
                             f"more than twice DETECTOR_CHECKPOINT_SECONDS ({self.checkpoint_seconds:g} s): "
                             "a transaction stays open from one checkpoint to the next")
        return self

    def limits(self) -> Limits:
        return Limits(self.max_message_bytes, self.max_field_chars)
