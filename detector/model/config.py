"""The model tracker's settings (DETECTOR_MODEL_<NAME>), apart from the tracker: the Faust
process reads them without importing the model's libraries."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# The error checks whose streak of cutoffs above the margin is an impact (detector/model/health.py)
IMPACT_SIGNALS = ("estimated", "spend_level", "so_far", "realised")
LABEL_FREE_SIGNALS = ("estimated", "spend_level")  # judged at their cutoff, before any label


class ModelConfig(BaseModel):
    """Model tracking (env DETECTOR_MODEL_<NAME>)."""

    model_config = ConfigDict(frozen=True)

    step_days: float = Field(7.0, gt=0, description="event-time days between prediction cutoffs")
    burn_in_days: float = Field(60.0, ge=0, description="event-time history a partition needs "
                                "before its customers are predicted")
    alpha: float = Field(1e-4, gt=0, lt=1, description="false-alarm level per cutoff of the model's "
                         "statistical tests together (KS on predictions, like-for-like KS, error range)")
    min_effect: float = Field(0.10, ge=0, lt=1, description="minimum KS D between predictions and "
                              "the model's holdout predictions to alarm")
    error_min_share: float = Field(0.01, gt=0, le=1, description="minimum share of errors outside "
                                   "the holdout errors' range to alarm")
    error_window: int = Field(1000, ge=10, description="scored predictions in the rolling MAE/RMSE")
    adwin_delta: float = Field(1e-9, gt=0, lt=1, description="ADWIN delta on error ranks (stricter "
                               "than the data one: errors of a cutoff share its week)")
    impact_margin: float = Field(0.25, gt=0, description="material impact: estimated, at the spend "
                                 "level seen, so far or realised MAE (each its band's low end) above the "
                                 "holdout's by this share")
    so_far_step_days: float = Field(1.0, gt=0, description="event-time days between looks at the "
                                    "error the days since each pending cutoff already show")
    impact_cutoffs: int = Field(1, ge=1, description="consecutive cutoffs above the margin before the "
                                "impact is material (the ModelErrorUp page)")
