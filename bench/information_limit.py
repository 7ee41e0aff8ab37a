"""How small a change any detector could catch within 2,000 events: the information limit.

Where driftstream ties its best peer on the power curves (bench/peers.py; bench/RESULTS.md),
this looks at the next size down, on the same streams (the shuffled year, seed 42: the first
20,000 rows the reference, the onset at row 30,000), through a detector that is told in
advance which cell moves and which way — no real detector knows that, so these bounds are
generous:

- fixed window: Fisher's exact one-sided test of that cell's count in the 2,000 events after
  the onset against the reference's. Caught at driftstream's level if p < α per test (its
  0.1 false alarms per 1M events, split as DriftMonitor does); caught at the calibrated level
  if p is below the smallest p-value the same test gives on the clean stream (every 2,000-event
  window, a step of 200): the level the calibrated peers are held to, no alarm on the clean year;
- sequential: the optimal detector for exactly this change (CUSUM) needs about
  log(ARL0) / KL(p1 ‖ p0) events on average (Lorden), at ARL0 = 1e7 events (0.1 false alarms
  per 1M) and at the clean stream's length (no alarm on it);
- outliers: the position of the first outlier row after the onset; nothing alarms before it.

    python bench/information_limit.py
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.stats import hypergeom

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench"), str(ROOT / "bench" / "peer_tools")]

from peers import ONSET, POWER_AFTER, REFERENCE, build  # noqa: E402

from detector.drift.monitor import MonitorConfig  # noqa: E402

CELLS = {  # scenario: (feature, the cell that moves, sizes to look at)
    "cancellations": ("cancellation", True, (1.5, 2.0, 3.0)),
    "missing-customer": ("customer_missing", True, (0.02, 0.05)),
    "one-country": ("country", "Germany", (0.03, 0.05)),
}
STEP = 200


def fisher_up(ref_hits: int, ref_n: int, hits: np.ndarray, n: int) -> np.ndarray:
    """One-sided p-value of ``hits`` of ``n`` being more than the reference's share (Fisher)."""
    return hypergeom.sf(hits - 1, ref_n + n, ref_hits + hits, n)


def kl(p1: float, p0: float) -> float:
    return p1 * np.log(p1 / p0) + (1 - p1) * np.log((1 - p1) / (1 - p0))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path,
                        default=ROOT.parent / "shared" / "data" / "online_retail.parquet")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench" / "information_limit")
    args = parser.parse_args()
    streams = {s.name: s for s in build(args.data, args.work / "streams", args.seed)}
    clean = streams["clean"]
    alpha = MonitorConfig().alpha
    w = POWER_AFTER
    print(f"α per test {alpha:.3g}; clean stream {clean.length - REFERENCE:,} events after the reference\n")
    print("| scenario | size | cell share: reference → after onset | Fisher p at 2,000 | caught at α | "
          "caught calibrated (clean min p) | CUSUM events, ARL0 1e7 | CUSUM events, ARL0 clean |")
    print("|---|---|---|---|---|---|---|---|")
    for scenario, (feature, value, sizes) in CELLS.items():
        ref_hits = int(np.sum(clean.cols[feature][:REFERENCE] == value))
        hits = np.cumsum(np.concatenate([[0], clean.cols[feature][REFERENCE:] == value]))
        starts = np.arange(0, hits.size - 1 - w, STEP)
        clean_min = float(fisher_up(ref_hits, REFERENCE, hits[starts + w] - hits[starts], w).min())
        p0 = ref_hits / REFERENCE
        for size in sizes:
            s = streams[f"{scenario}@{size:g}"]
            after = int(np.sum(s.cols[feature][ONSET:ONSET + w] == value))
            p = float(fisher_up(ref_hits, REFERENCE, np.array([after]), w)[0])
            p1 = after / w
            info = kl(p1, p0) if p1 > p0 else 0.0
            arl = [f"{np.log(a) / info:,.0f}" if info else "never" for a in (1e7, clean.length - REFERENCE)]
            print(f"| {scenario} | {size:g} | {p0:.4f} → {p1:.4f} | {p:.2g} | "
                  f"{'yes' if p < alpha else 'no'} | {'yes' if p < clean_min else 'no'} ({clean_min:.2g}) | "
                  f"{arl[0]} | {arl[1]} |")
    print("\n| outliers size | first outlier row after the onset |\n|---|---|")
    for size in (0.001, 0.002, 0.005):
        q = streams[f"outliers@{size:g}"].cols["quantity"][ONSET:ONSET + w]
        first = np.flatnonzero(np.isin(q, (-9999, 99999)))
        print(f"| {size:g} | {first[0] + 1 if first.size else '—'} |")


if __name__ == "__main__":
    main()
