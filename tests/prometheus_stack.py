"""Debian's Prometheus and Pushgateway, started by the tests on free ports, with the
project's own configuration and rules."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import yaml
from kafka_broker import free_port, wait_for

ROOT = Path(__file__).resolve().parents[1]
PROM = ROOT / "monitoring" / "prometheus"


def binary(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: `make test` installs it (Debian packages prometheus, "
                    "prometheus-pushgateway)")
    return path


class Pushgateway:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.log = workdir / "pushgateway.log"
        self.process = subprocess.Popen([binary("prometheus-pushgateway"),
                                         f"--web.listen-address=127.0.0.1:{self.port}"],
                                        stdout=self.log.open("wb"), stderr=subprocess.STDOUT)
        wait_for(lambda: requests.get(f"{self.url}/-/ready", timeout=2).ok, 60, "pushgateway ready")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(30)


class Prometheus:
    """Scrapes the given detectors (the job of monitoring/prometheus/prometheus.yml) and the
    Pushgateway (its job there, honor_labels), every second; evaluates the rules every second."""

    def __init__(self, workdir: Path, detector_ports: list[int],
                 pushgateway: Pushgateway | None = None) -> None:
        self.port = free_port()
        config = yaml.safe_load((PROM / "prometheus.yml").read_text())
        config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
        config["rule_files"] = [str(p) for p in sorted((PROM / "rules").glob("*.yml"))]
        jobs = {job["job_name"]: job for job in config["scrape_configs"]}
        detectors, pushed = jobs["driftstream-detector"], jobs["pushgateway"]
        detectors.pop("dns_sd_configs", None)
        detectors["static_configs"] = [{"targets": [f"127.0.0.1:{port}" for port in detector_ports]}]
        pushed["static_configs"] = [{"targets": [f"127.0.0.1:{pushgateway.port}"]}] if pushgateway else []
        path = workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        self.log = workdir / "prometheus.log"
        self.process = subprocess.Popen(
            [binary("prometheus"), f"--config.file={path}", f"--storage.tsdb.path={workdir / 'tsdb'}",
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
