"""The Python ceiling: how fast a plain aiokafka consumer reads given topics from the
beginning to their current end (no group, no decoding), for benches to print beside their
own rate.

    .venv/bin/python -m bench.raw_consume TOPIC [TOPIC ...]

Other benches import :func:`raw_consume`.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import load_settings
from streams.live.batch_consumer import batch_consumer


@dataclass(frozen=True)
class RawRate:
    records: int
    bytes: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.records / self.seconds if self.seconds else 0.0


async def raw_consume(
    kafka: Mapping[str, Any],
    topics: Sequence[str],
    batch: int = 20_000,
    on_values: Callable[[list[bytes]], None] | None = None,
    on_stamped: Callable[[list[tuple[int, bytes]]], None] | None = None,
) -> RawRate:
    """Read every record of ``topics`` (all partitions, offsets 0 → end as of the start)
    with one consumer and ``getmany``; timed from the first fetch to the last record. The
    values are touched (their length summed) so nothing is left lazily unread;
    ``on_values`` gets each fetch's values (a bench's work per batch, timed with it),
    ``on_stamped`` each fetch's (Kafka timestamp, value) pairs."""
    consumer = batch_consumer(kafka, None)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()  # topics created since start
        tps = [
            TopicPartition(topic, p)
            for topic in topics
            for p in sorted(consumer.partitions_for_topic(topic) or ())
        ]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        remaining = {tp for tp in tps if ends[tp] > 0}
        records = size = 0
        began = time.perf_counter()
        while remaining:
            fetched = await consumer.getmany(timeout_ms=1000, max_records=batch)
            for got in fetched.values():
                records += len(got)
                size += sum(len(r.value or b"") for r in got)
                if on_values is not None:
                    on_values([r.value for r in got if r.value is not None])
                if on_stamped is not None:
                    on_stamped([(r.timestamp, r.value) for r in got if r.value is not None])
            for tp in list(remaining):
                # By position, not last offset: control records leave gaps at the end.
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return RawRate(records, size, time.perf_counter() - began)
    finally:
        await consumer.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topics", nargs="+")
    args = parser.parse_args()
    rate = asyncio.run(raw_consume(aiokafka_options(load_settings(), "admin"), args.topics))
    print(
        f"raw aiokafka: {rate.records:,} records ({rate.bytes / 1e6:.1f} MB) in "
        f"{rate.seconds:.2f} s = {rate.per_second:,.0f} records/s"
    )


if __name__ == "__main__":
    main()
