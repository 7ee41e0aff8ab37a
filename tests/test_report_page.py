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
from detector.pipeline.report_page import render
from detector.runtime.report_cli import episode_alarm

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


def test_an_episode_page_shows_the_episode_and_its_peak_alarm(tmp_path) -> None:
    """`python -m detector report --episode`: the episode from drift.events (its close replacing its
    open), the alarm of its span with the highest statistic over threshold, one page."""
    rng = np.random.default_rng(4)
    pipeline = Pipeline(MonitorConfig(reference_size=1_000, window_size=100, panes=4, episode_quiet=300),
                        Metrics(CollectorRegistry()), tmp_path / "reports")
    quantities = [*rng.integers(1, 10, 1_500), *rng.integers(30, 60, 200), *rng.integers(1, 10, 600)]
    events = []
    for start in range(0, len(quantities), 100):
        batch = []
        for i, q in enumerate(quantities[start:start + 100], start):
            row = {"InvoiceNo": str(500_000 + i), "StockCode": "A", "Description": None, "Quantity": int(q),
                   "InvoiceDate": f"2011-01-01T{10 + i // 1_000:02d}:{i // 60 % 60:02d}:{i % 60:02d}",
                   "UnitPrice": 2.0, "CustomerID": None, "Country": "United Kingdom"}
            batch.append(Message(b"k", orjson.dumps(row), [], "tx", 0, i))
        events += [orjson.loads(v) for _, v in pipeline.process(batch).drift_events]
    episode, peak = episode_alarm(events, "latest", "quantity")
    assert episode["state"] == "closed" and episode["feature"] == "quantity"
    inside = [e for e in events if e["kind"] == "alarm" and e["results"][0]["feature"] == "quantity"]
    assert len(inside) == episode["alarms"]
    ratio = [e["results"][0]["statistic"] / e["results"][0]["threshold"] for e in inside
             if e["results"][0]["test"] != "adwin"]  # an ADWIN detection counts 1 (its threshold: δ)
    assert peak["results"][0]["statistic"] / peak["results"][0]["threshold"] == max(ratio) == episode["peak"]
    assert episode_alarm(events, episode["id"], None) == (episode, peak)
    with pytest.raises(LookupError, match="no episode 'nope'"):
        episode_alarm(events, "nope", None)
    page = tmp_path / "episode.html"
    page.write_text(render(peak, episode=episode))
    html = page.read_text()
    assert f"quantity: drift episode of {episode['alarms']} alarm(s)" in html and episode["id"] in html
    assert "unmeasured (no model estimate)" in html
    shot = ARTIFACTS / "episode-report.png"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot.unlink(missing_ok=True)
    taken = chromium(page, tmp_path, f"--screenshot={shot}", "--window-size=1100,1300")
    assert taken.returncode == 0 and shot.stat().st_size > 20_000
