"""Running the real services (producer, detector) as processes, and reading what they emit."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.parse
from pathlib import Path

from confluent_kafka import Consumer, KafkaError, TopicPartition
from kafka_broker import free_port, wait_for

from detector.metrics import scrape
from detector.model.loader import load_latest
from detector.model.tracker import ModelConfig, ModelTracker
from producer import data
from producer.replay import partitions_of
from schemas import features

ROOT = Path(__file__).resolve().parents[1]

# A slice of the time-ordered year (the replay's --skip and --limit) on which the model
# predicts and scores: its first row, the first row of July 2011 (where drift is injected), its
# end, and the history a partition needs before its first prediction when it starts mid-year.
SLICE_START = 180_000  # 2011-05-08
JULY = 245_903  # 2011-07-01
SLICE_END = 300_000  # 2011-08-12, exclusive
SLICE_BURN_IN_DAYS = 14


def base_env(bootstrap: str, topics: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DETECTOR_", "PRODUCER_"))}
    return {**env, "KAFKA_BOOTSTRAP_SERVERS": bootstrap, "PYTHONPATH": str(ROOT), **topics, **extra}


def replay(env: dict[str, str], *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "producer", "replay", "--no-progress", *args],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


class Detector:
    """`python -m detector` in a subprocess, with its /metrics scraped over HTTP."""

    def __init__(self, env: dict[str, str], workdir: Path) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.reports = workdir / "reports"
        self.log = workdir / "detector.log"
        self.env = {"DETECTOR_MODELS_DIR": str(workdir / "models"), **env,
                    "DETECTOR_METRICS_PORT": str(self.port),
                    "DETECTOR_REPORTS_DIR": str(self.reports),
                    "DETECTOR_DATA_DIR": str(workdir / "state"), "DETECTOR_LOG_LEVEL": "info"}
        self.process: subprocess.Popen | None = None

    def start(self) -> Detector:
        self.process = subprocess.Popen([sys.executable, "-m", "detector"], env=self.env, cwd=ROOT,
                                        stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        wait_for(self._ready, 120, f"detector /metrics on port {self.port} (log {self.log})")
        return self

    def _ready(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"detector exited {self.process.returncode}: "
                               f"{self.log.read_text()[-3000:]}")
        return self.scrape() is not None

    def scrape(self, *names: str) -> dict[str, float]:
        """The worker's /metrics; only the samples ``names`` if given (prometheus_client's
        ``name[]`` query): a whole scrape costs the worker's pipeline process ~30 ms, and polls
        every 0.5 s of every series took 6–7 % of its time (bench/RESULTS.md)."""
        query = f"?{urllib.parse.urlencode([('name[]', name) for name in names])}" if names else ""
        return scrape(f"http://127.0.0.1:{self.port}/metrics{query}")

    def value(self, name: str) -> float:
        """One series' value (``name`` with its labels, if any)."""
        return self.scrape(name.split("{")[0]).get(name, 0.0)

    def total(self, prefix: str) -> float:
        """The sum of one metric's series whose name and labels start with ``prefix`` (the
        metric's sample name, then any labels)."""
        return sum(v for k, v in self.scrape(prefix.split("{")[0]).items() if k.startswith(prefix))

    def sum(self, name: str) -> float:
        """The sum of every series of the metric ``name`` (any labels)."""
        return metric_sum(self.scrape(name), name)

    def partition_events(self) -> dict[int, float]:
        """The partitions this worker owns, with the events their states hold."""
        return partition_events_of(self.scrape("clv_state_events"))

    def state_events(self) -> float:
        """Valid events in the states of the partitions this worker owns."""
        return self.sum("clv_state_events")

    def model_counts(self) -> tuple[float, float]:
        """Predictions made and scored in the states of the partitions this worker owns."""
        names = ("clv_state_model_predictions", "clv_state_model_scored")
        metrics = self.scrape(*names)
        return metric_sum(metrics, names[0]), metric_sum(metrics, names[1])

    def wait_processed(self, count: int, timeout: float = 900) -> None:
        def done() -> bool:
            if not self.alive:
                raise RuntimeError(f"detector exited: {self.log.read_text()[-3000:]}")
            return self.state_events() >= count

        wait_for(done, timeout, f"{count} events processed", interval=0.5)

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def rss_mb(self) -> tuple[float, float]:
        """Resident memory of the worker (Faust) process and of its pipeline process, MB."""
        pid = self.process.pid
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        # multiprocessing also starts a resource tracker: the pipeline is the spawned child
        pipeline = next(
            c for c in children if b"multiprocessing.spawn" in Path(f"/proc/{c}/cmdline").read_bytes()
        )
        return _rss_mb(pid), _rss_mb(int(pipeline))

    def kill(self) -> None:
        """SIGKILL to the worker and its pipeline process at once, as when its machine or
        container dies: no shutdown code runs in either."""
        pid = self.process.pid
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            os.kill(int(child), signal.SIGKILL)
        self.process.kill()
        self.process.wait(30)

    def stop(self) -> None:
        if self.alive:
            self.process.terminate()
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()


