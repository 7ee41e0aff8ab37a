"""A classical anchor for the CLV model: BG/NBD with Gamma-Gamma (pymc-marketing) beside the
trainer's models, on the trainer's own holdout cutoff and horizon.

For each H the trainer fits on the rows before --train-until (its candidates' holdout MAE,
the naive baseline); BG/NBD and Gamma-Gamma are fitted (MAP) on every invoice before the same
holdout cutoff and predict each of the same customers' spend over the next H days: expected
purchases × expected spend per purchase. MAE against the same target (net spend, floored at 0),
and the paired difference against the served model's errors on the same customers with a
bootstrap 95 % interval (over customers).

Runs in the benchmark environment (pymc-marketing is never a runtime dependency):

    make clv-env && .venv-clv/bin/python bench/clv_anchor.py
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from producer import data  # noqa: E402
from trainer.features import customer_features, line_totals, target  # noqa: E402
from trainer.train import cutoffs, fit  # noqa: E402


def bgnbd_gamma_gamma(rows: pd.DataFrame, cut: pd.Timestamp, horizon: int, customers: pd.Index) -> np.ndarray:
    """Each customer's expected spend over [cut, cut + H) from BG/NBD and Gamma-Gamma."""
    from pymc_marketing.clv import BetaGeoModel, GammaGammaModel
    from pymc_marketing.clv.utils import rfm_summary

    past = rows[rows["InvoiceDate"] < cut]
    invoices = past.groupby(["CustomerID", "InvoiceNo"], as_index=False).agg(
        date=("InvoiceDate", "min"), value=("total", "sum"))
    invoices = invoices[invoices["value"] > 0]  # purchases: cancellations are not repeat visits
    rfm = rfm_summary(invoices, "CustomerID", "date", "value", observation_period_end=cut, time_unit="D")
    rfm = rfm.rename(columns={"CustomerID": "customer_id"})
    purchases = BetaGeoModel(data=rfm)
    purchases.fit(fit_method="map")
    expected = purchases.expected_purchases(data=rfm, future_t=horizon).mean(("chain", "draw")).values
    repeat = rfm[(rfm["frequency"] > 0) & (rfm["monetary_value"] > 0)]
    spend = GammaGammaModel(data=repeat)
    spend.fit(fit_method="map")
    per_purchase = spend.expected_customer_spend(data=rfm.assign(
        monetary_value=rfm["monetary_value"].clip(lower=0))).mean(("chain", "draw")).values
    predicted = pd.Series(expected * per_purchase, index=rfm["customer_id"].to_numpy())
    return predicted.reindex(customers).fillna(0.0).clip(lower=0).to_numpy()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/online_retail.parquet"))
    parser.add_argument("--runs", default="14:2011-06-01,90:2011-09-01",
                        help="H:train-until pairs (the model-health benchmarks' models)")
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    frame = data.load_online_retail(args.data)
    print("| H | trained before | holdout cutoff | customers | HistGradientBoosting (served) | ridge | "
          "median HGB | naive (last H days) | BG/NBD + Gamma-Gamma | BG/NBD − served, paired [95 % CI] |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for run in args.runs.split(","):
        h, until = int(run.split(":")[0]), pd.Timestamp(run.split(":")[1])
        window = frame[frame["InvoiceDate"] < until].reset_index(drop=True)
        trained = fit(window, h)
        rows = line_totals(window)
        _, cut = cutoffs(rows["InvoiceDate"].min(), rows["InvoiceDate"].max(), h)
        assert f"{cut:%Y-%m-%d}" == trained.test_cutoff
        x = customer_features(rows, cut, h)
        y = target(rows, x.index, cut, h).to_numpy()
        classical_errors = np.abs(bgnbd_gamma_gamma(rows, cut, h, x.index) - y)
        classical = float(classical_errors.mean())
        served_errors = np.abs(trained.holdout_predictions - y)
        assert abs(served_errors.mean() - trained.holdout["mae"]) < 1e-6
        diff = classical_errors - served_errors  # paired, per customer; bootstrap over customers
        rng = np.random.default_rng(0)
        means = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(2000)]
        low, high = np.percentile(means, [2.5, 97.5])
        hd = trained.holdout
        print(f"| {h} | {until:%Y-%m-%d} | {cut:%Y-%m-%d} | {len(y):,} | {hd['mae']:.1f} ({trained.name}) | "
              f"{hd['mae_ridge']:.1f} | {hd['mae_hist_gradient_boosting']:.1f} | {hd['baseline_mae']:.1f} | "
              f"{classical:.1f} | {diff.mean():+.1f} [{low:+.1f}, {high:+.1f}] |", flush=True)


if __name__ == "__main__":
    main()
