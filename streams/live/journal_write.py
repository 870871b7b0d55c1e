"""The decide journal's entries, written so that a worker which lost a partition cannot add
to that partition's journal, and so decides nothing more there.

Why: a worker paused past its session (SIGSTOP, a long GC, a frozen VM) and resumed reads
and decides on until it hears of the rebalance. Its commits are fenced
(:mod:`streams.live.fencing`), but a batch's outputs go out with the worker's idempotent
producer as soon as they are decided. Decided from its own states in batches of its own,
they carried versions and revisions the new owner had given other pictures: a resumed
worker's stale Chengdu snapshot came after the new owner's last one with a higher version,
and the province stood down a day late in the roll-up (the zombie test, CI of
2026-12-07, one run in three on the lead machine).

So each entry goes in a transaction of a producer whose transactional id belongs to the
partition (``<prefix>.decide-journal.<p>``), claimed after the commit's at every rebalance
(:func:`streams.live.rebalance.fence_on_rebalance`), and the intake decides a batch only
once its entries are committed:

- an entry committed before the new owner's claim is one the owner reads back (the intake
  reads the journal ``read_committed``, after claiming) and decides again, in the same
  batch from the same state: whatever the old owner sends for it, the new owner sends
  too, the same records, which the sinks and the roll-up keep once;
- an entry the old owner writes after the claim is refused (``ProducerFenced``), so it
  decides nothing more there; one in a transaction open at the claim is aborted, and a
  ``read_committed`` reader never sees it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

from aiokafka import AIOKafkaProducer
from aiokafka.errors import ProducerFenced

from streams.live.transactions import abort_quietly, claim_producers, side_by_side


class Journaled(NamedTuple):
    """What :meth:`FencedJournal.write` did: each written entry's offset by partition, and
    the partitions another worker owns now (nothing written there)."""

    offsets: dict[int, int]
    lost: list[int]


class FencedJournal:
    """The journal's writer: one transactional producer per claimed partition."""

    def __init__(self, *, kafka: Mapping[str, Any], prefix: str, topic: str) -> None:
        self.kafka = kafka  # aiokafka client options (streams.config.kafka_security)
        self.prefix = prefix
        self.topic = topic
        self._producers: dict[int, AIOKafkaProducer] = {}
        # A claim waits for the write in flight (its producers are about to be replaced).
        self._turn = asyncio.Lock()

    def transactional_id(self, partition: int) -> str:
        return f"{self.prefix}.decide-journal.{partition}"

    async def claim(self, partitions: Iterable[int]) -> None:
        """Own exactly ``partitions`` from now on, each with a freshly initialised
        producer: the previous owner of each can write no more entries there."""
        async with self._turn:
            for producer in self._producers.values():
                await producer.stop()
            self._producers = {}
            ids = {p: self.transactional_id(p) for p in set(partitions)}
            self._producers = await claim_producers(self.kafka, ids)

    async def write(self, entries: Mapping[int, bytes]) -> Journaled:
        """Write each partition's entry in a transaction of its own (side by side) and
        return once every one is committed, with their offsets; a partition not claimed
        here, or claimed by another worker since, is reported lost. Any other failure is
        raised (the worker stops: nothing decided)."""
        async with self._turn:
            mine = [p for p in entries if p in self._producers]
            written = await side_by_side(
                self._producers, mine, lambda p: self._write(p, entries[p])
            )
            if written.failed is not None:
                raise written.failed
            lost = [p for p in entries if p not in mine] + written.lost
            return Journaled(written.done, sorted(lost))

    async def _write(self, partition: int, entry: bytes) -> int:
        producer = self._producers[partition]
        await producer.begin_transaction()
        try:
            sent = await producer.send_and_wait(self.topic, entry, partition=partition)
            await producer.commit_transaction()
        except ProducerFenced:
            raise  # (a fenced producer cannot abort)
        except BaseException:
            await abort_quietly(producer)
            raise
        return int(sent.offset)
