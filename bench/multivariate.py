"""Tests over all features jointly, offline: can any see the relation scenarios?

Three designs for issue 21's "one check on the joint distribution", each on one partition's
stream (a third of the shuffled rows, as librdkafka splits them), its reference the first
--reference events, evaluated over a sliding window of --window events every tenth of it,
calibrated to driftstream's per-test level (--alpha):

- ``pca``: NannyML's data-reconstruction error. Features standardised on the reference
  (signed log quantity, log price, cancellation, missing customer, one-hot top 6 countries),
  PCA keeping 65 % of the variance; exact two-sample KS of the window's errors against the
  reference's (asymptotic p-value).
- ``classifier``: a binned domain classifier. Cells country (top 6, other) × quantity bin
  (≤ 0, 5 quantiles) × price bin (≤ 0, --bins quantiles); log-odds of window against
  reference per cell learnt on the even rows, odd rows scored, Mann–Whitney U of the window's
  scores against the reference's (held out: exact under no drift whatever was learnt).
- ``pairs``: every two-way histogram (country × price, country × quantity, quantity × price),
  Fisher's exact test per cell (driftstream's categorical test), α split over the three.

Prints, per scenario, the first window after the onset each design alarms on (events of the
partition since the onset) and, before it, how close the null came (1 = an alarm).

    python bench/multivariate.py --scenarios none,swap-prices,country-price,customer-country
    python bench/multivariate.py --scenarios country-price --size 3   # a larger effect
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from detector.drift.checks.categorical import CategoricalCheck  # noqa: E402
from producer import data, scenarios  # noqa: E402
from producer.replay import partitions_of  # noqa: E402
from schemas.features import from_frame  # noqa: E402

TOP = 6


def country_codes(cols: dict, reference: dict) -> tuple[np.ndarray, int]:
    top = [c for c, _ in Counter(reference["country"].tolist()).most_common(TOP)]
    codes = np.full(len(cols["country"]), len(top))
    for i, c in enumerate(top):
        codes[cols["country"] == c] = i
    return codes, len(top) + 1


def bins(values: np.ndarray, reference: np.ndarray, count: int) -> tuple[np.ndarray, int]:
    """Bin 0: ≤ 0; then ``count`` quantile bins of the reference's positive values."""
    edges = np.unique(np.quantile(reference[reference > 0], np.linspace(0, 1, count + 1)[1:-1]))
    return np.where(values <= 0, 0, 1 + np.searchsorted(edges, values, side="right")), edges.size + 2


def pca_errors(cols: dict, n: int, countries: np.ndarray, k: int) -> np.ndarray:
    q, p = cols["quantity"], cols["unit_price"]
    x = np.column_stack([np.sign(q) * np.log1p(np.abs(q)), np.log1p(np.maximum(p, 0)),
                         cols["cancellation"], cols["customer_missing"],
                         *(countries == i for i in range(k - 1))]).astype(np.float64)
    mean, sd = x[:n].mean(0), x[:n].std(0) + 1e-9
    z = (x - mean) / sd
    _, s, vt = np.linalg.svd(z[:n], full_matrices=False)
    kept = vt[:int(np.searchsorted(np.cumsum(s ** 2) / np.sum(s ** 2), 0.65) + 1)].T
    return np.sqrt(((z - z @ kept @ kept.T) ** 2).sum(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data" /
                        "online_retail.parquet")
    parser.add_argument("--scenarios", default="none,swap-prices,country-price,customer-country")
    parser.add_argument("--size", type=float, default=None, help="every scenario's size (default: its own)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--onset", type=int, default=100_000)
    parser.add_argument("--reference", type=int, default=20_000)
    parser.add_argument("--window", type=int, default=10_000)
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--alpha", type=float, default=2.8e-7)
    args = parser.parse_args()
    frame = data.load_online_retail(args.data)
    shuffled = frame.iloc[np.random.default_rng(args.seed).permutation(len(frame))[:args.rows]]
    shuffled = shuffled.reset_index(drop=True)
    n, w, step = args.reference, args.window, args.window // 10
    for name in args.scenarios.split(","):
        onset_at = args.rows if name == "none" else args.onset
        drifted, onset = scenarios.apply(shuffled, scenarios.Scenario(name, onset_at, size=args.size),
                                          args.seed)
        mine = partitions_of(drifted, 3) == 0
        onset = int(mine[:onset].sum())
        cols = from_frame(drifted[mine].reset_index(drop=True))
        ref = {k: v[:n] for k, v in cols.items()}
        countries, k = country_codes(cols, ref)
        qb, nq = bins(cols["quantity"], ref["quantity"], 5)
        pb, nb = bins(cols["unit_price"], ref["unit_price"], args.bins)
        errors = pca_errors(cols, n, countries, k)
        ref_errors = np.sort(errors[:n])
        cells, size = (countries * nq + qb) * nb + pb, k * nq * nb
        learnt_ref, held_ref = cells[:n:2], cells[1:n:2]
        ref_counts = np.bincount(learnt_ref, minlength=size)
        pairs = {"country×price": countries * nb + pb, "country×quantity": countries * nq + qb,
                 "quantity×price": qb * nb + pb}
        pair_checks = {p: CategoricalCheck(p, Counter(v[:n].tolist()), w, args.alpha / 3, 0.0,
                                           unseen_cell=True) for p, v in pairs.items()}
        first: dict[str, int] = {}
        closest = dict.fromkeys(("pca", "classifier", "pairs"), 0.0)
        log_alpha = -np.log10(args.alpha)
        for end in range(n + w, len(cells) + 1, step):
            window = slice(end - w, end)
            p_pca = stats.ks_2samp(errors[window], ref_errors, method="asymp").pvalue
            learnt, held = cells[window][::2], cells[window][1::2]
            odds = (np.log((np.bincount(learnt, minlength=size) + 0.5) / (learnt.size + 0.5 * size))
                    - np.log((ref_counts + 0.5) / (learnt_ref.size + 0.5 * size)))
            p_dc = stats.mannwhitneyu(odds[held], odds[held_ref], alternative="greater").pvalue
            pair_score = max(pair_checks[p].evaluate(v[window].tolist()).statistic for p, v in pairs.items())
            scores = {"pca": -np.log10(max(p_pca, 1e-300)) / log_alpha,
                      "classifier": -np.log10(max(p_dc, 1e-300)) / log_alpha, "pairs": pair_score}
            for design, score in scores.items():
                if end <= onset:
                    closest[design] = max(closest[design], float(score))
                elif score >= 1 and design not in first:
                    first[design] = end - onset
        print(f"{name}: partition 0, {len(cells):,} events, onset at {onset:,}; closest before the onset "
              f"{ {d: round(s, 3) for d, s in closest.items()} }; first alarm after it "
              f"{ {d: first.get(d) for d in closest} }", flush=True)


if __name__ == "__main__":
    main()
