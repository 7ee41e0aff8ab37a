"""New model versions reach every worker: model.updates read as a broadcast, files from Kafka.

A consumer group would give each announcement to one worker only, so every worker reads
every partition of model.updates itself, from the beginning, with no group. An
announcement names the version and where its files are on model.artifacts (partition and
offset); a worker that lacks the version in its own models directory (another machine,
an empty disk) fetches them from there.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import orjson
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, TopicPartition

from schemas import artifacts
from schemas.topics import KafkaSettings

log = logging.getLogger(__name__)


class ModelFollower:
    def __init__(self, kafka: KafkaSettings, models_dir: Path, timeout: float = 30.0) -> None:
        self.kafka = kafka
        self.models_dir = models_dir
        self.timeout = timeout
        config = kafka.librdkafka(**{"group.id": "driftstream-model-follower", "enable.auto.commit": False,
                                     "enable.partition.eof": True,
                                     "fetch.max.bytes": artifacts.MAX_PACKED_BYTES,
                                     "max.partition.fetch.bytes": artifacts.MAX_PACKED_BYTES})
        self._updates = Consumer(config)
        self._artifacts = Consumer(config)
        topic = kafka.model_updates_topic
        partitions = self._updates.list_topics(topic, timeout=timeout).topics[topic].partitions
        self._updates.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in partitions])
        self._ends = {p: self._updates.get_watermark_offsets(TopicPartition(topic, p), timeout=timeout)[1]
                      for p in partitions}

    def catch_up(self) -> dict | None:
        """Read every announcement made so far; the newest version's (None: there is none)."""
        newest = None
        deadline = time.monotonic() + self.timeout
        position = {p: 0 for p in self._ends}
        while any(position[p] < end for p, end in self._ends.items()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"reading {self.kafka.model_updates_topic} took longer than "
                                   f"{self.timeout:.0f} s")
            for msg in self._updates.consume(500, timeout=0.5):
                if msg.error() is None:
                    position[msg.partition()] = msg.offset() + 1
                    newest = _newer(newest, _announcement(msg.value()))
                elif msg.error().code() == KafkaError._PARTITION_EOF:
                    position[msg.partition()] = max(position[msg.partition()], msg.offset())
        return newest

    def poll(self) -> dict | None:
        """The newest announcement that arrived since the last call, if any (never waits)."""
        newest = None
        for msg in self._updates.consume(100, timeout=0):
            if msg.error() is None:
                newest = _newer(newest, _announcement(msg.value()))
        return newest

    def install(self, announcement: dict) -> Path:
        """The announced version's directory here: ours if we have it, else fetched from
        model.artifacts, else the path the trainer announced (a shared volume)."""
        version = announcement["version"]
        local = self.models_dir / version
        if all((local / name).exists() for name in artifacts.REQUIRED_FILES):
            return local
        where = announcement.get("artifact")
        if where:
            data = self._fetch(where["topic"], int(where["partition"]), int(where["offset"]), version)
            path = artifacts.unpack(data, self.models_dir, version)
            log.info("model %s fetched from %s (%d bytes)", version, where["topic"], len(data))
            return path
        if announcement.get("path"):
            return Path(announcement["path"])
        return local

    def _fetch(self, topic: str, partition: int, offset: int, version: str) -> bytes:
        self._artifacts.assign([TopicPartition(topic, partition, offset)])
        try:
            deadline = time.monotonic() + self.timeout
            while time.monotonic() < deadline:
                msg = self._artifacts.poll(1.0)
                if msg is None or (msg.error() and msg.error().code() == KafkaError._PARTITION_EOF):
                    continue
                if msg.error() is not None:
                    raise RuntimeError(f"reading {topic}: {msg.error()}")
                if msg.key() != version.encode():
                    raise RuntimeError(f"{topic}[{partition}]@{offset} holds {msg.key()!r}, not {version}")
                return msg.value()
            raise RuntimeError(f"model {version} not found on {topic}[{partition}]@{offset}")
        finally:
            self._artifacts.unassign()

    def close(self) -> None:
        self._updates.close()
        self._artifacts.close()


def _announcement(value: bytes | None) -> dict | None:
    try:
        update = orjson.loads(value or b"")
        if isinstance(update, dict) and isinstance(update.get("version"), str):
            return update
    except orjson.JSONDecodeError:
        pass
    log.warning("ignoring a malformed model update: %r", (value or b"")[:200])
    return None


def _newer(current: dict | None, candidate: dict | None) -> dict | None:
    """Versions sort by time (schemas/artifacts.py)."""
    if candidate is None:
        return current
    if current is None or candidate["version"] > current["version"]:
        return candidate
    return current