def read_topic(bootstrap: str, topic: str, timeout: float = 60, committed: bool = True) -> list:
    """Every message currently in a topic (all partitions, to their ends): at read_committed
    (librdkafka's default) none of an aborted or still open transaction, and its end is the
    last stable offset; ``committed=False`` reads those too."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"reader-{os.getpid()}-{topic}",
                         "enable.auto.commit": False, "auto.offset.reset": "earliest",
                         "enable.partition.eof": True,
                         "isolation.level": "read_committed" if committed else "read_uncommitted"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        consumer.assign([TopicPartition(topic, p, 0) for p in partitions])
        messages, ended = [], set()

        def drained() -> bool:
            for msg in consumer.consume(1000, timeout=0.5):
                if msg.error() is None:
                    messages.append(msg)
                elif msg.error().code() == KafkaError._PARTITION_EOF:
                    ended.add(msg.partition())
            return len(ended) == len(partitions)

        wait_for(drained, timeout, f"reading {topic} to its end", interval=0)
        return messages
    finally:
        consumer.close()


def metric_sum(metrics: dict[str, float], name: str) -> float:
    """From a worker's scrape: the sum of every series of the metric ``name`` (any labels)."""
    return sum(v for k, v in metrics.items() if k.split("{")[0] == name)


def partition_events_of(metrics: dict[str, float]) -> dict[int, float]:
    """From a worker's scrape: the partitions it owns, with the events their states hold."""
    return {int(k.split('partition="')[1].split('"')[0]): v for k, v in metrics.items()
            if k.startswith("clv_state_events{")}


def expected_model_counts(data_path: Path, models: Path, limit: int, partitions: int = 3,
                          skip: int = 0, burn_in_days: float | None = None) -> tuple[int, int]:
    """Predictions and scores the detector must reach on the time-ordered rows ``skip`` to
    ``limit`` − 1 (the replay's --skip and --limit): the offline model tracker on the rows split
    as librdkafka splits them."""
    frame = data.load_online_retail(data_path).sort_values("InvoiceDate", kind="stable")
    frame = frame.iloc[skip:limit].reset_index(drop=True)
    parts = partitions_of(frame, partitions)
    config = ModelConfig() if burn_in_days is None else ModelConfig(burn_in_days=burn_in_days)
    tracker = ModelTracker(config, load_latest(models))
    events = features.customer_events(frame)
    states = []
    for p in range(partitions):
        idx = (parts == p).nonzero()[0]
        states.append(tracker.new_state())
        tracker.update(states[-1], *([column[i] for i in idx] for column in events))
    return sum(s.predictions for s in states), sum(s.scored for s in states)


def partition_sizes(bootstrap: str, topic: str) -> list[int]:
    """Messages in each partition of ``topic`` (its end offsets)."""
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "sizes"})
    try:
        partitions = consumer.list_topics(topic, timeout=10).topics[topic].partitions
        return [consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in partitions]
    finally:
        consumer.close()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")
