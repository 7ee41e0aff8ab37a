"""The pipeline in a child process, so drift detection runs beside Faust, not inside it.

Faust's event loop and its consumer thread share one GIL; every microsecond of detection
there also stalls fetching. The child owns the pipeline, the Prometheus registry and the
/metrics server; the Faust agent sends it raw batches and awaits the result, so offsets
are still acked only after a batch is processed (nothing lost on a crash).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from multiprocessing.connection import Connection

from detector.settings import DetectorSettings

log = logging.getLogger(__name__)


class PipelineProcess:
    def __init__(self, settings: DetectorSettings) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.child = context.Process(target=_serve, args=(child, settings.model_dump()),
                                       name="driftstream-pipeline", daemon=True)
        self._lock = asyncio.Lock()

    def start(self, timeout: float = 60.0) -> int:
        """Start the child; return its /metrics port, or raise with its error."""
        self.child.start()
        if not self._conn.poll(timeout):
            raise RuntimeError("the pipeline process did not start")
        kind, detail = self._conn.recv()
        if kind != "ready":
            raise RuntimeError(detail)
        return detail

    async def process(self, messages: list[tuple]) -> tuple[list, list]:
        """Dead letters and drift events for a batch of (key, value, headers, topic, partition, offset)."""
        async with self._lock:
            self._conn.send(("batch", messages))
            loop = asyncio.get_running_loop()
            kind, dead_letters, drift_events = await loop.run_in_executor(None, self._recv)
        return dead_letters, drift_events

    def _recv(self) -> tuple:
        try:
            return self._conn.recv()
        except EOFError:
            raise RuntimeError(f"the pipeline process died (exit code {self.child.exitcode})") from None

    def lag(self, lags: dict[int, int]) -> None:
        self._conn.send(("lag", lags))

    def stop(self) -> None:
        if self.child.is_alive():
            self._conn.send(("stop", None))
            self.child.join(10)
        if self.child.is_alive():
            self.child.terminate()


def _serve(conn: Connection, settings_fields: dict) -> None:
    from prometheus_client import CollectorRegistry, start_http_server

    from detector.metrics import Metrics
    from detector.pipeline import Message, Pipeline

    settings = DetectorSettings(**settings_fields)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    registry = CollectorRegistry()
    try:
        pipeline = Pipeline(settings.monitor_config(), Metrics(registry), settings.reports_dir)
        server, _ = start_http_server(settings.metrics_port, settings.metrics_host, registry)
    except OSError as error:
        conn.send(("error", f"cannot serve /metrics on port {settings.metrics_port}: {error}"))
        return
    conn.send(("ready", server.server_port))
    while True:
        try:
            kind, payload = conn.recv()
        except EOFError:  # the worker is gone
            return
        if kind == "batch":
            out = pipeline.process([Message(*m) for m in payload])
            conn.send(("out", out.dead_letters, out.drift_events))
        elif kind == "lag":
            for partition, lag in payload.items():
                pipeline.metrics.lag.labels(str(partition)).set(lag)
        elif kind == "stop":
            pipeline.metrics.up.set(0)
            return
