"""Bad messages on a real broker: every one in the DLQ with its reason, every valid one counted."""

from __future__ import annotations

from collections import Counter

import pytest
from services import Detector, base_env, read_topic, replay

from producer.replay import MALFORMED
from schemas.topics import HEADER_ERROR_REASON, HEADER_SOURCE_OFFSET, HEADER_SOURCE_PARTITION

pytestmark = pytest.mark.kafka


def test_malformed_messages_land_in_the_dlq(kafka_bootstrap, topics, data_path, tmp_path) -> None:
    env = base_env(kafka_bootstrap, topics, DETECTOR_REFERENCE_SIZE="2000")
    detector = Detector(env, tmp_path).start()
    try:
        result = replay(env, "--data", str(data_path), "--limit", "30000", "--malformed", "1000")
        assert result.returncode == 0, result.stderr
        assert "31000 delivered, 0 failed" in " ".join(result.stderr.split())
        detector.wait_processed(30_000)
        dlq = read_topic(kafka_bootstrap, topics["DLQ_TOPIC"])
        assert len(dlq) == 1_000
        # The producer cycles through the kinds of breakage: k-th bad message has kind k mod 7.
        expected = Counter(MALFORMED[k % len(MALFORMED)][0] for k in range(1_000))
        assert Counter(dict(m.headers())[HEADER_ERROR_REASON].decode() for m in dlq) == expected
        source = {(m.partition(), m.offset()): m.value()
                  for m in read_topic(kafka_bootstrap, topics["TRANSACTIONS_TOPIC"])}
        for m in dlq:  # the original bytes, pointing back at where they came from
            headers = dict(m.headers())
            where = (int(headers[HEADER_SOURCE_PARTITION]), int(headers[HEADER_SOURCE_OFFSET]))
            assert source[where] == m.value()
        metrics = detector.scrape()
        assert metrics["clv_events_processed_total"] == 30_000
        for reason, count in expected.items():
            assert metrics[f'clv_events_invalid_total{{reason="{reason}"}}'] == count
        assert detector.alive
    finally:
        detector.stop()
