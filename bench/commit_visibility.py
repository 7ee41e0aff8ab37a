"""What a reader sees right after a transaction's commit returns: the group's offsets and the
state topic's stable end, taken once each as soon as ``commit_transaction`` returns.

A commit returns once the coordinator has decided it; the markers that make the records
readable at read_committed and the offsets visible are written after that, partition by
partition. Counts, over --commits transactions (each: one record to each of 6 state-topic
partitions and the offsets of 6 input partitions): how often the state topic's stable end is
still behind its high watermark, how often the offsets are already the new ones, and both at
once — a new owner that restored then would read on from the new offsets with the snapshot
before (detector/runtime/state_store.py waits for the partition's transaction to end).

    python bench/commit_visibility.py --commits 200
"""

from __future__ import annotations

import argparse
import time

from confluent_kafka import Consumer, ConsumerGroupTopicPartitions, IsolationLevel, Producer, TopicPartition
from confluent_kafka.admin import AdminClient, NewTopic, OffsetSpec
from fleet import KafkaBroker

PARTITIONS = 6


def ends(admin: AdminClient, topic: str, level: IsolationLevel) -> dict[int, int]:
    specs = {TopicPartition(topic, p): OffsetSpec.latest() for p in range(PARTITIONS)}
    futures = admin.list_offsets(specs, isolation_level=level)
    return {tp.partition: f.result().offset for tp, f in futures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--commits", type=int, default=200)
    args = parser.parse_args()
    broker = KafkaBroker().start()
    try:
        bootstrap = broker.bootstrap
        admin = AdminClient({"bootstrap.servers": bootstrap})
        topics = [NewTopic(name, PARTITIONS, 1) for name in ("state", "input")]
        for future in admin.create_topics(topics).values():
            future.result()
        member = Consumer({"bootstrap.servers": bootstrap, "group.id": "group", "enable.auto.commit": False})
        member.subscribe(["input"])
        deadline = time.monotonic() + 60
        while not member.assignment() and time.monotonic() < deadline:
            member.poll(0.2)  # joins the group: its generation fences the transaction's offsets
        producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "commit-visibility"})
        producer.init_transactions(30)
        behind = new_offsets = both = 0
        for n in range(1, args.commits + 1):
            producer.begin_transaction()
            for p in range(PARTITIONS):
                producer.produce("state", b"snapshot", partition=p)
            producer.send_offsets_to_transaction([TopicPartition("input", p, n) for p in range(PARTITIONS)],
                                                 member.consumer_group_metadata(), 30)
            producer.commit_transaction(30)
            stable = ends(admin, "state", IsolationLevel.READ_COMMITTED)
            high = ends(admin, "state", IsolationLevel.READ_UNCOMMITTED)
            asked = [ConsumerGroupTopicPartitions("group")]
            group = admin.list_consumer_group_offsets(asked)["group"].result()
            is_behind = any(stable[p] < high[p] for p in range(PARTITIONS))
            is_new = all(tp.offset == n for tp in group.topic_partitions if tp.topic == "input")
            behind, new_offsets = behind + is_behind, new_offsets + is_new
            both += is_behind and is_new
        print(f"{args.commits} commits; right after each returned: the state topic's stable end behind its "
              f"high watermark {behind} times, the group's offsets already new {new_offsets} times, "
              f"both at once {both} times")
        member.close()
    finally:
        broker.stop()


if __name__ == "__main__":
    main()
