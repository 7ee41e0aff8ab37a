"""A short chaos run (bench/chaos.py) on its own broker: a fixed seed whose four faults are a
worker SIGKILLed, one frozen past the session timeout, the broker frozen, and the broker
SIGKILLed and restarted; every invariant must hold at the end."""

from __future__ import annotations

import subprocess
import sys

import pytest
from services import ROOT

pytestmark = pytest.mark.kafka


def test_a_short_chaos_run_keeps_every_invariant(data_path, june_model) -> None:
    command = [sys.executable, str(ROOT / "bench" / "chaos.py"), "--seed", "166", "--faults", "4",
               "--minutes", "2.5", "--rows", "60000", "--malformed", "40", "--data", str(data_path),
               "--models", str(june_model)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=900)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-3000:]
    injected = [line.split(":")[1].split()[0] for line in out.splitlines() if line.startswith("fault ")]
    assert injected == ["kill", "freeze", "broker-freeze", "broker-kill"], out
    assert "recovered in   inf" not in out
    assert out.count("  holds ") == 4 and "BROKEN" not in out, out
