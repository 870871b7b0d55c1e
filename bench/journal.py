"""What writing a decide batch's journal entries costs in wall time, side by side in one
run: in a transaction per partition (:class:`streams.live.journal_write.FencedJournal`,
what the worker does since the journal is fenced) against a plain idempotent send per
partition (what it did before).

    .venv/bin/python -m bench.journal [--writes 200] [--partitions 6]

Each write is one batch's entries, one per partition, all sent side by side and waited
for (committed, or acknowledged), as the intake waits before it hands the batch over. To
a journal topic of its own on the local stack, as the worker principal; the two ways
alternate write by write, so drift hits both. Prints the medians and p99 in ms and
``ratio fenced / plain`` of the medians. On an idle stack: the broker's own round trips;
a loaded worker waits more for each.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid

from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings, load_settings
from streams.live.journal_write import FencedJournal
from streams.ops.kafka import admin_client


async def run(settings: Settings, writes: int, partitions: int) -> None:
    prefix = f"{settings.topic_prefix}.bench-journal-{uuid.uuid4().hex[:8]}"
    topic = f"{prefix}.journal"
    async with admin_client(settings) as admin:
        await admin.create_topics([NewTopic(topic, partitions, settings.replication_factor)])
    kafka = aiokafka_options(settings, "worker")
    fenced = FencedJournal(kafka=kafka, prefix=prefix, topic=topic)
    plain = AIOKafkaProducer(**kafka, acks="all", enable_idempotence=True)
    entries = {p: b'[["topic",0,5000]]' for p in range(partitions)}

    async def send_plain() -> None:
        sent = [await plain.send(topic, entry, partition=p) for p, entry in entries.items()]
        await asyncio.gather(*sent)

    began = time.perf_counter()
    await fenced.claim(range(partitions))
    claimed_ms = (time.perf_counter() - began) * 1000
    await plain.start()
    try:
        await fenced.write(entries)  # connections and metadata before timing
        await send_plain()
        times: dict[str, list[float]] = {"fenced": [], "plain": []}
        for _ in range(writes):
            for way, write in (("fenced", fenced.write(entries)), ("plain", send_plain())):
                began = time.perf_counter()
                await write
                times[way].append((time.perf_counter() - began) * 1000)
    finally:
        await plain.stop()
        await fenced.claim(())  # stops its producers
        async with admin_client(settings) as admin:
            await admin.delete_topics([topic])
    print(f"claim of {partitions} partitions: {claimed_ms:.0f} ms")
    print(f"{writes} writes of {partitions} entries each way, wall ms:")
    for way, spent in times.items():
        p99 = statistics.quantiles(spent, n=100)[98]
        print(f"  {way:6}: p50 {statistics.median(spent):.1f}, p99 {p99:.1f}")
    ratio = statistics.median(times["fenced"]) / statistics.median(times["plain"])
    print(f"ratio fenced / plain: {ratio:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writes", type=int, default=200)
    parser.add_argument("--partitions", type=int, default=6)
    args = parser.parse_args()
    asyncio.run(run(load_settings(), args.writes, args.partitions))


if __name__ == "__main__":
    main()
