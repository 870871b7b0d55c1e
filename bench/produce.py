"""What producing the decide stage's outputs costs per record, side by side in one run:
aiokafka's ``send`` per record (what the worker did through Faust's producer, which adds
its own sensors on top) against :class:`streams.live.output_sender.OutputSender` (whole
batches per partition, ``send_batch``).

    .venv/bin/python -m bench.produce [--records 50000] [--rounds 3]

The same records each way (keyed by 8 cities, ~360-byte values, as decided-log records
are), to a 6-partition topic of its own on the local stack, as the worker principal; each
way waits for every acknowledgement. Prints CPU µs per record (the process's, so the
broker's work on the other core is not in it) and ``ratio per-record send / batches``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from collections.abc import Awaitable, Callable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings, load_settings
from streams.live.output_sender import OutputSender
from streams.ops.kafka import admin_client
from streams.stages.batch import Outgoing

CITIES = [f"51{c:02d}".encode() for c in range(1, 9)]


async def _cpu_per_record(send: Callable[[], Awaitable[None]], records: int) -> float:
    began = time.process_time()
    await send()
    return (time.process_time() - began) / records * 1e6


async def run(settings: Settings, records: int, rounds: int) -> None:
    topic = f"{settings.topic_prefix}.bench-produce-{uuid.uuid4().hex[:8]}"
    async with admin_client(settings) as admin:
        await admin.create_topics([NewTopic(topic, 6, settings.replication_factor)])
    value = b'{"x":"' + b"a" * 350 + b'"}'
    outgoing = [Outgoing(topic, CITIES[n % len(CITIES)], value) for n in range(records)]
    kafka = aiokafka_options(settings, "worker")
    producer = AIOKafkaProducer(**kafka, acks="all", enable_idempotence=True, linger_ms=5)
    sender = OutputSender(kafka)
    holder = asyncio.ensure_future(sender.run())
    await producer.start()
    try:
        await sender.send(outgoing[:100])  # connections and metadata before timing
        await (await producer.send(topic, value, key=CITIES[0]))

        async def per_record() -> None:
            acks = [await producer.send(o.topic, o.value, key=o.key) for o in outgoing]
            await asyncio.gather(*acks)

        async def batches() -> None:
            await sender.send(outgoing)

        each, whole = [], []
        for _ in range(rounds):  # alternately, so drift hits both
            each.append(await _cpu_per_record(per_record, records))
            whole.append(await _cpu_per_record(batches, records))
    finally:
        await producer.stop()
        holder.cancel()
        await asyncio.gather(holder, return_exceptions=True)
        async with admin_client(settings) as admin:
            await admin.delete_topics([topic])
    a, b = statistics.median(each), statistics.median(whole)
    print(f"{records:,} records, {rounds} rounds each, medians of CPU µs per record:")
    print(f"  aiokafka send per record: {a:.1f} µs  ({', '.join(f'{x:.1f}' for x in each)})")
    print(f"  OutputSender, batches:    {b:.1f} µs  ({', '.join(f'{x:.1f}' for x in whole)})")
    print(f"ratio per-record send / batches: {a / b:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(run(load_settings(), args.records, args.rounds))


if __name__ == "__main__":
    main()
