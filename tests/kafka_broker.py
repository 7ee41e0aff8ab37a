"""A single-node KRaft Apache Kafka broker from the Maven Central jars, for tests.

Jars come from tools/kafka/pom.xml (fetched once into tools/kafka/target/jars); the broker
listens on OS-assigned loopback ports and is ready when an admin client lists topics.
"""

from __future__ import annotations

import base64
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KAFKA_DIR = ROOT / "tools" / "kafka"
JARS = KAFKA_DIR / "target" / "jars"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ensure_jars() -> Path:
    if not any(JARS.glob("kafka_2.13-*.jar")):
        subprocess.run(["mvn", "-B", "-q", "package"], cwd=KAFKA_DIR, check=True)
    return JARS


def wait_for(condition, timeout: float, what: str, interval: float = 0.2):
    """Poll ``condition`` until it returns a truthy value or the deadline passes."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except RuntimeError:  # the thing waited for is gone: no point waiting
            raise
        except Exception as error:  # the condition may fail until the thing is up
            last_error = error
        time.sleep(interval)  # poll interval of a deadline-bounded wait, not a fixed wait
    raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what} ({last_error})")


class KafkaBroker:
    def __init__(self) -> None:
        self.port = free_port()
        self.controller_port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="driftstream-kafka-"))
        self.process: subprocess.Popen | None = None
        self.log = self.dir / "broker.log"

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def properties(self) -> list[str]:
        return [
            "process.roles=broker,controller", "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{self.controller_port}",
            f"listeners=PLAINTEXT://127.0.0.1:{self.port},CONTROLLER://127.0.0.1:{self.controller_port}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{self.port}",
            "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
            "controller.listener.names=CONTROLLER", "inter.broker.listener.name=PLAINTEXT",
            f"log.dirs={self.dir / 'data'}", "num.partitions=1",
            "offsets.topic.replication.factor=1", "offsets.topic.num.partitions=4",
            "transaction.state.log.replication.factor=1", "transaction.state.log.min.isr=1",
            "group.initial.rebalance.delay.ms=0", "auto.create.topics.enable=true",
        ]

    def format_options(self) -> list[str]:
        return []

    def start(self, timeout: float = 120.0) -> KafkaBroker:
        classpath = str(ensure_jars()) + "/*"
        props = self.dir / "server.properties"
        props.write_text("\n".join([*self.properties(), ""]))
        java = ["java", "-Xms512m", "-Xmx768m", "-XX:+UseG1GC", "-Djava.awt.headless=true",
                f"-Dlog4j2.configurationFile={KAFKA_DIR / 'log4j2.properties'}",
                f"-Dkafka.logs.dir={self.dir}", "-cp", classpath]
        if not (self.dir / "data").exists():  # a restart keeps the log dirs: format once
            cluster_id = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=").replace("-", "A")
            subprocess.run(java + ["kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(props),
                                   *self.format_options()], check=True, capture_output=True)
        self.process = subprocess.Popen(java + ["kafka.Kafka", str(props)],
                                        stdout=self.log.open("ab"), stderr=subprocess.STDOUT)
        wait_for(self._ready, timeout, f"Kafka on {self.bootstrap} (log: {self.log})")
        return self

    def _ready(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f"broker exited: {self.log.read_text()[-2000:]}")
        from confluent_kafka.admin import AdminClient

        socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
        AdminClient({"bootstrap.servers": self.bootstrap}).list_topics(timeout=2)
        return True

    def halt(self) -> None:
        """Stop the broker, keeping its log dirs (start() brings it back on the same ports)."""
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(30)

    def stop(self) -> None:
        self.halt()
        shutil.rmtree(self.dir, ignore_errors=True)
