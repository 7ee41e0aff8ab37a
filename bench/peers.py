"""driftstream beside its peers on the same streams: false alarms, delays, CPU, power curves.

Every tool gets the same reference (the first 20,000 events of the shuffled year, seed 42)
and the same stream after it, as one stream (driftstream too: one partition). Streams:
- clean: the rest of the shuffled year (false alarms per 1M events; CPU per 1M events);
- each scenario at its default size, from row 30,000 (10,000 events after the reference),
  5,000 events after the onset (delay = events at or after the onset seen when the first
  alarm came; "—" if none within them);
- power curves: each sized scenario at several sizes, 2,000 events after the onset.
Each peer runs at its defaults and calibrated: its level raised until it gives no alarm on
the clean stream, as driftstream gives none at its default budget; driftstream is also run
calibrated the same way (driftstream_calibrated: no minimum effects, each test's threshold at
the largest statistic / threshold the clean stream gave it). Scoring is shared
(bench/peer_tools/common.py). Peers run in their own environments (make peers-env), never
in driftstream's: .venv-peers-a (Evidently, NannyML, river), .venv-peers-b (frouros,
alibi-detect; they need numpy < 2).

    make peers        # or: python bench/peers.py
    python bench/peers.py --tools nannyml_mv,alibi_mmd --slice 60000 \
        --scenarios swap-prices,country-price,customer-country  # multivariate peers, relation family
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench" / "peer_tools")]

from common import NUMERIC, Stream, calibrated, score  # noqa: E402

from detector.drift.monitor import DriftMonitor, MonitorConfig  # noqa: E402
from producer import data, scenarios  # noqa: E402
from schemas import features  # noqa: E402

REFERENCE, ONSET, AFTER, POWER_AFTER = 20_000, 30_000, 5_000, 2_000
MAIN = ("scale", "gradual", "outliers", "country-mix", "price", "quantity", "missing-customer", "new-country",
        "cancellations", "one-country", "swap-prices", "country-price", "customer-country")
POWER = {"price": (0.01, 0.02, 0.05, 0.1, 0.2), "quantity": (0.05, 0.1, 0.2, 0.5, 1.0),
         "country-mix": (0.9, 0.88, 0.85, 0.8, 0.7), "missing-customer": (0.01, 0.02, 0.05, 0.1, 0.2),
         "new-country": (0.002, 0.005, 0.01, 0.02, 0.05), "cancellations": (1.25, 1.5, 2.0, 3.0, 5.0),
         "one-country": (0.03, 0.05, 0.1, 0.2, 0.5), "outliers": (0.001, 0.002, 0.005, 0.01, 0.05),
         # relations: the marginals stay about as they were
         "swap-prices": (0.1, 0.2, 0.3, 0.5, 1.0), "country-price": (0.1, 0.2, 0.5, 1.0, 3.0),
         "customer-country": (0.05, 0.1, 0.2, 0.5, 1.0)}
NO_TELEMETRY = {"NML_DISABLE_USAGE_LOGGING": "1", "DO_NOT_TRACK": "1"}  # NannyML, Evidently phone home
PEERS = {"a": ("evidently_nannyml_river.py", "evidently,nannyml,nannyml_mv,river"),
         "b": ("frouros_alibi.py", "frouros,alibi,alibi_mmd")}
RELATIONS = "swap-prices,country-price,customer-country"


def build(path: Path, out: Path, seed: int) -> list[Stream]:
    """Write every stream for the peers (npz: numbers and codes) and return them with full columns."""
    frame = data.load_online_retail(path)
    shuffled = frame.iloc[np.random.default_rng(seed).permutation(len(frame))].reset_index(drop=True)
    countries = sorted(set(frame["Country"]) | {scenarios.NEW_COUNTRY})
    code = {c: i for i, c in enumerate(countries)}
    specs = [("clean", "none", None, len(shuffled))]
    specs += [(name, name, None, AFTER) for name in MAIN]
    specs += [(f"{name}@{size:g}", name, size, POWER_AFTER)
              for name, sizes in POWER.items() for size in sizes]
    out.mkdir(parents=True, exist_ok=True)
    streams, index = [], []
    for name, scenario, size, after in specs:
        onset = len(shuffled) if scenario == "none" else ONSET
        drifted, onset = scenarios.apply(shuffled, scenarios.Scenario(scenario, onset, size=size), seed)
        cols = features.from_frame(drifted.iloc[:onset + after] if scenario != "none" else drifted)
        np.savez(out / f"{name}.npz", **{f: cols[f] for f in NUMERIC},
                 country=np.array([code[c] for c in cols["country"]], dtype=np.int32),
                 cancellation=cols["cancellation"].astype(np.uint8),
                 customer_missing=cols["customer_missing"].astype(np.uint8))
        streams.append(Stream(name, scenario, size, onset, cols))
        index.append({"name": name, "scenario": scenario, "size": size, "onset": onset})
    (out / "streams.json").write_text(json.dumps({"reference": REFERENCE, "streams": index}, indent=1))
    return streams


class Driftstream:
    """driftstream's DriftMonitor at its defaults, one partition; stats: 1 for an evaluation that alarmed."""

    def __init__(self, stream: Stream, config: MonitorConfig | None = None) -> None:
        self.monitor = DriftMonitor(config or MonitorConfig())  # its reference: the first 20,000 events
        self.monitor.update({k: v[:REFERENCE] for k, v in stream.cols.items()})

    def feed(self, cols, start, stop):
        outcomes = self.monitor.update({k: v[start:stop] for k, v in cols.items()})
        return (np.array([start + o.position for o in outcomes], dtype=np.int64),
                np.array([[1.0 if o.alarms else 0.0] for o in outcomes]).reshape(len(outcomes), 1))


