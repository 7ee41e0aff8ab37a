"""What every peer runner shares: the streams bench/peers.py wrote, and one way to score a detector.

Runs in any of the benchmark environments: numpy only. A detector is anything with
``feed(cols, start, stop) -> (positions, stats)`` (the evaluations made while reading rows
[start, stop): their row positions, and per evaluation one number per watched feature,
larger = more drift) that survives ``copy.deepcopy``. A *config* turns stats into a flag:
``stats > thresholds`` on any feature. Scoring, the same for every tool (and for driftstream
in bench/peers.py):

- false alarms: alarm episodes (runs of consecutive flagged evaluations) on the clean stream
  after the reference, counted per 1M events;
- delay: for each drifted stream, events at or after the onset seen when the first flag came,
  or None if none came within the stream's cap. All drifted streams share the clean stream's
  rows before the onset, so the detector is run once up to the onset and copied per stream;
- CPU seconds per 1M events: process time spent feeding the clean stream.
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NUMERIC = ("quantity", "unit_price", "line_total")
BINARY = ("cancellation", "customer_missing")
CATEGORICAL = ("country",) + BINARY
CHUNK = 250  # events fed at a time; a flagged chunk stops a drifted stream early


@dataclass
class Stream:
    name: str
    scenario: str
    size: float | None
    onset: int  # absolute row where drift starts (the clean stream: its end)
    cols: dict[str, np.ndarray]

    @property
    def length(self) -> int:
        return len(self.cols["quantity"])


def load(folder: Path) -> tuple[int, Stream, list[Stream]]:
    """The reference size, the clean stream and the drifted streams."""
    index = json.loads((folder / "streams.json").read_text())
    streams = []
    for entry in index["streams"]:
        with np.load(folder / f"{entry['name']}.npz") as npz:
            cols = {k: npz[k] for k in npz.files}
        streams.append(Stream(entry["name"], entry["scenario"], entry["size"], entry["onset"], cols))
    return index["reference"], streams[0], streams[1:]


def window(stream: Stream, start: int, stop: int, features: tuple[str, ...]) -> np.ndarray:
    """Rows [start, stop) of the features as one float matrix (categoricals as codes)."""
    return np.column_stack([stream.cols[f][start:stop].astype(np.float64) for f in features])


def episodes(flags: np.ndarray) -> int:
    """Runs of consecutive flagged evaluations."""
    return int(np.sum(flags & ~np.concatenate([[False], flags[:-1]]))) if flags.size else 0


class Trace:
    """Evaluations of one detector on one stream: positions and their stats (one row each)."""

    def __init__(self) -> None:
        self._positions: list[np.ndarray] = []
        self._stats: list[np.ndarray] = []

    def add(self, positions: np.ndarray, stats: np.ndarray) -> None:
        if len(positions):
            self._positions.append(np.asarray(positions, dtype=np.int64))
            self._stats.append(np.asarray(stats, dtype=np.float64).reshape(len(positions), -1))

    def extend(self, other: Trace) -> Trace:
        self._positions += other._positions
        self._stats += other._stats
        return self

    @property
    def positions(self) -> np.ndarray:
        return np.concatenate(self._positions) if self._positions else np.empty(0, np.int64)

    @property
    def stats(self) -> np.ndarray:
        return np.concatenate(self._stats) if self._stats else np.empty((0, 0))

    def flags(self, thresholds: np.ndarray) -> np.ndarray:
        stats = self.stats
        return np.any(stats > thresholds, axis=1) if stats.size else np.zeros(0, bool)

    def first(self, thresholds: np.ndarray) -> int | None:
        for positions, stats in zip(self._positions, self._stats, strict=True):
            hit = np.flatnonzero(np.any(stats > thresholds, axis=1))
            if hit.size:
                return int(positions[hit[0]])
        return None


def feed(detector, stream: Stream, start: int, stop: int,
         until: list[np.ndarray] | None = None) -> Trace:
    """Feed rows [start, stop) in chunks; with ``until``, stop once each of those thresholds flagged."""
    trace = Trace()
    for a in range(start, stop, CHUNK):
        trace.add(*detector.feed(stream.cols, a, min(a + CHUNK, stop)))
        if until is not None and all(trace.first(t) is not None for t in until):
            break
    return trace


def score(make: Callable[[], object], reference: int, clean: Stream, drifted: list[Stream],
          configs: dict[str, np.ndarray | Callable[[Trace], np.ndarray]],
          clean_stop: int | None = None) -> dict:
    """Score one detector under several configs: fixed thresholds or a function of the clean trace
    (calibration). Returns {config: {"false_alarms_per_1m", "clean_events", "cpu_s_per_1m", "delays"}}."""
    onset = drifted[0].onset
    stop = min(clean_stop or clean.length, clean.length)
    detector = make()
    t0 = time.process_time()
    before = feed(detector, clean, reference, onset)
    at_onset = copy.deepcopy(detector)
    cpu_before = time.process_time() - t0
    t1 = time.process_time()
    after = feed(detector, clean, onset, stop)
    cpu = cpu_before + time.process_time() - t1
    whole = Trace().extend(before).extend(after)
    events = stop - reference
    thresholds = {name: (c(whole) if callable(c) else np.asarray(c, dtype=np.float64))
                  for name, c in configs.items()}
    out = {name: {"false_alarms_per_1m": episodes(whole.flags(t)) * 1e6 / events, "clean_events": events,
                  "false_alarms": episodes(whole.flags(t)), "cpu_s_per_1m": cpu * 1e6 / events,
                  "thresholds": t.tolist(), "delays": {}} for name, t in thresholds.items()}
    for stream in drifted:
        trace = feed(copy.deepcopy(at_onset), stream, onset, stream.length, until=list(thresholds.values()))
        for name, t in thresholds.items():
            first = trace.first(t)
            out[name]["delays"][stream.name] = None if first is None else first - onset + 1
    return out


def first_quiet(grid, clean_hits: Callable[[object], np.ndarray], features: int) -> list:
    """Per feature, the first grid value whose detectors flag nothing on the clean stream (the
    last if none does); ``clean_hits(value)`` gives the clean stream's flags, one column each."""
    chosen = [None] * features
    for value in grid:
        pending = [j for j, c in enumerate(chosen) if c is None]
        if not pending:
            break
        hits = clean_hits(value)
        for j in pending:
            if not hits[:, j].any():
                chosen[j] = value
    return [grid[-1] if c is None else c for c in chosen]


