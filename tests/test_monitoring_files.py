"""Static checks of the monitoring stack: promtool, compose, dashboards."""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

from detector.runtime.settings import DetectorSettings
from producer.settings import ProducerSettings
from schemas.batch_metrics import PushSettings
from schemas.settings import settings_of
from schemas.topics import KafkaSettings
from trainer.settings import TrainerSettings

ROOT = Path(__file__).resolve().parents[1]
PROM = ROOT / "monitoring" / "prometheus"
GRAFANA = ROOT / "monitoring" / "grafana"
COMPOSE = yaml.safe_load((ROOT / "compose.yml").read_text())


def promtool(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("promtool") is None:
        pytest.fail("promtool is missing: `make test` installs Debian's prometheus package")
    return subprocess.run(["promtool", *args], cwd=PROM, capture_output=True, text=True, timeout=120)


def test_promtool_check_config() -> None:
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_check_rules() -> None:
    result = promtool("check", "rules", *[str(p) for p in sorted((PROM / "rules").glob("*.yml"))])
    assert result.returncode == 0, result.stdout + result.stderr


def test_promtool_unit_tests_of_every_alert() -> None:
    result = promtool("test", "rules", *[str(p) for p in sorted((PROM / "tests").glob("*.yml"))])
    assert result.returncode == 0, result.stdout + result.stderr
    unit_tests = "".join(p.read_text() for p in (PROM / "tests").glob("*.yml"))
    tested = set(re.findall(r"alertname: (\w+)", unit_tests))
    assert tested == {r["alert"] for r in alert_rules()}


def rules() -> list[dict]:
    return [rule for path in sorted((PROM / "rules").glob("*.yml"))
            for group in yaml.safe_load(path.read_text())["groups"] for rule in group["rules"]]


def alert_rules() -> list[dict]:
    return [rule for rule in rules() if "alert" in rule]


def test_every_recording_rule_is_unit_tested_or_read_by_an_alert() -> None:
    unit_tests = "".join(p.read_text() for p in (PROM / "tests").glob("*.yml"))
    alerts = " ".join(rule["expr"] for rule in alert_rules())
    untested = [r["record"] for r in rules() if "record" in r
                and f"expr: {r['record']}" not in unit_tests and r["record"] not in alerts]
    assert untested == []


def test_the_dashboard_is_the_sdk_builders_output() -> None:
    """Built with grafana-foundation-sdk (monitoring/grafana/dashboard.py): a misspelt field is an
    error there, and the committed JSON must be what it builds."""
    spec = importlib.util.spec_from_file_location("dashboard", GRAFANA / "dashboard.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert (GRAFANA / "dashboards" / "clv_drift.json").read_text() == module.render(), \
        "regenerate with: python monitoring/grafana/dashboard.py"


def test_alert_rules_carry_for_severity_and_annotations() -> None:
    for rule in alert_rules():
        assert "for" in rule, rule["alert"]
        # page: a person is woken; info: read on the dashboard
        assert rule["labels"]["severity"] in ("info", "warning", "critical", "page"), rule["alert"]
        assert rule["annotations"]["summary"] and rule["annotations"]["description"], rule["alert"]


def test_compose_matches_the_compose_specification() -> None:
    path = ROOT / "build" / "compose_spec.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: `make test` fetches it (docker-compose 1.29.2 wheel)")
    schema = json.loads(path.read_text())
    schema.pop("$schema")  # draft 2019-09 vocabulary; validate with the current draft
    jsonschema.validate(COMPOSE, schema)


def test_every_file_compose_mounts_exists() -> None:
    for name, service in COMPOSE["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
        if "build" in service:
            assert (ROOT / "Dockerfile").exists()


# Values compose fixes because the deployment decides them (ports, mounts, the broker).
DEPLOYMENT = {"KAFKA_BOOTSTRAP_SERVERS", "PUSHGATEWAY_URL", "DETECTOR_METRICS_PORT", "DETECTOR_METRICS_HOST",
              "DETECTOR_REPORTS_DIR", "DETECTOR_DATA_DIR", "DETECTOR_MODELS_DIR", "PRODUCER_DATA",
              "PRODUCER_CACHE_DIR", "TRAINER_DATA", "TRAINER_MODELS_DIR"}


def test_compose_passes_every_setting_through_without_restating_defaults() -> None:
    kafka = {s.env for s in settings_of(KafkaSettings)}
    push = {s.env for s in settings_of(PushSettings)}
    services = {"detector": (DetectorSettings, set()), "producer": (ProducerSettings, push),
                "trainer": (TrainerSettings, push)}
    for name, (cls, extra) in services.items():
        env = COMPOSE["services"][name]["environment"]
        own = {s.env for s in settings_of(cls)} | kafka | extra
        assert set(env) == own, f"{name}: unknown {set(env) - own}, cannot be given {own - set(env)}"
        for var, value in env.items():
            assert value is None or var in DEPLOYMENT, f"{name} restates {var}: {value}"


def test_compose_services_start_the_entry_points_the_tests_run() -> None:
    services = COMPOSE["services"]
    assert services["detector"]["command"] == ["python", "-m", "detector"]
    assert services["producer"]["entrypoint"] == ["python", "-m", "producer"]
    assert services["trainer"]["entrypoint"] == ["python", "-m", "trainer"]
    assert services["kafka"]["image"].split(":")[1] in (ROOT / "tools" / "kafka" / "pom.xml").read_text()
    for name, service in services.items():
        assert "healthcheck" in service or "tools" in service.get("profiles", []), name
        for dep in service.get("depends_on", {}).values():
            assert dep["condition"] == "service_healthy", name
    grafana_env = services["grafana"]["environment"]
    assert grafana_env["GF_SECURITY_ADMIN_PASSWORD"].startswith("${GRAFANA_ADMIN_PASSWORD:?")
    assert grafana_env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def dashboards() -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((GRAFANA / "dashboards").glob("*.json"))]


def test_dashboards_are_valid_with_unique_ids_and_the_provisioned_datasource() -> None:
    datasource = yaml.safe_load((GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    uid = datasource["datasources"][0]["uid"]
    for dash in dashboards():
        ids = [p["id"] for p in dash["panels"]]
        assert len(ids) == len(set(ids))
        for panel in dash["panels"]:
            assert panel["datasource"]["uid"] == uid
            assert panel["targets"] and all(t["datasource"]["uid"] == uid for t in panel["targets"])
    titles = {p["title"] for d in dashboards() for p in d["panels"]}
    assert {"Data Drift Events", "Model Drift Events"} <= titles
    assert "CLV Drift Dashboard" in {d["title"] for d in dashboards()}


def test_every_exported_metric_is_on_a_panel() -> None:
    from prometheus_client import CollectorRegistry

    from detector.metrics import Metrics

    registry = CollectorRegistry()
    Metrics(registry)
    names = {m.name for m in registry.collect()}
    exprs = " ".join(t["expr"] for d in dashboards() for p in d["panels"] for t in p["targets"])
    missing = {n for n in names if n not in exprs}
    assert missing == set(), f"metrics on no panel: {missing}"
