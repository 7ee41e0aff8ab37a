"""Every dashboard query and alert rule, run against a real Prometheus scraping the detector."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import yaml
from kafka_broker import free_port, wait_for
from services import base_env, replay

pytestmark = pytest.mark.kafka
ROOT = Path(__file__).resolve().parents[1]
PROM = ROOT / "monitoring" / "prometheus"
ROWS = 60_000
DRIFT_ALERTS = {"DataDriftDetected", "ModelDriftDetected"}


class Prometheus:
    def __init__(self, workdir: Path, detector_ports: list[int]) -> None:
        if shutil.which("prometheus") is None:
            pytest.fail("prometheus is missing: `make test` installs Debian's prometheus package")
        self.port = free_port()
        config = yaml.safe_load((PROM / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(p) for p in sorted((PROM / "rules").glob("*.yml"))]
        config["scrape_configs"][0].pop("dns_sd_configs", None)
        config["scrape_configs"][0]["static_configs"] = [
            {"targets": [f"127.0.0.1:{port}" for port in detector_ports]}]
        path = workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        self.log = workdir / "prometheus.log"
        self.process = subprocess.Popen(
            ["prometheus", f"--config.file={path}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        wait_for(lambda: requests.get(f"{self.url}/-/ready", timeout=2).ok, 60, "prometheus ready")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def query(self, expr: str) -> list:
        response = requests.get(f"{self.url}/api/v1/query", params={"query": expr}, timeout=10)
        body = response.json()
        assert body["status"] == "success", f"{expr}: {body}"
        return body["data"]["result"]

    def evaluated(self, times: int):
        """A condition: the rule groups have been evaluated ``times`` more times from now."""
        seen: set[str] = set()

        def condition() -> bool:
            groups = requests.get(f"{self.url}/api/v1/rules", timeout=10).json()["data"]["groups"]
            seen.add(min(g["lastEvaluation"] for g in groups))
            return len(seen) > times

        return condition

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


def panel_queries() -> list[str]:
    exprs = []
    for path in sorted((ROOT / "monitoring" / "grafana" / "dashboards").glob("*.json")):
        for panel in json.loads(path.read_text())["panels"]:
            exprs += [t["expr"].replace("$__rate_interval", "1m") for t in panel["targets"]]
    return exprs


def rule_queries() -> dict[str, str]:
    """Each alert's expression without its final comparison: the series it judges."""
    rules = {}
    for path in sorted((PROM / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text())["groups"]:
            for rule in (r for r in group["rules"] if "alert" in r):
                expr = " ".join(rule["expr"].split())
                rules[rule["alert"]] = re.sub(r"\s*(==|!=|>=|<=|>|<)\s*[\d.e+-]+\s*$", "", expr)
    return rules


@pytest.fixture
def stack(kafka_bootstrap, topics, data_path, tmp_path, start_detector):
    """``stack(*replay_args, rows=, **env)``: a detector, a Prometheus scraping it, a replay
    it has fully scraped. Stopped when the test ends."""
    started: list[Prometheus] = []

    def run(*args: str, rows: int = ROWS, **env_extra: str) -> tuple:
        env = base_env(kafka_bootstrap, topics, DETECTOR_REFERENCE_SIZE="5000", **env_extra)
        detector = start_detector(env)
        prometheus = Prometheus(tmp_path, [detector.port])
        started.append(prometheus)
        result = replay(env, "--data", str(data_path), "--limit", str(rows), "--malformed", "300", *args)
        assert result.returncode == 0, result.stderr
        wait_for(lambda: prometheus.query(f"clv_events_processed_total >= {rows}"), 300,
                 "Prometheus to scrape every processed event", interval=1)
        return detector, prometheus

    yield run
    for prometheus in started:
        prometheus.stop()


def test_every_panel_and_alert_query_returns_data_and_drift_alerts_fire(stack) -> None:
    _, prometheus = stack("--scenario", "scale", "--onset", "0.5")
    firing = wait_for(lambda: prometheus.query('ALERTS{alertname="DataDriftDetected"}'), 60,
                      "DataDriftDetected in ALERTS", interval=1)
    assert {a["metric"]["feature"] for a in firing} & {"quantity", "unit_price", "line_total"}
    empty = [e for e in panel_queries() if not prometheus.query(e)]
    assert empty == [], f"panel queries without data: {empty}"
    empty = [name for name, e in rule_queries().items() if not prometheus.query(e)]
    assert empty == [], f"alert expressions without data: {empty}"


def test_no_drift_alert_on_a_clean_shuffled_replay(stack) -> None:
    detector, prometheus = stack()
    wait_for(prometheus.evaluated(3), 60, "three rule evaluations on complete data", interval=0.5)
    alerts = {a["metric"]["alertname"] for a in prometheus.query("ALERTS")}
    assert not alerts & DRIFT_ALERTS
    assert detector.total("clv_drift_detected_total") == 0


def test_model_panels_show_scored_figures_and_the_model_alert_fires(stack, june_model) -> None:
    """With a model and a time-ordered replay (outliers from July 2011): real model figures."""
    _, prometheus = stack("--order", "time", "--scenario", "outliers", "--onset", "245903", rows=270_000,
                          DETECTOR_MODELS_DIR=str(june_model))
    firing = wait_for(lambda: prometheus.query('ALERTS{alertname="ModelDriftDetected"}'), 60,
                      "ModelDriftDetected in ALERTS", interval=1)
    assert {a["metric"]["feature"] for a in firing} & {"error", "prediction"}
    version = (june_model / "latest").read_text().strip()
    model_panels = [e for e in panel_queries() if "clv_model" in e]
    assert len(model_panels) >= 6
    empty = [e for e in model_panels if not [r for r in prometheus.query(e)
                                             if r["value"][1] not in ("NaN", "0")]]
    assert empty == [], f"model panels without figures: {empty}"
    shown = prometheus.query("clv_model_version_info == 1")
    assert [r["metric"]["version"] for r in shown] == [version]
