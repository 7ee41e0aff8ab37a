"""Where an alarm comes from: the segments (countries, stock codes, categories) that drive it.

The window's statistic is decomposed over segments, so the parts add up to the whole:

- KS (and ADWIN, whose change is a shift of the same distribution): at the value where the
  KS distance is reached, F_cur − F_ref = Σ_s [n_s,cur(≤x)/W − n_s,ref(≤x)/N]: each segment's
  part of the gap, whether its values moved or its share did;
- out of range: each segment's share of the window's values outside the reference range;
- value mix: at the value whose share moved most, each segment's part of that move;
- categorical: each category's change of share, window against reference.

Segments are ranked by the part they take in the direction of the gap; the top few are kept.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from detector.drift.checks import Verdict
from detector.drift.checks.ks import ks_gap
from detector.drift.reference import SEGMENTS, Reference
from schemas.features import Columns

TOP = 3


@dataclass(frozen=True)
class Segment:
    kind: str  # "country", "stock_code", or "category" (a categorical feature's own values)
    name: str
    contribution: float  # this segment's part of the statistic (same sign as the whole)
    count: int  # its values in the window


def attribute(verdict: Verdict, reference: Reference, window: Columns, top: int = TOP) -> list[Segment]:
    """The segments that drive an alarm of ``verdict`` on this window, most first."""
    feature = verdict.feature
    if feature in reference.categorical:
        return _categories(feature, reference.categorical[feature], window[feature], top)
    values, found = window[feature], []
    for kind in SEGMENTS:
        if kind not in window or kind not in reference.segments.get(feature, {}):
            continue
        if verdict.test == "out_of_range":
            ref = reference.numeric[feature]
            parts = _outside(values, window[kind], ref[0], ref[-1])
        elif verdict.test == "values":
            parts = _value_parts(reference.numeric[feature], reference.segments[feature][kind],
                                 values, window[kind])
        else:
            ref_segments = reference.segments[feature][kind]
            parts = _ks_parts(reference.numeric[feature], ref_segments, values, window[kind])
        counts = Counter(window[kind].tolist())
        found += [Segment(kind, str(name), part, counts.get(name, 0)) for name, part in parts[:top]]
    return found


def _ks_parts(ref_sorted: np.ndarray, ref_segments: np.ndarray, values: np.ndarray,
              segments: np.ndarray) -> list[tuple[object, float]]:
    gap, x, inclusive = ks_gap(ref_sorted, values)
    below = values <= x if inclusive else values < x
    cut = np.searchsorted(ref_sorted, x, side="right" if inclusive else "left")
    parts = Counter()
    for name, n in Counter(segments[below].tolist()).items():
        parts[name] += n / values.size
    for name, n in Counter(ref_segments[:cut].tolist()).items():
        parts[name] -= n / ref_sorted.size
    direction = 1.0 if gap >= 0 else -1.0
    return sorted(parts.items(), key=lambda item: -direction * item[1])


def _value_parts(ref_sorted: np.ndarray, ref_segments: np.ndarray, values: np.ndarray,
                 segments: np.ndarray) -> list[tuple[object, float]]:
    distinct, now = np.unique(values, return_counts=True)
    before = (np.searchsorted(ref_sorted, distinct, "right") - np.searchsorted(ref_sorted, distinct, "left"))
    change = now / values.size - before / ref_sorted.size
    gone, ref_counts = np.unique(ref_sorted, return_counts=True)  # reference values absent now
    absent = ~np.isin(gone, distinct)
    candidates = np.concatenate([distinct, gone[absent]])
    changes = np.concatenate([change, -ref_counts[absent] / ref_sorted.size])
    x = candidates[int(np.argmax(np.abs(changes)))]
    lo, hi = np.searchsorted(ref_sorted, x, "left"), np.searchsorted(ref_sorted, x, "right")
    parts = Counter()
    for name, n in Counter(segments[values == x].tolist()).items():
        parts[name] += n / values.size
    for name, n in Counter(ref_segments[lo:hi].tolist()).items():
        parts[name] -= n / ref_sorted.size
    direction = 1.0 if changes[int(np.argmax(np.abs(changes)))] >= 0 else -1.0
    return sorted(parts.items(), key=lambda item: -direction * item[1])


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
