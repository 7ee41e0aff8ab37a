"""Where an alarm comes from: the segments (countries, stock codes, categories) that drive it.

The window's statistic is decomposed over segments, so the parts add up to the whole:

- KS (and ADWIN, whose change is a shift of the same distribution): at the value where the
  KS distance is reached, F_cur − F_ref = Σ_s [n_s,cur(≤x)/W − n_s,ref(≤x)/N]: each segment's
  part of the gap, whether its values moved or its share did;
- out of range (and tail: a value far past the range): each segment's share of the window's
  values outside the reference range;
- value mix: at the value whose share moved most, each segment's part of that move;
- categorical: each category's change of share, window against reference;
- a segment-conditional test (detector/drift/checks/segment.py): the segment it ran in;
  a joint test (detector/drift/checks/joint.py): its most deviating cell (kind "cell").

Segments are ranked by the part they take in the direction of the gap; the top few are kept.
"""

from __future__ import annotations

import weakref
from collections import Counter
from dataclasses import dataclass

import numpy as np

from detector.drift.checks import Verdict
from detector.drift.checks.ks import ks_gap
from detector.drift.checks.segment import SegmentVerdict
from detector.drift.reference import SEGMENTS, Reference
from schemas.features import Columns

TOP = 3


@dataclass(frozen=True)
class Segment:
    kind: str  # "country", "stock_code", "category" (a categorical feature's own values) or "cell"
    name: str
    contribution: float  # this segment's part of the statistic (same sign as the whole)
    count: int  # its values in the window


def attribute(verdict: Verdict, reference: Reference, window: Columns, top: int = TOP) -> list[Segment]:
    """The segments that drive an alarm of ``verdict`` on this window, most first."""
    feature = verdict.feature
    if isinstance(verdict, SegmentVerdict):  # a test inside one segment: that segment, all of it
        kind, name = verdict.where
        count = int((window[kind] == name).sum()) if kind in window else getattr(verdict, "count", 0)
        return [Segment(kind, name, verdict.statistic, count)]
    if feature in reference.categorical:
        return _categories(feature, reference.categorical[feature], window[feature], top)
    values, found = window[feature], []
    for kind in SEGMENTS:
        if kind not in window or kind not in reference.segments.get(feature, {}):
            continue
        if verdict.test in ("out_of_range", "tail"):
            ref = reference.numeric[feature]
            parts = _outside(values, window[kind], ref[0], ref[-1])
        elif verdict.test == "values":
            parts = _value_parts(reference.numeric[feature], reference.segments[feature][kind],
                                 values, window[kind], top)
        else:
            ref_segments = reference.segments[feature][kind]
            parts = _ks_parts(reference.numeric[feature], ref_segments, values, window[kind], top)
        counts = Counter(map(str, window[kind].tolist()))
        found += [Segment(kind, str(name), part, counts.get(str(name), 0)) for name, part in parts[:top]]
    return found


_MEMO: dict[tuple[str, int], tuple[weakref.ref, tuple]] = {}


def _memo(kind: str, array: np.ndarray, compute) -> tuple:
    """``compute(array)`` once per reference array (a reference lives until the model changes)."""
    hit = _MEMO.get((kind, id(array)))
    if hit is not None and hit[0]() is array:
        return hit[1]
    for key in [k for k, (ref, _) in _MEMO.items() if ref() is None]:
        del _MEMO[key]
    result = compute(array)
    _MEMO[(kind, id(array))] = (weakref.ref(array), result)
    return result


