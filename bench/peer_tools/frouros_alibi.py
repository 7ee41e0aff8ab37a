"""Peers in the second benchmark environment: frouros 0.9 and alibi-detect 0.13 (numpy < 2).

    .venv-peers-b/bin/python bench/peer_tools/frouros_alibi.py --streams DIR --out FILE

alibi-detect is BSL-licensed: it runs here, in a benchmark environment, and nowhere else.

- frouros IncrementalKSTest (window 200) per numeric feature; its reference is the first
  10,000 reference events (above 10,000 its approximate p-value path raises IndexError);
  alarm at p < 0.05 by default. ~1 ms an update (the whole clean year: ~30 min; --slice cuts it);
- frouros CUSUM per numeric and binary feature at its defaults (λ = 50), reset after each
  detection as its docs do;
- alibi-detect CVMDriftOnline (numeric features) and FETDriftOnline (binary features),
  thresholds configured by alibi for an expected run time (ERT) of 1,000 events with 10,000
  bootstraps on a 2,000-event reference: an ERT near driftstream's budget (10^7 events) is
  out of reach of its bootstrap set-up. Its history of statistics, which it never reads
  again, is dropped after each update so its cost per update does not grow with the stream;
- alibi-detect MMDDriftOnline (TensorFlow backend; multivariate: all six features at once),
  ERT 1,000 as above, but a reference of 300 events, a window of 20 and 2,000 bootstraps (its
  threshold set-up on this 2-core machine: 147 s at that size; 2,000 and 200 with 2,000
  bootstraps had not finished in 11 minutes; then ~12 ms an update; the reference: the last
  300 reference events), on what a user would give a Gaussian kernel: quantity, price and
  line total as sign × log(1 + |x|), the two flags as 0/1, the country one-hot over the
  reference's 6 most common and the rest (a kernel on raw values sees the outliers
  only). Its bandwidth: alibi's default (median heuristic on the reference).
"""

from __future__ import annotations

import copy
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BINARY, NUMERIC, calibrated, first_quiet, main, score  # noqa: E402

IKS_REFERENCE, IKS_WINDOW, IKS_ALPHA = 10_000, 200, 0.05
CUSUM_FEATURES = NUMERIC + BINARY
CUSUM_FACTORS = tuple(10.0 ** k for k in range(0, 10))
ALIBI_REFERENCE, ALIBI_ERT, ALIBI_BOOTSTRAPS, ALIBI_WINDOW = 2_000, 1_000, 10_000, 200
MMD_REFERENCE, MMD_BOOTSTRAPS, MMD_WINDOW = 300, 2_000, 20


def _columns(cols, features, start, stop) -> np.ndarray:
    return np.column_stack([cols[f][start:stop].astype(np.float64) for f in features])


class IncrementalKS:
    def __init__(self, stream, reference: int) -> None:
        from frouros.detectors.data_drift import IncrementalKSTest

        self.tests = []
        for f in NUMERIC:
            test = IncrementalKSTest(window_size=IKS_WINDOW)
            test.fit(X=stream.cols[f][:min(reference, IKS_REFERENCE)].astype(np.float64))
            self.tests.append(test)

    def feed(self, cols, start, stop):
        x = _columns(cols, NUMERIC, start, stop)
        stats = np.zeros(x.shape)
        for j, test in enumerate(self.tests):
            for i, v in enumerate(x[:, j].tolist()):
                result, _ = test.update(value=v)
                if result is not None:
                    stats[i, j] = -np.log10(max(result.p_value, 1e-300))
        return np.arange(start, stop), stats


class Cusum:
    def __init__(self, stream, reference: int, lambdas) -> None:
        from frouros.detectors.concept_drift import CUSUM, CUSUMConfig

        self.detectors = [CUSUM(config=CUSUMConfig(lambda_=lam)) for lam in lambdas]
        self.feed(stream.cols, 0, reference)

    def feed(self, cols, start, stop):
        x = _columns(cols, CUSUM_FEATURES, start, stop)
        hits = np.zeros(x.shape)
        for j, d in enumerate(self.detectors):
            for i, v in enumerate(x[:, j].tolist()):
                d.update(value=v)
                if d.drift:
                    hits[i, j] = 1.0
                    d.reset()
        return np.arange(start, stop), hits


