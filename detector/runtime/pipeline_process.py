"""The pipeline in a child process, so drift detection runs beside Faust, not inside it.

Faust's event loop and its consumer thread share one GIL; every microsecond of detection
there also stalls fetching. The child owns the pipeline, the Prometheus registry, the
/metrics server and the checkpoint; the Faust agent sends it raw batches and awaits the
result, and acks events only once a checkpoint holds them (nothing lost on a crash).
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
from multiprocessing.connection import Connection

from detector.runtime.settings import DetectorSettings

log = logging.getLogger(__name__)


class PipelineProcess:
    def __init__(self, settings: DetectorSettings, topic: str) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self.child = context.Process(target=_serve, args=(child, settings.model_dump(), topic),
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

    async def process(self, messages: list[tuple]) -> tuple[list, list, bool]:
        """Dead letters, drift events, and whether a checkpoint now holds everything processed,
        for a batch of (key, value, headers, topic, partition, offset)."""
        async with self._lock:
            self._conn.send(("batch", messages))
            loop = asyncio.get_running_loop()
            kind, dead_letters, drift_events, checkpointed = await loop.run_in_executor(None, self._recv)
        return dead_letters, drift_events, checkpointed

    async def checkpoint(self) -> bool:
        """Checkpoint now if anything is unsaved; True when the checkpoint holds everything."""
        async with self._lock:
            self._conn.send(("checkpoint", None))
            loop = asyncio.get_running_loop()
            kind, checkpointed = await loop.run_in_executor(None, self._recv)
        return checkpointed

    def model_update(self, version: str, path: str | None) -> None:
        self._conn.send(("model", (version, path)))

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


def _serve(conn: Connection, settings_fields: dict, topic: str) -> None:
    from prometheus_client import CollectorRegistry, start_http_server

    from detector.metrics import Metrics
    from detector.model import loader
    from detector.pipeline.messages import Message
    from detector.pipeline.pipeline import Pipeline
    from detector.runtime.checkpoint import Checkpointer

    settings = DetectorSettings(**settings_fields)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        model = loader.load_latest(settings.models_dir)
    except loader.ModelLoadError as error:
        conn.send(("error", str(error)))
        return

    def fresh() -> tuple[CollectorRegistry, Pipeline]:
        registry = CollectorRegistry()
        return registry, Pipeline(settings.monitor, Metrics(registry), settings.reports_dir,
                                  settings.model, model, settings.limits())

    registry, pipeline = fresh()
    checkpointer = Checkpointer(settings.data_dir / "pipeline-state.pkl", topic,
                                settings.checkpoint_seconds)
    saved = checkpointer.load()
    if saved is not None:
        try:
            pipeline.restore(saved)
            log.info("restored the checkpoint: %d events, offsets %s", pipeline.state.processed,
                     pipeline.state.offsets)
        except Exception as error:  # a state that loads but does not fit: start from Kafka
            log.warning("ignoring checkpoint: cannot restore it: %s: %s", type(error).__name__, error)
            checkpointer.rejected += 1
            registry, pipeline = fresh()
    pipeline.metrics.state_rejected.inc(checkpointer.rejected)
    try:
        server, _ = start_http_server(settings.metrics_port, settings.metrics_host, registry)
    except OSError as error:
        conn.send(("error", f"cannot serve /metrics on port {settings.metrics_port}: {error}"))
        return
    conn.send(("ready", server.server_port))
    unsaved = False

    def checkpoint() -> bool:
        nonlocal unsaved
        if unsaved:
            checkpointer.save(pipeline.state)
            unsaved = False
        return True

    while True:
        try:
            kind, payload = conn.recv()
        except EOFError:  # the worker is gone
            return
        if kind == "batch":
            out = pipeline.process([Message(*m) for m in payload])
            unsaved = True
            conn.send(("out", out.dead_letters, out.drift_events, checkpointer.due() and checkpoint()))
        elif kind == "checkpoint":
            conn.send(("checkpointed", checkpoint()))
        elif kind == "model":
            _update_model(pipeline, settings, *payload)
        elif kind == "lag":
            for partition, lag in payload.items():
                pipeline.metrics.lag.labels(str(partition)).set(lag)
        elif kind == "stop":
            checkpoint()
            pipeline.metrics.up.set(0)
            return


def _update_model(pipeline, settings: DetectorSettings, version: str, path: str | None) -> None:
    """Swap to an announced version if it is newer than the one in use (versions sort by time)."""
    from detector.model import loader

    if pipeline.model_version is not None and version <= pipeline.model_version:
        log.info("model update %s ignored: %s is in use", version, pipeline.model_version)
        return
    try:
        pipeline.use_model(loader.load(loader.resolve(settings.models_dir, version, path)))
    except loader.ModelLoadError as error:
        log.error("model update %s not applied: %s", version, error)
