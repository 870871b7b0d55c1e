"""The decide and roll-up stages' output records, sent in whole batches per partition.

Why: a decide batch of 5 000 records produces about as many output records (every input
goes on to the decided log, and the decisions with it: 1.2 outputs per input record in
the bench). aiokafka's ``send`` costs ~16 µs of CPU per record (a coroutine, a metadata
wait and a future each), and Faust's producer adds its own sensors on top; filling
aiokafka's batch builders and handing each one over whole (``send_batch``) costs ~1.5 µs a
record, measured side by side (``bench/produce.py``, BENCHMARKS.md issue 14). Records keep
their order within a partition, as with ``send``.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.partitioner import murmur2

from streams.stages.batch import Outgoing

# Bytes per produce batch: few requests per decide batch, under the broker's and the
# topics' default message size limit (1 MiB), which a batch must fit.
BATCH_BYTES = 512 * 1024


Key = TypeVar("Key", bound=bytes | None)


def whole_batches(
    producer: AIOKafkaProducer, records: Iterable[tuple[Key, bytes | None]]
) -> Iterator[tuple[list[tuple[Key, bytes | None]], Any]]:
    """``records`` (key, value) in order, in ``producer``'s produce batches each as full as
    its ``max_batch_size`` lets it be (a record over that size goes alone), each with the
    records it holds."""
    members: list[tuple[Key, bytes | None]] = []
    batch = producer.create_batch()
    for key, value in records:
        if batch.append(key=key, value=value, timestamp=None) is None:
            yield members, batch
            members, batch = [], producer.create_batch()
            batch.append(key=key, value=value, timestamp=None)
        members.append((key, value))
    if members:
        yield members, batch


@functools.lru_cache(maxsize=4096)  # keys are mostly jurisdictions: few, asked per record
def _key_partition(key: bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner gives ``key`` (murmur2, as the Java
    client and aiokafka's ``send``)."""
    hashed: int = murmur2(key)
    return (hashed & 0x7FFFFFFF) % partitions


class OutputSender:
    """Sends output records with its own idempotent producer (acks from every in-sync
    replica). :meth:`run` is the worker's task that owns the producer; :meth:`send`
    waits for it to be started."""

    def __init__(self, kafka: Mapping[str, Any]) -> None:
        self.kafka = kafka  # aiokafka client options (streams.config.kafka_security)
        self._producer: AIOKafkaProducer | None = None
        self._started = asyncio.Event()
        self._partitions: dict[str, int] = {}  # topic -> how many partitions

    async def run(self) -> None:
        """Start the producer and hold it until cancelled (the worker stops), then flush
        and stop it."""
        # No linger: a batch handed over is whole, and lingering only delays it (5 ms of
        # every small live batch's decision latency)
        producer = AIOKafkaProducer(
            **self.kafka, acks="all", enable_idempotence=True, linger_ms=0,
            max_batch_size=BATCH_BYTES,
        )  # fmt: skip
        await producer.start()
        self._producer = producer
        self._started.set()
        try:
            await asyncio.Event().wait()
        finally:
            self._started.clear()
            self._producer = None
            await producer.stop()

    async def send(self, outgoing: Sequence[Outgoing]) -> None:
        """Send every record and wait until all are acknowledged (durable), as
        :meth:`queue` sends them. Raises the first failed batch's error."""
        await asyncio.gather(*await self.queue(outgoing))

    async def queue(self, outgoing: Sequence[Outgoing]) -> list[asyncio.Future[Any]]:
        """Hand every record to the producer, in order; returns the futures of their
        produce batches (done once acknowledged: durable). A record goes to its
        ``partition``, or when that is None to its key's partition (murmur2); a record with
        neither goes to partition 0."""
        await self._started.wait()
        producer = self._producer
        assert producer is not None  # set with _started
        by_partition: dict[tuple[str, int], list[Outgoing]] = {}
        for record in outgoing:
            partition = record.partition
            if partition is None:
                partition = 0 if record.key is None else await self._partition(record)
            by_partition.setdefault((record.topic, partition), []).append(record)
        acks = []
        for (topic, partition), records in by_partition.items():
            pairs = ((record.key, record.value) for record in records)
            for _, batch in whole_batches(producer, pairs):
                acks.append(await producer.send_batch(batch, topic, partition=partition))
        return acks

    async def _partition(self, record: Outgoing) -> int:
        assert record.key is not None and self._producer is not None
        count = self._partitions.get(record.topic)
        if count is None:
            count = self._partitions[record.topic] = len(
                await self._producer.partitions_for(record.topic)
            )
        return _key_partition(record.key, count)