class DriftstreamRatios(Driftstream):
    """For calibration as the peers get it: no minimum effects, and per evaluation each window
    test's statistic / threshold (long-window ones: their latest; an ADWIN detection: 1 in its
    check's column). The calibrated threshold of a column is the largest value the clean stream
    gave it."""

    def __init__(self, stream: Stream) -> None:
        super().__init__(stream, MonitorConfig(ks_min_effect=0, categorical_min_effect=0,
                                               out_of_range_min_share=1e-9))

    def feed(self, cols, start, stop):
        outcomes = self.monitor.update({k: v[start:stop] for k, v in cols.items()})
        checks = self.monitor.checks
        stats = np.zeros((len(outcomes), len(checks)))
        for row, o in enumerate(outcomes):
            if o.kind == "evaluation":
                stats[row] = [0.0 if c.test == "adwin" else r.ratio
                              for c, r in zip(checks, o.results, strict=True)]
            else:
                hit = o.results[0]
                stats[row] = [1.0 if (c.feature, c.test) == (hit.feature, hit.test) else 0.0 for c in checks]
        return np.array([start + o.position for o in outcomes], dtype=np.int64), stats


def run_peers(streams_dir: Path, work: Path, only: str | None, extra: list[str]) -> dict:
    results = {}
    for env, (script, tools) in PEERS.items():
        python = ROOT / f".venv-peers-{env}" / "bin" / "python"
        out = work / f"peers-{env}.json"
        wanted = [t for t in tools.split(",") if not only or t in only.split(",")]
        if wanted and not python.exists():
            sys.exit(f"{python} is missing: run `make peers-env` first")
        if wanted:
            subprocess.run([str(python), str(ROOT / "bench" / "peer_tools" / script), "--streams",
                            str(streams_dir), "--out", str(out), "--tools", ",".join(wanted), *extra],
                           check=True, env=dict(os.environ, **NO_TELEMETRY))
            results.update(json.loads(out.read_text()))
    return results


def cell(delays: dict, stream: str) -> str:
    if stream not in delays:
        return "not run"
    return "—" if delays[stream] is None else f"{delays[stream]:,}"


