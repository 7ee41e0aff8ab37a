"""Producer settings: env vars prefixed PRODUCER_ (plus the shared Kafka ones)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ProducerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PRODUCER_", extra="ignore")

    data: Path | None = Field(None, description="Online Retail file: CSV, XLSX or parquet in the UCI "
                              "columns (default: the cache)")
    cache_dir: Path | None = Field(None, description="where a downloaded data set is cached "
                                   "(default: ~/.cache/driftstream)")
    order: str = Field("shuffled", pattern="^(time|shuffled)$",
                       description="time (real drift) or shuffled (stationary)")
    seed: int = Field(42, description="seed for shuffling and drift")
    scenario: str = Field("none", description="none, scale, gradual, outliers, country-mix, price, quantity, "
                          "missing-customer, new-country, cancellations, one-country, swap-prices, "
                          "country-price or customer-country")
    size: float | None = Field(None, description="the scenario's size (README, Drift scenarios); unset: "
                               "its default")
    country: str = Field("Germany", description="the country of one-country, swap-prices and "
                         "country-price")
    onset: str = Field("0.5", description="drift onset: row index (270954) or fraction (0.5)")
    ramp: int = Field(10_000, ge=1, description="rows over which gradual drift ramps in")
    rate: float = Field(0.0, ge=0, description="events/s; 0 = as fast as possible")
    passes: int = Field(1, ge=1, le=100, description="replay the data this many times (shuffled: a new "
                        "permutation each pass; time: each pass shifted forward by the data's span)")
    limit: int = Field(0, ge=0, description="replay only the first N rows; 0 = all")
    skip: int = Field(0, ge=0, description="start at this row of the order (with --limit N: rows skip to "
                      "N − 1), e.g. to write a topic in parts; the onset counts from the first row replayed")
    malformed: int = Field(0, ge=0, description="malformed messages to mix in (they go to the DLQ)")
