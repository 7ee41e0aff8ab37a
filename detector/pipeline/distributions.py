"""What an alarm compared, summed up small enough to travel with it on drift.events: the
quantiles of reference and current values, or the shares of categories."""

from __future__ import annotations

from collections import Counter

import numpy as np

from schemas.drift_event import Distribution

LEVELS = np.linspace(0.0, 1.0, 41)  # every 2.5 %
TOP_CATEGORIES = 8


LABELS = [f"{level:.3f}" for level in LEVELS]


def numeric(feature: str, reference: np.ndarray, current: np.ndarray, reference_name: str = "reference",
            current_name: str = "current window", reference_sorted: bool = False) -> Distribution:
    """``reference_sorted``: the reference is in ascending order (a Reference's values are)."""
    ref = sorted_quantiles(reference) if reference_sorted else np.quantile(reference, LEVELS)
    return Distribution(feature, True, list(LABELS), ref.tolist(), np.quantile(current, LEVELS).tolist(),
                        reference_name, current_name)


def sorted_quantiles(values: np.ndarray, levels: np.ndarray = LEVELS) -> np.ndarray:
    """np.quantile(values, levels) (its default, linear method) of sorted ``values``, without
    partitioning them again: a model's reference holds every training row."""
    position = levels * (values.size - 1)
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, values.size - 1)
    t, a, b = position - low, values[low].astype(float), values[high].astype(float)
    return np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)  # numpy's _lerp


def categorical(feature: str, reference: Counter, current: np.ndarray) -> Distribution:
    """Shares of the categories that matter most in either, the rest pooled as "other"."""
    ref_total = sum(reference.values())
    now = Counter(current.tolist())
    ref_share = {str(k): n / ref_total for k, n in reference.items()}
    cur_share = {str(k): n / len(current) for k, n in now.items()}
    top = sorted(set(ref_share) | set(cur_share),  # ties by name: the same picture in every process
                 key=lambda c: (-max(ref_share.get(c, 0), cur_share.get(c, 0)), c))
    labels = top[:TOP_CATEGORIES]
    ref = [ref_share.get(c, 0.0) for c in labels]
    cur = [cur_share.get(c, 0.0) for c in labels]
    if len(top) > TOP_CATEGORIES:
        labels.append("other")
        ref.append(max(1.0 - sum(ref), 0.0))
        cur.append(max(1.0 - sum(cur), 0.0))
    return Distribution(feature, False, labels, ref, cur)