def _encoded(segments: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """A reference's segment column as (names, integer codes, code by name): counting a slice
    of 20,000 strings per alarm was half of the pipeline's time on a drifting stream."""

    def encode(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
        names, codes = np.unique(a.astype(str), return_inverse=True)
        return names, codes, {name: i for i, name in enumerate(names.tolist())}

    return _memo("codes", segments, encode)


STRIDE = 4096  # reference positions between two rows of its segments' running counts


def _counts(codes: np.ndarray, size: int, start: int, stop: int) -> np.ndarray:
    """np.bincount(codes[start:stop], minlength=size), from running counts kept every STRIDE
    positions of the reference: a KS part's slice is half a reference of 200,000 rows."""
    def running(codes: np.ndarray) -> tuple[np.ndarray]:  # (names ≈ 4,000 stock codes: ~1.5 MB)
        steps = [np.bincount(codes[m:m + STRIDE], minlength=size) for m in range(0, codes.size, STRIDE)
                 if m + STRIDE <= codes.size]
        return (np.cumsum(np.vstack([np.zeros(size, np.int64), *steps]), axis=0),)

    (table,) = _memo("running", codes, running)
    lo, hi = -(-start // STRIDE), stop // STRIDE  # whole strides inside [start, stop)
    if lo > hi:
        return np.bincount(codes[start:stop], minlength=size)
    return (table[hi] - table[lo] + np.bincount(codes[start:lo * STRIDE], minlength=size)
            + np.bincount(codes[hi * STRIDE:stop], minlength=size))


def _parts(window_segments: np.ndarray, window_size: int, ref_segments: np.ndarray, start: int,
           stop: int, ref_size: int, direction: float, top: int) -> list[tuple[str, float]]:
    """Per segment: its share of the window's selected values minus its share of the reference's
    values [start, stop); the ``top`` in the direction of the gap, most first."""
    names, codes, code = _encoded(ref_segments)
    part = -_counts(codes, names.size, start, stop) / ref_size
    window = [str(name) for name in window_segments.tolist()]
    at = np.array([code.get(name, -1) for name in window], dtype=np.intp)
    np.add.at(part, at[at >= 0], 1.0 / window_size)
    new = Counter(name for name, i in zip(window, at.tolist(), strict=True) if i < 0)  # not in the reference
    labels = np.concatenate([names, np.array(list(new), dtype=names.dtype if new else object)])
    values = np.concatenate([part, np.array(list(new.values()), dtype=float) / window_size])
    nonzero = np.flatnonzero(values)
    order = nonzero[np.argsort(-direction * values[nonzero], kind="stable")][:top]
    return [(str(labels[i]), float(values[i])) for i in order]


def _ks_parts(ref_sorted: np.ndarray, ref_segments: np.ndarray, values: np.ndarray,
              segments: np.ndarray, top: int) -> list[tuple[object, float]]:
    gap, x, inclusive = ks_gap(ref_sorted, values)
    below = values <= x if inclusive else values < x
    cut = np.searchsorted(ref_sorted, x, side="right" if inclusive else "left")
    return _parts(segments[below], values.size, ref_segments, 0, cut, ref_sorted.size,
                  1.0 if gap >= 0 else -1.0, top)


def _value_parts(ref_sorted: np.ndarray, ref_segments: np.ndarray, values: np.ndarray,
                 segments: np.ndarray, top: int) -> list[tuple[object, float]]:
    distinct, now = np.unique(values, return_counts=True)
    before = (np.searchsorted(ref_sorted, distinct, "right") - np.searchsorted(ref_sorted, distinct, "left"))
    change = now / values.size - before / ref_sorted.size
    gone, ref_counts = _memo("counts", ref_sorted, lambda a: np.unique(a, return_counts=True))
    absent = ~np.isin(gone, distinct)  # reference values absent now
    candidates = np.concatenate([distinct, gone[absent]])
    changes = np.concatenate([change, -ref_counts[absent] / ref_sorted.size])
    biggest = int(np.argmax(np.abs(changes)))
    x = candidates[biggest]
    lo, hi = np.searchsorted(ref_sorted, x, "left"), np.searchsorted(ref_sorted, x, "right")
    return _parts(segments[values == x], values.size, ref_segments, lo, hi, ref_sorted.size,
                  1.0 if changes[biggest] >= 0 else -1.0, top)


def _outside(values: np.ndarray, segments: np.ndarray, low: float, high: float
             ) -> list[tuple[object, float]]:
    outside = (values < low) | (values > high)
    return [(name, n / values.size) for name, n in Counter(segments[outside].tolist()).most_common()]


def _categories(feature: str, reference: Counter, current: np.ndarray, top: int) -> list[Segment]:
    """Categories by how far their window count is beyond chance (standardised residual against
    the reference share), each with its share change (the changes add up to twice the total
    variation distance). Ranked by the residual, not the share change: a category going from
    2 % to 30 % drives an alarm more than the dominant one going from 91 % to 70 %."""
    total, now, n = sum(reference.values()), Counter(current.tolist()), current.size
    scored = []
    for name in set(reference) | set(now):
        p = max(reference.get(name, 0), 0.5) / total  # unseen: half a count, not zero
        residual = (now.get(name, 0) - n * p) / np.sqrt(n * p * (1 - p)) if p < 1 else 0.0
        scored.append((abs(residual), name, now.get(name, 0) / n - reference.get(name, 0) / total))
    scored.sort(key=lambda item: (-item[0], str(item[1])))
    return [Segment("category", str(name), change, now.get(name, 0)) for _, name, change in scored[:top]]
