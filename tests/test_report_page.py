"""An alarm as a page: rendered by the pipeline beside the JSON report, opened in headless
Chromium (Debian's), no console message, a screenshot kept as an artifact."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import orjson
import pytest
from prometheus_client import CollectorRegistry

from detector.drift.monitor import MonitorConfig
from detector.metrics import Metrics
from detector.pipeline.messages import Message
from detector.pipeline.pipeline import Pipeline
from detector.pipeline.report import PAGE_NAME

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "build" / "test-artifacts"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def chromium(page: Path, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    binary = shutil.which("chromium")
    if binary is None:
        pytest.fail("chromium is missing: `make test` installs Debian's chromium")
    return subprocess.run([binary, *FLAGS, f"--user-data-dir={tmp_path / 'chromium'}",
                           "--enable-logging=stderr", "--v=0", *flags, page.as_uri()],
                          capture_output=True, text=True, timeout=120)


def console_messages(result: subprocess.CompletedProcess) -> list[str]:
    return [line for line in result.stderr.splitlines() if ":CONSOLE" in line or "Uncaught" in line]


def alarm_pages(tmp_path: Path) -> dict[str, Path]:
    """Pages of real alarms: the pipeline, a reference of UK rows with small quantities, then a
    window of larger quantities (a numeric alarm), or one half from France (a categorical one)."""
    rng = np.random.default_rng(3)
    pages = {}

    def message(i: int, quantity: int, country: str) -> Message:
        row = {"InvoiceNo": str(500_000 + i), "StockCode": "A", "Description": None, "Quantity": quantity,
               "InvoiceDate": "2011-01-01T10:00:00", "UnitPrice": 2.0, "CustomerID": None, "Country": country}
        return Message(b"k", orjson.dumps(row), [], "tx", 0, i)

    for feature in ("quantity", "country"):
        reports = tmp_path / feature
        pipeline = Pipeline(MonitorConfig(reference_size=1_000, window_size=100, panes=4),
                            Metrics(CollectorRegistry()), reports)
        reference = rng.integers(1, 10, 1_500)
        pipeline.process([message(i, int(q), "United Kingdom") for i, q in enumerate(reference)])
        quantities = rng.integers(30, 60, 50) if feature == "quantity" else rng.integers(1, 10, 50)
        countries = ["France" if feature == "country" and i % 2 else "United Kingdom" for i in range(50)]
        drifted = [message(1_500 + i, int(q), c)
                   for i, (q, c) in enumerate(zip(quantities, countries, strict=True))]
        pipeline.process(drifted)  # the pane that completes the window raises the alarm
        pages[feature] = reports / PAGE_NAME
    return pages


def test_the_alarm_pages_render_without_console_messages(tmp_path) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for feature, page in alarm_pages(tmp_path).items():
        html = page.read_text()
        assert "<script" not in html and "http" not in html.replace("http://www.w3.org/2000/svg", "")
        alarmed = "country" if feature == "country" else ("quantity", "line_total")  # the batch's last alarm
        assert html.split("<title>")[1].split(" / ")[0] in alarmed and "against current window" in html
        dom = chromium(page, tmp_path, "--dump-dom")
        assert dom.returncode == 0, dom.stderr[-2000:]
        assert "<svg" in dom.stdout and ("<polyline" in dom.stdout) == (feature == "quantity")
        assert console_messages(dom) == []
        shot = ARTIFACTS / f"alarm-report-{feature}.png"
        shot.unlink(missing_ok=True)
        taken = chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1100,1300")
        assert taken.returncode == 0 and shot.stat().st_size > 20_000


def test_a_console_message_would_be_seen(tmp_path) -> None:
    """The check above can fail: a page that logs to the console is caught."""
    page = tmp_path / "noisy.html"
    page.write_text('<!DOCTYPE html><html><body><script>console.error("broken")</script></body></html>')
    assert any("broken" in line for line in console_messages(chromium(page, tmp_path, "--dump-dom")))
