"""Drift scenarios, data loading and the producer CLI's handling of user mistakes."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from producer import data, scenarios

ROOT = data.Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def frame(data_path) -> pd.DataFrame:
    full = data.load_online_retail(data_path)
    return full.iloc[np.random.default_rng(0).permutation(len(full))[:40_000]].reset_index(drop=True)


def test_scale_multiplies_only_after_onset(frame: pd.DataFrame) -> None:
    out, onset = scenarios.apply(frame, scenarios.Scenario("scale", 20_000), seed=1)
    pd.testing.assert_frame_equal(out.iloc[:onset], frame.iloc[:onset])
    after = frame.iloc[onset:]
    big = after["Quantity"].abs() >= 20  # rounding to integers blurs small quantities
    ratio_q = out["Quantity"].iloc[onset:][big] / after["Quantity"][big]
    assert ratio_q.between(1.5 - 0.03, 3.0 + 0.03).all()
    priced = after["UnitPrice"] >= 1
    ratio_p = out["UnitPrice"].iloc[onset:][priced] / after["UnitPrice"][priced]
    assert ratio_p.between(1.3 - 0.01, 2.5 + 0.01).all()


def test_outliers_hit_ten_percent_of_rows(frame: pd.DataFrame) -> None:
    out, onset = scenarios.apply(frame, scenarios.Scenario("outliers", 10_000), seed=2)
    hit = out["Quantity"].iloc[onset:].isin([-9999, 99999])
    assert abs(hit.mean() - 0.10) < 0.01
    assert out["UnitPrice"].iloc[onset:][hit].between(0.01, 100_000).all()
    assert not out["Quantity"].iloc[:onset].isin([-9999, 99999]).any()


def test_country_mix_brings_uk_share_to_seventy_percent(frame: pd.DataFrame) -> None:
    out, onset = scenarios.apply(frame, scenarios.Scenario("country-mix", 20_000), seed=3)
    share = (out["Country"].iloc[onset:] == "United Kingdom").mean()
    assert abs(share - 0.70) < 0.015
    assert (frame["Country"].iloc[:onset] == "United Kingdom").mean() > 0.88


def test_gradual_ramps_in_scale(frame: pd.DataFrame) -> None:
    out, onset = scenarios.apply(frame, scenarios.Scenario("gradual", 10_000, ramp=20_000), seed=4)
    before = frame["UnitPrice"].to_numpy()[onset:]
    valid = before >= 1
    price_ratio = np.divide(out["UnitPrice"].to_numpy()[onset:], before, where=valid,
                            out=np.ones_like(before))
    early = price_ratio[:2_000][valid[:2_000]].mean()
    late = price_ratio[25_000:][valid[25_000:]].mean()
    assert early < 1.1 < 1.7 < late


@pytest.mark.parametrize(("text", "rows", "expected"), [("0.5", 1000, 500), ("250", 1000, 250),
                                                         ("5000", 1000, 1000), ("0", 10, 0)])
def test_onset_as_row_or_fraction(text: str, rows: int, expected: int) -> None:
    assert scenarios.resolve_onset(text, rows) == expected


@pytest.mark.parametrize("text", ["1.5", "-3", "half"])
def test_bad_onset_is_a_clear_error(text: str) -> None:
    with pytest.raises(ValueError, match="onset"):
        scenarios.resolve_onset(text, 100)


def test_reads_csv_xlsx_and_parquet_alike(frame: pd.DataFrame, tmp_path) -> None:
    small = frame.iloc[:300]
    small.to_csv(tmp_path / "rows.csv", index=False)
    small.to_excel(tmp_path / "rows.xlsx", index=False)
    small.to_parquet(tmp_path / "rows.parquet")
    loaded = [data.load_online_retail(tmp_path / f"rows.{ext}") for ext in ("csv", "xlsx", "parquet")]
    for other in loaded:
        assert other["Quantity"].tolist() == small["Quantity"].tolist()
        assert other["Country"].tolist() == small["Country"].tolist()
        assert other["InvoiceDate"].tolist() == small["InvoiceDate"].tolist()


def test_missing_columns_are_named(tmp_path) -> None:
    pd.DataFrame({"InvoiceNo": ["1"], "Quantity": [1]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(data.DataError, match="StockCode.*Country"):
        data.load_online_retail(tmp_path / "bad.csv")


@pytest.mark.parametrize(("args", "message"), [
    (["--data", "/nonexistent/file.csv"], "does not exist"),
    (["--scenario", "tsunami"], "scenario must be one of"),
    (["--onset", "2.5"], "onset fraction"),
    (["--order", "random"], "order"),
])
def test_cli_user_mistakes_exit_2_without_traceback(data_path, args: list, message: str) -> None:
    base = ["--data", str(data_path)] if args[0] != "--data" else []
    result = subprocess.run([sys.executable, "-m", "producer", "replay", *base, *args],
                            capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 2
    assert message in " ".join(result.stderr.split())
    assert "Traceback" not in result.stderr


def test_passes_keep_event_time_increasing_and_reshuffle(data_path) -> None:
    frame = data.load_online_retail(data_path).iloc[:5_000]
    timed = data.arrange(frame, "time", seed=1, passes=3)
    assert len(timed) == 15_000 and timed["InvoiceDate"].is_monotonic_increasing
    shift = timed["InvoiceDate"].iloc[5_000] - timed["InvoiceDate"].iloc[0]
    assert shift % pd.Timedelta(weeks=1) == pd.Timedelta(0)  # whole weeks: weekdays kept
    invoices = timed["InvoiceNo"].to_numpy()
    assert (invoices[:5_000] == invoices[5_000:10_000]).all()
    shuffled = data.arrange(frame, "shuffled", seed=1, passes=2, limit=7_000)
    assert len(shuffled) == 7_000
    first, second = shuffled.iloc[:5_000], shuffled.iloc[5_000:]
    assert sorted(first["InvoiceNo"]) == sorted(frame["InvoiceNo"])  # a whole pass, reshuffled:
    reshuffled = data.arrange(frame, "shuffled", seed=2)["InvoiceNo"].tolist()
    assert second["InvoiceNo"].tolist() == reshuffled[:2_000]
    assert second["InvoiceNo"].tolist() != first["InvoiceNo"].tolist()[:2_000]


def country_share(country: str):
    return lambda out, onset: (out["Country"].iloc[onset:] == country).mean()


@pytest.mark.parametrize(("name", "size", "measure", "expected", "tolerance"), [
    ("price", 0.2, lambda out, onset: out["UnitPrice"].iloc[onset:].sum() / 1e4, None, 0.01),
    ("country-mix", 0.80, country_share("United Kingdom"), 0.80, 0.015),
    ("one-country", 0.30, country_share("Germany"), 0.30, 0.02),
    ("new-country", 0.05, country_share("Atlantis"), 0.05, 0.01),
])
def test_sized_scenarios_reach_their_size(frame: pd.DataFrame, name, size, measure, expected,
                                          tolerance) -> None:
    out, onset = scenarios.apply(frame, scenarios.Scenario(name, 10_000, size=size), seed=5)
    value = measure(out, onset)
    if expected is None:  # a factor: against the same rows undrifted
        value, expected = value / measure(frame, onset), 1 + size
    assert abs(value - expected) < tolerance
    assert out.iloc[:onset].equals(frame.iloc[:onset])  # nothing before the onset changes


def test_missing_customers_and_cancellations_move_by_their_size(frame: pd.DataFrame) -> None:
    base_missing = frame["CustomerID"].iloc[10_000:].isna().mean()
    out, onset = scenarios.apply(frame, scenarios.Scenario("missing-customer", 10_000, size=0.05), seed=6)
    assert abs(out["CustomerID"].iloc[onset:].isna().mean() - (base_missing + 0.05)) < 0.01
    base_cancelled = frame["InvoiceNo"].iloc[10_000:].str.startswith("C").mean()
    out, onset = scenarios.apply(frame, scenarios.Scenario("cancellations", 10_000, size=3), seed=7)
    cancelled = out["InvoiceNo"].iloc[onset:].str.startswith("C")
    assert abs(cancelled.mean() - 3 * base_cancelled) < 0.01
    assert (out["Quantity"].iloc[onset:][cancelled] <= 0).all()


def test_swapped_prices_keep_the_marginal(frame: pd.DataFrame) -> None:
    out, onset = scenarios.apply(frame, scenarios.Scenario("swap-prices", 0), seed=8)
    germany = out["Country"] == "Germany"
    france = frame.loc[frame["Country"] == "France", "UnitPrice"]
    assert abs(out.loc[germany, "UnitPrice"].median() - france.median()) < 0.5
    assert abs(out["UnitPrice"].median() - frame["UnitPrice"].median()) < 0.05
    with pytest.raises(ValueError, match="share in"):
        scenarios.Scenario("one-country", 0, size=1.5)
    half, _ = scenarios.apply(frame, scenarios.Scenario("swap-prices", 0, size=0.5), seed=8)
    moved = (half["UnitPrice"] != frame["UnitPrice"]) & (frame["Country"].isin(["Germany", "France"]))
    assert 0.35 < moved.sum() / frame["Country"].isin(["Germany", "France"]).sum() < 0.5


def test_one_market_repriced_and_customers_moved_between_countries(frame: pd.DataFrame) -> None:
    out, onset = scenarios.apply(frame, scenarios.Scenario("country-price", 10_000, size=1.0,
                                                           country="France"), seed=9)
    france = (frame["Country"] == "France").to_numpy() & (np.arange(len(frame)) >= onset)
    assert np.allclose(out["UnitPrice"][france], np.round(frame["UnitPrice"][france] * 2, 2))
    assert out["UnitPrice"][~france].equals(frame["UnitPrice"][~france])
    out, onset = scenarios.apply(frame, scenarios.Scenario("customer-country", 10_000, size=0.2), seed=10)
    after = frame.iloc[onset:]
    moved = out["Country"].iloc[onset:] != after["Country"]
    assert moved.any() and after["CustomerID"][moved].notna().all()
    # each moved customer has one country after the onset, and the countries were reshuffled
    assert (out.iloc[onset:][moved].groupby("CustomerID")["Country"].nunique() == 1).all()
    assert sorted(out.iloc[onset:].groupby("CustomerID")["Country"].first()) == sorted(
        after.groupby("CustomerID")["Country"].first())
