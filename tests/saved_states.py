"""A monitor's state as a version before a check existed saved it, read back."""

from __future__ import annotations

import pickle

from detector.drift.monitor import DriftMonitor


def saved_before(monitor: DriftMonitor, check: type, settings: tuple[str, ...],
                 had_relations: bool = True) -> DriftMonitor:
    """``monitor`` pickled as the version before ``check`` would have (none of those checks,
    a config without ``settings``; without relation checks at all if ``had_relations`` is
    False), then read back."""
    old = dict(monitor.__dict__)
    if had_relations:
        old["_relations"] = tuple(c for c in old["_relations"] if not isinstance(c, check))
    else:
        del old["_relations"]
    old["checks"] = [c for c in old["checks"] if not isinstance(c, check)]
    old["config"] = monitor.config.model_copy()
    for name in settings:
        del old["config"].__dict__[name]
    restored = DriftMonitor.__new__(DriftMonitor)
    restored.__setstate__(pickle.loads(pickle.dumps(old)))  # noqa: S301 (our own object)
    return restored
