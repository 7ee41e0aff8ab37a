"""`python -m trainer serve`: retrain requests from Kafka, champion against challenger, and
every outcome recorded (the version's metadata, retrain.outcomes, the Pushgateway).

Each request is answered once. Its offset is committed only after its outcome is on
retrain.outcomes, and at start the service reads that topic: a trainer killed before it
recorded an outcome trains the request again; one killed after that skips it. A policy
request made before the last trained request finished is *superseded*: that training
already answered it (several workers ask at once when one drift reaches them all).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import orjson
import pandas as pd
from confluent_kafka import Consumer, KafkaException, TopicPartition

from producer import data
from schemas import artifacts, retrain
from schemas import kafka as connection
from schemas.batch_metrics import PushSettings, push_retrain, push_training
from schemas.retrain import InvalidRequest, RetrainOutcome, RetrainRequest
from schemas.topics import KafkaSettings, dead_letter
from trainer import versions
from trainer.champion import judge, serving
from trainer.features import TrainingDataError, select_window
from trainer.publish import ensure_retrain_topics, publish, read_outcomes, send_dead_letter, send_outcome
from trainer.settings import TrainerSettings
from trainer.train import fit

log = logging.getLogger(__name__)
READY = Path(tempfile.gettempdir()) / "driftstream-trainer.ready"


class RetrainService:
    def __init__(self, settings: TrainerSettings, kafka: KafkaSettings, push: PushSettings,
                 say: Callable[[str], None] = log.info) -> None:
        self.settings, self.kafka, self.push, self.say = settings, kafka, push, say
        connection.check(kafka)
        ensure_retrain_topics(kafka)
        self.outcomes = read_outcomes(kafka)
        self.answered = {o.request_id for o in self.outcomes}
        push_retrain(push, self.outcomes, in_progress=False)

    def run(self, once: bool = False) -> int:
        """Answer requests until stopped (``once``: until none is waiting); how many answered."""
        consumer = Consumer(self.kafka.librdkafka(**{
            "group.id": self.settings.group_id, "enable.auto.commit": False,
            "auto.offset.reset": "earliest", "max.poll.interval.ms": 3_600_000,
            "session.timeout.ms": 10_000}))  # a restarted trainer takes the requests over within 10 s
        consumer.subscribe([self.kafka.retrain_requests_topic])
        answered = 0
        READY.write_text(f"{os.getpid()}\n")  # compose's health check
        try:
            while True:
                msg = consumer.poll(1.0)
                if msg is None:
                    if once and self._drained(consumer):
                        return answered
                    continue
                if msg.error() is not None:
                    log.warning("retrain.requests: %s", msg.error())
                    continue
                self.handle(msg)
                consumer.commit(message=msg, asynchronous=False)
                answered += 1
        finally:
            READY.unlink(missing_ok=True)
            consumer.close()

    def _drained(self, consumer: Consumer) -> bool:
        assigned = consumer.assignment()
        if not assigned:
            return False
        committed = {tp.partition: tp.offset for tp in consumer.committed(assigned, timeout=30)}
        for tp in consumer.position(assigned):
            at = tp.offset if tp.offset >= 0 else max(committed.get(tp.partition, 0), 0)
            low, high = consumer.get_watermark_offsets(TopicPartition(tp.topic, tp.partition), timeout=30)
            if max(at, low) < high:
                return False
        return True

    def handle(self, msg) -> None:
        try:
            request = retrain.decode_request(msg.value())
        except InvalidRequest as error:
            value, headers = dead_letter(msg.value(), error.reason, error.detail, msg.topic(),
                                         msg.partition(), msg.offset())
            send_dead_letter(self.kafka, msg.key(), value, headers)
            self.say(f"request at offset {msg.offset()} is invalid ({error}): sent to {self.kafka.dlq_topic}")
            return
        if request.id in self.answered:
            self.say(f"request {request.id} was answered before: skipped")
            return
        self.say(f"request {request.id} from {request.requested_by} {request.who}: {request.reason}")
        outcome = superseded(request, self.outcomes) or self._decided_before(request)
        if outcome is None:
            push_retrain(self.push, self.outcomes, in_progress=True)
            outcome = self.retrain(request)
        send_outcome(self.kafka, outcome)
        self.outcomes.append(outcome)
        self.answered.add(request.id)
        push_retrain(self.push, self.outcomes, in_progress=False)
        self.say(f"request {request.id}: {outcome.outcome} — {outcome.detail}")

    def _decided_before(self, request: RetrainRequest) -> RetrainOutcome | None:
        """The outcome a trainer decided, and wrote into its challenger's metadata, but was killed
        before recording on retrain.outcomes: finished (announced again if promoted; workers
        ignore a version they have) instead of trained a second time."""
        found = versions.retrain_outcome(self.settings.models_dir, request.id)
        if found is None:
            return None
        path, recorded = found
        outcome = msgspec.convert(recorded, RetrainOutcome)
        if outcome.outcome == "promoted":
            if self.settings.publish:
                publish(self.kafka, orjson.loads((path / artifacts.METADATA).read_bytes()), path)
            artifacts.write_latest(self.settings.models_dir, path.name)
        self.say(f"request {request.id} was decided before a restart ({outcome.outcome}): not trained again")
        return outcome

    def retrain(self, request: RetrainRequest) -> RetrainOutcome:
        """Train a challenger on the recent window and judge it against the champion."""
        s, started = self.settings, time.monotonic()
        days = request.window_days or s.window_days
        try:
            frame = self._window(days)
            champion = serving(s.models_dir)
            horizon = champion.horizon_days if champion else s.horizon_days
            trained = fit(frame, horizon, progress=lambda m: self.say(f"• {m}"))
        except (data.DataError, TrainingDataError, ValueError, KafkaException) as error:
            push_training(self.push, success=False, seconds=time.monotonic() - started)
            return _outcome(request, started, "failed", str(error), horizon_days=s.horizon_days)
        where = s.data if s.data and not s.from_topic else f"topic {self.kafka.transactions_topic}"
        source = f"{where}, last {days} days"
        version, path = versions.save(s.models_dir, trained, frame, horizon, source, promote=False)
        verdict = judge(champion, frame, trained, s.promote_margin, request.force)
        outcome = _outcome(
            request, started, "promoted" if verdict.promote else "rejected", verdict.detail,
            margin=s.promote_margin,
            champion_version=champion.version if champion else None, challenger_version=version,
            champion_mae=verdict.champion_mae, challenger_mae=verdict.challenger_mae,
            cutoff=trained.test_cutoff, customers=verdict.customers, horizon_days=horizon,
            window=retrain.Window(f"{frame['InvoiceDate'].min():%Y-%m-%dT%H:%M:%S}",
                                  f"{frame['InvoiceDate'].max():%Y-%m-%dT%H:%M:%S}", len(frame)))
        metadata = versions.record_outcome(path, retrain.to_builtins(outcome))
        if verdict.promote:  # announced before recorded: a crash in between trains it again, and
            if s.publish:  # the new challenger must beat this one
                publish(self.kafka, metadata, path)
            artifacts.write_latest(s.models_dir, version)
        push_training(self.push, success=True, seconds=time.monotonic() - started, rows=len(frame),
                      version=version, holdout=trained.holdout, announced=verdict.promote)
        return outcome

    def _window(self, days: int) -> pd.DataFrame:
        s = self.settings
        if s.data and not s.from_topic:
            frame = data.load_online_retail(s.data)
        else:
            from trainer.topic_source import read_transactions

            frame = read_transactions(self.kafka)
        if s.since or s.until:
            frame = select_window(frame, s.since, s.until)
        start = frame["InvoiceDate"].max() - pd.Timedelta(days=days)
        return frame[frame["InvoiceDate"] > start].reset_index(drop=True)


def superseded(request: RetrainRequest, outcomes: list[RetrainOutcome]) -> RetrainOutcome | None:
    """A policy request asked before the last trained request finished: that one answered it.

    >>> asked = retrain.new_request("impact", "policy")
    >>> done = _outcome(asked, time.monotonic(), "promoted", "won")
    >>> superseded(asked, [done]).outcome
    'superseded'
    >>> superseded(retrain.new_request("impact", "person"), [done]) is None  # a person always trains
    True
    """
    trained = [o for o in outcomes if o.outcome in ("promoted", "rejected")]
    if request.requested_by != "policy" or not trained:
        return None
    last = trained[-1]
    if request.requested_at >= datetime.fromisoformat(last.finished_at):
        return None
    return _outcome(request, time.monotonic(), "superseded", f"asked before request {last.request_id} "
                    f"finished ({last.outcome} at {last.finished_at}), which answered it")


def _outcome(request: RetrainRequest, started: float, outcome: str, detail: str, **figures: object
             ) -> RetrainOutcome:
    return RetrainOutcome(request_id=request.id, outcome=outcome, reason=request.reason,
                          requested_by=request.requested_by, detail=detail,
                          finished_at=datetime.now(UTC).isoformat(),
                          seconds=round(time.monotonic() - started, 3), **figures)
