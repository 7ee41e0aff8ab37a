"""Peers in the first benchmark environment: Evidently 0.7, NannyML and river (pandas < 3).

    .venv-peers-a/bin/python bench/peer_tools/evidently_nannyml_river.py --streams DIR --out FILE

- evidently: the stattest DataDriftPreset picks per column (reference > 1,000 rows:
  normalised Wasserstein for numbers, Jensen-Shannon for categories, threshold 0.1), on a
  sliding window of W = 200 events evaluated every 50 (driftstream's W and pane). The full
  Report gives the same per-column verdicts at ≈0.7 s an evaluation, too slow for every pane;
- nannyml: UnivariateDriftCalculator at its defaults (Jensen-Shannon, thresholds from the
  reference chunks) on chunks of 200 events;
- nannyml_mv: NannyML's multivariate drift on all six features at its defaults, on chunks of
  --mv-chunk events (1,000): DataReconstructionDriftCalculator (PCA reconstruction error,
  thresholds ±3 standard deviations of the reference chunks') and DomainClassifierCalculator
  (LightGBM told reference rows from the chunk's by cross-validation, its AUROC; ~1 s a
  chunk, so the clean stream is cut by --slice);
- river ADWIN, KSWIN and PageHinkley on the raw values of the numeric and binary features
  (country has no numeric value), fed the reference first.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BINARY, CATEGORICAL, NUMERIC, calibrated, first_quiet, main, score  # noqa: E402

WINDOW, PANE, CHUNK_SIZE = 200, 50, 200
RIVER_FEATURES = NUMERIC + BINARY
ADWIN_DELTAS = (0.002, 1e-4, 1e-6, 1e-8, 1e-10, 1e-15, 1e-20, 1e-30, 1e-50, 1e-100, 1e-200, 1e-300)
PH_FACTORS = tuple(10.0 ** k for k in range(0, 10))
KSWIN_ALPHA = 0.005
CODES = pd.CategoricalDtype(range(64))  # country codes (bench/peers.py: < 64) and 0/1


def frame(cols, start: int, stop: int) -> pd.DataFrame:
    """Rows as a frame; categoricals (codes) as pandas categories, which is how NannyML tells them."""
    out = pd.DataFrame({f: cols[f][start:stop] for f in NUMERIC + CATEGORICAL})
    return out.astype({f: CODES for f in CATEGORICAL})


class EvidentlyPanes:
    def __init__(self, ref: pd.DataFrame, reference: int) -> None:
        from evidently.legacy.calculations.stattests.registry import _get_default_stattest
        from evidently.legacy.core import ColumnType

        self.reference = reference
        self.kinds = {f: ColumnType.Numerical for f in NUMERIC}
        self.kinds |= {f: ColumnType.Categorical for f in CATEGORICAL}
        self.ref = {f: ref[f] for f in self.kinds}
        self.tests = {f: _get_default_stattest(ref[f], ref[f].iloc[:WINDOW], k)
                      for f, k in self.kinds.items()}
        self.defaults = np.array([self.tests[f].default_threshold for f in self.kinds])

    def feed(self, cols, start, stop):
        seen = np.arange(start, stop) + 1 - self.reference
        ends = np.arange(start, stop)[(seen >= WINDOW) & (seen % PANE == 0)]
        stats = [[self.tests[f].func(self.ref[f], pd.Series(cols[f][p + 1 - WINDOW:p + 1]), k, 0.1)[0]
                  for f, k in self.kinds.items()] for p in ends]
        return ends, np.array(stats, dtype=np.float64).reshape(len(ends), len(self.kinds))


class NannyChunks:
    def __init__(self, ref: pd.DataFrame, reference: int) -> None:
        import nannyml

        self.reference, self.chunk = reference, CHUNK_SIZE
        self.calc = nannyml.UnivariateDriftCalculator(column_names=list(NUMERIC + CATEGORICAL),
                                                      chunk_size=CHUNK_SIZE)
        self.calc.fit(ref)
        self.defaults = self._thresholds(self.calc.calculate(ref.iloc[:CHUNK_SIZE]).to_df())

    @staticmethod
    def _values(df: pd.DataFrame, what: str) -> np.ndarray:
        return np.column_stack([df[(f, "jensen_shannon", what)].to_numpy(np.float64)
                                for f in NUMERIC + CATEGORICAL])

    def _thresholds(self, df: pd.DataFrame) -> np.ndarray:
        return self._values(df, "upper_threshold")[0]

    def feed(self, cols, start, stop):
        seen = np.arange(start, stop) + 1 - self.reference
        ends = np.arange(start, stop)[(seen > 0) & (seen % self.chunk == 0)]
        if not len(ends):
            return ends, np.empty((0, len(self.defaults)))
        rows = frame(cols, ends[0] + 1 - self.chunk, ends[-1] + 1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ends, self._values(self.calc.calculate(rows).filter(period="analysis").to_df(), "value")


class NannyMultivariate(NannyChunks):
    """NannyML's multivariate drift on chunks of ``chunk`` events; stats: its one value per chunk."""

    KEYS = {"reconstruction": "reconstruction_error", "classifier": "domain_classifier_auroc"}

    def __init__(self, ref: pd.DataFrame, reference: int, method: str, chunk: int) -> None:
        import nannyml

        self.reference, self.chunk, self.key = reference, chunk, self.KEYS[method]
        columns = list(NUMERIC + CATEGORICAL)
        if method == "reconstruction":
            self.calc = nannyml.DataReconstructionDriftCalculator(column_names=columns, chunk_size=chunk)
        else:
            self.calc = nannyml.DomainClassifierCalculator(feature_column_names=columns, chunk_size=chunk)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            self.calc.fit(ref)
            self.defaults = self._values(self.calc.calculate(ref.iloc[:chunk]).to_df(), "upper_threshold")[0]

    def _values(self, df: pd.DataFrame, what: str) -> np.ndarray:
        return df[(self.key, what)].to_numpy(np.float64).reshape(-1, 1)


