"""What an alarm compared, summed up small enough to travel with it on drift.events: the
quantiles of reference and current values, or the shares of categories."""

from __future__ import annotations

from collections import Counter

import numpy as np

from schemas.drift_event import Distribution

LEVELS = np.linspace(0.0, 1.0, 41)  # every 2.5 %
TOP_CATEGORIES = 8


def numeric(feature: str, reference: np.ndarray, current: np.ndarray, reference_name: str = "reference",
            current_name: str = "current window") -> Distribution:
    return Distribution(feature, True, [f"{level:.3f}" for level in LEVELS],
                        np.quantile(reference, LEVELS).tolist(), np.quantile(current, LEVELS).tolist(),
                        reference_name, current_name)


def categorical(feature: str, reference: Counter, current: np.ndarray) -> Distribution:
    """Shares of the categories that matter most in either, the rest pooled as "other"."""
    ref_total = sum(reference.values())
    now = Counter(current.tolist())
    ref_share = {str(k): n / ref_total for k, n in reference.items()}
    cur_share = {str(k): n / len(current) for k, n in now.items()}
    top = sorted(set(ref_share) | set(cur_share),
                 key=lambda c: -max(ref_share.get(c, 0), cur_share.get(c, 0)))
    labels = top[:TOP_CATEGORIES]
    ref = [ref_share.get(c, 0.0) for c in labels]
    cur = [cur_share.get(c, 0.0) for c in labels]
    if len(top) > TOP_CATEGORIES:
        labels.append("other")
        ref.append(max(1.0 - sum(ref), 0.0))
        cur.append(max(1.0 - sum(cur), 0.0))
    return Distribution(feature, False, labels, ref, cur)