def calibrated(trace: Trace) -> np.ndarray:
    """Per feature, the largest statistic the clean stream gave: above it is an alarm."""
    return np.nanmax(trace.stats, axis=0)


def main(tools: dict[str, Callable[[int, Stream, list[Stream], argparse.Namespace], dict]]) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--streams", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tools", default=",".join(tools))
    parser.add_argument("--slice", type=int, default=None, help="clean events after the reference for "
                        "the slow tools (KSWIN, frouros IKS, alibi-detect), e.g. 20000 for a quick look; "
                        "all by default: calibrated on a slice, a tool's 0 false alarms hold for the slice "
                        "only")
    parser.add_argument("--mv-chunk", type=int, default=1_000, help="events per chunk of NannyML's "
                        "multivariate calculators")
    parser.add_argument("--scenarios", default=None, help="only the drifted streams of these scenarios "
                        "(comma-separated; the others are not run): all by default")
    args = parser.parse_args()
    reference, clean, drifted = load(args.streams)
    if args.scenarios:
        drifted = [s for s in drifted if s.scenario in args.scenarios.split(",")]
    results = {}
    for name in args.tools.split(","):
        t = time.perf_counter()
        results.update(tools[name](reference, clean, drifted, args))
        print(f"{name}: {time.perf_counter() - t:.0f} s", flush=True)
    args.out.write_text(json.dumps(results, indent=1))