def tables(results: dict) -> str:
    results = dict(sorted(results.items(), key=lambda item: not item[0].startswith("driftstream")))
    lines = ["| tool | false alarms per 1M (clean events) | CPU s per 1M | " + " | ".join(MAIN) + " |",
             "|---|---|---|" + "---|" * len(MAIN)]
    for tool, r in results.items():
        lines.append(f"| {tool} | {r['false_alarms_per_1m']:,.1f} ({r['false_alarms']} in "
                     f"{r['clean_events']:,}) | {r['cpu_s_per_1m']:,.0f} | "
                     + " | ".join(cell(r["delays"], m) for m in MAIN) + " |")
    lines += ["", "Power curves: delay (events after the onset, within 2,000) per size, sizes from the "
              "smallest effect to the largest; driftstream and the calibrated peers. Smallest caught: "
              "the smallest size from which every larger one is caught.", ""]
    chosen = {t: r for t, r in results.items() if t == "driftstream" or t.endswith("calibrated")}
    for name, sizes in POWER.items():
        lines += [f"**{name}** (size: {scenarios.Scenario(name).amount:g} by default)", "",
                  "| tool | " + " | ".join(f"{s:g}" for s in sizes) + " | smallest caught |",
                  "|---|" + "---|" * (len(sizes) + 1)]
        for tool, r in chosen.items():
            if not any(f"{name}@{s:g}" in r["delays"] for s in sizes):
                continue  # this family was not run for it
            delays = [r["delays"].get(f"{name}@{s:g}") for s in sizes]
            # the smallest size from which every larger effect is caught: a lone hit is not power
            caught = [i for i in range(len(sizes)) if all(d is not None for d in delays[i:])]
            smallest = sizes[caught[0]] if caught else None
            lines.append(f"| {tool} | " + " | ".join(cell(r["delays"], f"{name}@{s:g}") for s in sizes) +
                         f" | {'—' if smallest is None else f'{smallest:g}'} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--data", type=Path,
                        default=ROOT.parent / "shared" / "data" / "online_retail.parquet")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--work", type=Path, default=ROOT / "build" / "bench" / "peers")
    parser.add_argument("--tools", default=None,
                        help="only these peers (e.g. evidently,river): theirs replace the saved "
                        "results, the others' are kept; all by default")
    parser.add_argument("--scenarios", default=None, help=f"only the drifted streams of these scenarios "
                        f"(e.g. {RELATIONS}, the relation family); all by default")
    parser.add_argument("--slice", type=int, default=None, help="clean events after the reference the slow "
                        "peers are run and calibrated on (see bench/peer_tools/common.py); all by default")
    parser.add_argument("--mv-chunk", type=int, default=1_000, help="events per chunk of NannyML's "
                        "multivariate calculators")
    args = parser.parse_args()
    streams = build(args.data, args.work / "streams", args.seed)
    clean, drifted = streams[0], streams[1:]
    extra = ["--mv-chunk", str(args.mv_chunk)]
    if args.scenarios:
        drifted = [s for s in drifted if s.scenario in args.scenarios.split(",")]
        extra += ["--scenarios", args.scenarios]
    if args.slice:
        extra += ["--slice", str(args.slice)]
    ours = score(lambda: Driftstream(clean), REFERENCE, clean, drifted, {"x": np.array([0.5])})["x"]
    saved = args.work / "results.json"
    results = json.loads(saved.read_text()) if args.tools and saved.exists() else {}  # --tools: update those
    results["driftstream"] = ours
    results["driftstream_calibrated"] = score(lambda: DriftstreamRatios(clean), REFERENCE, clean, drifted,
                                              {"x": calibrated})["x"]
    results.update(run_peers(args.work / "streams", args.work, args.tools, extra))
    saved.write_text(json.dumps(results, indent=1))
    text = tables(results)
    (args.work / "results.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