class AlibiOnline:
    """CVM on the numeric features, FET on the binary ones; stats: statistic / alibi's threshold."""

    def __init__(self, stream, reference: int) -> None:
        from alibi_detect.cd import CVMDriftOnline, FETDriftOnline

        ref = slice(0, min(reference, ALIBI_REFERENCE))
        common = {"ert": ALIBI_ERT, "window_sizes": [ALIBI_WINDOW], "n_bootstraps": ALIBI_BOOTSTRAPS,
                  "verbose": False}
        self.cvm = CVMDriftOnline(_columns(stream.cols, NUMERIC, ref.start, ref.stop), **common)
        self.fet = FETDriftOnline(_columns(stream.cols, BINARY, ref.start, ref.stop), **common)

    @staticmethod
    def _step(detector, x) -> np.ndarray:
        out = detector.predict(x)["data"]
        detector.test_stats, detector.drift_preds = detector.test_stats[-1:], detector.drift_preds[-1:]
        stat = np.nanmax(np.atleast_2d(out["test_stat"]), axis=0)  # over window sizes (one here)
        threshold = np.asarray(out["threshold"], dtype=np.float64).reshape(-1)
        threshold = threshold if threshold.size == stat.size else threshold.max()  # per feature or one
        return np.nan_to_num(stat / threshold, nan=0.0)

    def feed(self, cols, start, stop):
        numeric, binary = _columns(cols, NUMERIC, start, stop), _columns(cols, BINARY, start, stop)
        stats = np.zeros((stop - start, len(NUMERIC) + len(BINARY)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(stop - start):
                stats[i, :len(NUMERIC)] = self._step(self.cvm, numeric[i])
                stats[i, len(NUMERIC):] = self._step(self.fet, binary[i])
        return np.arange(start, stop), stats


class AlibiMMD:
    """Online MMD over all features jointly; stats: its statistic / its threshold."""

    TOP = 6

    def __init__(self, stream, reference: int) -> None:
        from alibi_detect.cd import MMDDriftOnline

        ref = min(reference, MMD_REFERENCE)
        codes, counts = np.unique(stream.cols["country"][:reference], return_counts=True)
        self.countries = codes[np.argsort(-counts, kind="stable")][:self.TOP]
        self.detector = MMDDriftOnline(self.matrix(stream.cols, reference - ref, reference), ert=ALIBI_ERT,
                                       window_size=MMD_WINDOW, backend="tensorflow",
                                       n_bootstraps=MMD_BOOTSTRAPS, verbose=False)

    def matrix(self, cols, start, stop) -> np.ndarray:
        numeric = _columns(cols, NUMERIC, start, stop)
        country = cols["country"][start:stop]
        one_hot = [country == c for c in self.countries] + [~np.isin(country, self.countries)]
        flags = _columns(cols, BINARY, start, stop)
        logs = np.sign(numeric) * np.log1p(np.abs(numeric))
        return np.column_stack([logs, flags, *one_hot]).astype(np.float32)

    def feed(self, cols, start, stop):
        x = self.matrix(cols, start, stop)
        stats = np.zeros((stop - start, 1))
        inner = self.detector._detector  # noqa: SLF001 (its history, dropped as for CVM above)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i in range(stop - start):
                out = self.detector.predict(x[i])["data"]
                inner.test_stats, inner.drift_preds = inner.test_stats[-1:], inner.drift_preds[-1:]
                stats[i, 0] = float(out["test_stat"]) / float(out["threshold"])
        return np.arange(start, stop), stats

    def __deepcopy__(self, memo) -> AlibiMMD:
        """A copy that goes on from the same state. Keras cannot unpickle alibi's kernel, but
        every update reassigns the detector's state (TensorFlow tensors, numpy arrays) rather
        than changing it in place, so copying the two objects that hold it is enough."""
        clone = copy.copy(self)
        clone.detector = copy.copy(self.detector)
        clone.detector._detector = copy.copy(self.detector._detector)  # noqa: SLF001
        return clone


def frouros(reference, clean, drifted, args) -> dict:
    stop = None if args.slice is None else reference + args.slice
    make = lambda: IncrementalKS(clean, reference)  # noqa: E731
    default = np.full(len(NUMERIC), -np.log10(IKS_ALPHA))
    result = score(make, reference, clean, drifted, {"default": default, "calibrated": calibrated}, stop)
    out = {"frouros_iks_default": result["default"], "frouros_iks_calibrated": result["calibrated"]}
    one = np.full(len(CUSUM_FEATURES), 0.5)
    out["frouros_cusum_default"] = score(lambda: Cusum(clean, reference, [50.0] * 5), reference, clean,
                                         drifted, {"x": one})["x"]
    factors = first_quiet(CUSUM_FACTORS, lambda k: Cusum(clean, reference, [50.0 * k] * 5).feed(
        clean.cols, reference, clean.length)[1], len(CUSUM_FEATURES))
    lambdas = [50.0 * k for k in factors]
    out["frouros_cusum_calibrated"] = score(lambda: Cusum(clean, reference, lambdas), reference, clean,
                                            drifted, {"x": one})["x"]
    out["frouros_cusum_calibrated"]["params"] = {"lambda": lambdas}
    return out


def _alibi_scored(build, defaults: np.ndarray, params: dict, reference, clean, drifted, args) -> dict:
    """Score an alibi-detect detector built once (its threshold set-up is the slow part) and
    copied per stream; its parameters and set-up CPU go with each config's result."""
    started = time.process_time()
    detector = build()
    setup = time.process_time() - started
    make = lambda: copy.deepcopy(detector)  # noqa: E731
    result = score(make, reference, clean, drifted, {"default": defaults, "calibrated": calibrated},
                   None if args.slice is None else reference + args.slice)
    for r in result.values():
        r["params"] = {**params, "setup_cpu_s": round(setup, 1)}
    return result


def alibi(reference, clean, drifted, args) -> dict:
    params = {"ert": ALIBI_ERT, "n_bootstraps": ALIBI_BOOTSTRAPS, "reference": ALIBI_REFERENCE}
    result = _alibi_scored(lambda: AlibiOnline(clean, reference), np.ones(5), params, reference, clean,
                           drifted, args)
    return {"alibi_cvm_fet_default": result["default"], "alibi_cvm_fet_calibrated": result["calibrated"]}


def alibi_mmd(reference, clean, drifted, args) -> dict:
    params = {"ert": ALIBI_ERT, "n_bootstraps": MMD_BOOTSTRAPS, "reference": MMD_REFERENCE,
              "window": MMD_WINDOW}
    result = _alibi_scored(lambda: AlibiMMD(clean, reference), np.ones(1), params, reference, clean,
                           drifted, args)
    return {"alibi_mmd_default": result["default"], "alibi_mmd_calibrated": result["calibrated"]}


if __name__ == "__main__":
    main({"frouros": frouros, "alibi": alibi, "alibi_mmd": alibi_mmd})