class RiverDetectors:
    """One river detector per feature; stats: 1 where it detected a change at that event."""

    def __init__(self, stream, reference: int, factories) -> None:
        self.detectors = [factory() for factory in factories]
        self.feed(stream.cols, 0, reference)

    def feed(self, cols, start, stop):
        x = np.column_stack([cols[f][start:stop].astype(np.float64) for f in RIVER_FEATURES])
        hits = np.zeros(x.shape)
        for j, d in enumerate(self.detectors):
            column = x[:, j].tolist()
            for i, v in enumerate(column):
                d.update(v)
                if d.drift_detected:
                    hits[i, j] = 1.0
        return np.arange(start, stop), hits


class KswinTrace(RiverDetectors):
    """KSWIN that never acts, recording −log10 p wherever its own condition D > 0.1 holds."""

    def feed(self, cols, start, stop):
        x = np.column_stack([cols[f][start:stop].astype(np.float64) for f in RIVER_FEATURES])
        stats = np.zeros(x.shape)
        for j, d in enumerate(self.detectors):
            for i, v in enumerate(x[:, j].tolist()):
                d.update(v)
                if len(d.window) >= d.window_size and d.p_value is not None:
                    stats[i, j] = -np.log10(max(d.p_value, 1e-300))
        return np.arange(start, stop), stats


def evidently(reference, clean, drifted, args) -> dict:
    make = lambda: EvidentlyPanes(frame(clean.cols, 0, reference), reference)  # noqa: E731
    defaults = make().defaults
    result = score(make, reference, clean, drifted, {"default": defaults, "calibrated": calibrated})
    return {"evidently_default": result["default"], "evidently_calibrated": result["calibrated"]}


def nannyml(reference, clean, drifted, args) -> dict:
    make = lambda: NannyChunks(frame(clean.cols, 0, reference), reference)  # noqa: E731
    result = score(make, reference, clean, drifted, {"default": make().defaults, "calibrated": calibrated})
    return {"nannyml_default": result["default"], "nannyml_calibrated": result["calibrated"]}


def nannyml_mv(reference, clean, drifted, args) -> dict:
    out = {}
    for method, stop in (("reconstruction", None), ("classifier", args.slice)):
        make = lambda m=method: NannyMultivariate(frame(clean.cols, 0, reference), reference, m,  # noqa: E731
                                                  args.mv_chunk)
        configs = {"default": make().defaults, "calibrated": calibrated}
        result = score(make, reference, clean, drifted, configs, None if stop is None else reference + stop)
        out[f"nannyml_{method}_default"] = result["default"]
        out[f"nannyml_{method}_calibrated"] = result["calibrated"]
    return out


def _grid_per_feature(reference, clean, build, grid) -> list:
    """Per feature, the first grid value giving no detection on the clean stream (the last if none)."""
    def clean_hits(value):
        factories = [lambda v=value, j=j: build(j, v) for j in range(5)]
        return RiverDetectors(clean, reference, factories).feed(clean.cols, reference, clean.length)[1]

    return first_quiet(grid, clean_hits, len(RIVER_FEATURES))


def river(reference, clean, drifted, args) -> dict:
    from river import drift

    one = np.full(len(RIVER_FEATURES), 0.5)
    out = {}

    def run(name, factories, stop=None):
        make = lambda: RiverDetectors(clean, reference, factories)  # noqa: E731
        out[name] = score(make, reference, clean, drifted, {"x": one}, clean_stop=stop)["x"]

    run("river_adwin_default", [drift.ADWIN] * 5)
    deltas = _grid_per_feature(reference, clean, lambda j, d: drift.ADWIN(delta=d), ADWIN_DELTAS)
    run("river_adwin_calibrated", [lambda d=d: drift.ADWIN(delta=d) for d in deltas])
    out["river_adwin_calibrated"]["params"] = {"delta": deltas}
    run("river_pagehinkley_default", [drift.PageHinkley] * 5)
    factors = _grid_per_feature(reference, clean, lambda j, k: drift.PageHinkley(threshold=50 * k),
                                PH_FACTORS)
    run("river_pagehinkley_calibrated", [lambda k=k: drift.PageHinkley(threshold=50 * k) for k in factors])
    out["river_pagehinkley_calibrated"]["params"] = {"threshold": [50 * k for k in factors]}
    stop = None if args.slice is None else reference + args.slice
    run("river_kswin_default", [lambda: drift.KSWIN(alpha=KSWIN_ALPHA, seed=42)] * 5, stop)
    make = lambda: KswinTrace(clean, reference, [lambda: drift.KSWIN(alpha=0.0, seed=42)] * 5)  # noqa: E731
    out["river_kswin_calibrated"] = score(make, reference, clean, drifted, {"x": calibrated}, stop)["x"]
    return out


if __name__ == "__main__":
    main({"evidently": evidently, "nannyml": nannyml, "nannyml_mv": nannyml_mv, "river": river})
