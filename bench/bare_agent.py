"""A bare Faust agent: reads the topic with the detector's Faust settings and does nothing.

Writes "<first event unix time> <last> <events>" to --out once it has read --expect events.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import faust

from detector.runtime.app import faust_app
from detector.runtime.settings import DetectorSettings
from schemas.topics import KafkaSettings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--group", default="bare-agent")
    parser.add_argument("--out", required=True, help="file to write the result line to")
    parser.add_argument("--transport", default="kafka", choices=["kafka", "confluent"],
                        help="Faust's driver: kafka (aiokafka) or confluent (confluent-kafka)")
    args = parser.parse_args()
    settings = DetectorSettings(data_dir=tempfile.mkdtemp(prefix="bare-agent-"))
    app = faust_app(args.group, settings, KafkaSettings(), args.transport)
    seen = {"n": 0, "first": 0.0}

    @app.agent(app.topic(args.topic))
    async def bare(stream):
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            if not seen["n"]:
                seen["first"] = time.time()
            seen["n"] += len(batch)
            if seen["n"] >= args.expect:
                with open(args.out, "w") as out:
                    out.write(f"{seen['first']} {time.time()} {seen['n']}\n")
                os._exit(0)

    faust.Worker(app, loglevel="WARNING", quiet=True).execute_from_commandline()


if __name__ == "__main__":
    main()
