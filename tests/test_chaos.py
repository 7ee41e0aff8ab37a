"""A short chaos run (bench/chaos.py) on its own broker: a fixed seed whose four faults are a
worker SIGKILLed, the state topic refusing every snapshot for 10 s, the broker frozen past the
session timeout, and the broker SIGKILLed and restarted (a worker frozen past the session
timeout: tests/test_kafka_exactly_once.py); every invariant must hold at the end. The slice
(60,000 rows from July 2011, burn-in 7 days) has the model predict and score, so the counts
are not 0 = 0."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from services import ROOT

pytestmark = pytest.mark.kafka


def test_a_short_chaos_run_keeps_every_invariant(data_path, june_model) -> None:
    command = [sys.executable, str(ROOT / "bench" / "chaos.py"), "--seed", "166", "--faults", "4",
               "--minutes", "2.5", "--skip", "245903", "--rows", "60000", "--burn-in-days", "7",
               "--malformed", "40", "--data", str(data_path), "--models", str(june_model)]
    # above the sum of chaos.py's own deadlines, so that a run that cannot settle reports why
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=1500)
    out = result.stdout
    assert result.returncode == 0, out[-4000:] + result.stderr[-3000:]
    injected = [line.split(":")[1].split()[0] for line in out.splitlines() if line.startswith("fault ")]
    assert injected == ["kill", "save-fails", "broker-freeze", "broker-kill"], out
    assert "recovered in   inf" not in out
    assert out.count("  holds ") == 4 and "BROKEN" not in out, out
    made, scored = re.search(r"offline ([\d,]+)/([\d,]+)", out).groups()
    assert int(made.replace(",", "")) > int(scored.replace(",", "")) > 0, out  # the model works here
