"""The decide intake's records held back so that each partition's input topics are decided
in step, in the order the broker stamped them (Kafka Streams' timestamp synchronisation).

Why: in a catch-up one fetch of a small topic (stock, transfers, incidents) spans days of
event time where one of the cases topic spans hours. Decided as fetched, a jurisdiction's
stock and transfers ran days ahead of its cases: tiers were de-escalated for want of cases
not read yet and escalated again when they came, each change emitted and retracted
(bench/intake_skew.py: 100x the escalations, the same standing decisions). Held back to
the cases topic's pace, a catch-up decides what a worker that had kept up would have.

The rule: records are released oldest Kafka timestamp first, across every partition the
worker reads (partitions in step too, so one left behind is the exception; its ticks wait
for it, :mod:`streams.stages.ticks`); none of a
partition number (a jurisdiction's records are all on one) is released while a topic of
that partition has nothing held and is ``behind`` (the broker has records it has not
fetched yet), since its next record may be older. A topic read to its end holds nothing
back: a worker that keeps up releases each record as soon as it is fetched. Each
topic-partition's records stay in offset order (a batch's journal ranges stay contiguous,
its offsets commit as a prefix).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Iterable, Mapping, Set
from typing import Generic, Protocol, TypeVar

from aiokafka import TopicPartition


class Stamped(Protocol):
    """A fetched record as aiokafka gives it (only what ordering needs)."""

    @property
    def timestamp(self) -> int: ...

    @property
    def offset(self) -> int: ...


M = TypeVar("M", bound=Stamped)


class InStep(Generic[M]):
    """Fetched records held per topic-partition until :meth:`release` lets them go."""

    def __init__(self) -> None:
        self._held: dict[TopicPartition, deque[M]] = {}

    def add(self, fetched: Mapping[TopicPartition, Iterable[M]]) -> None:
        """Hold what one fetch returned (each topic-partition's records in offset order)."""
        for tp, records in fetched.items():
            self._held.setdefault(tp, deque()).extend(records)

    def release(self, behind: Set[TopicPartition], limit: int) -> dict[TopicPartition, list[M]]:
        """Up to ``limit`` held records that may be decided now, oldest first across every
        partition, by topic-partition, each list a prefix of what was held. ``behind``:
        the topic-partitions read that the broker has more of than was fetched."""
        blocked = {tp.partition for tp in behind if not self._held.get(tp)}
        heads = [
            (held[0].timestamp, tp.topic, tp.partition, tp)
            for tp, held in self._held.items()
            if held and tp.partition not in blocked
        ]
        heapq.heapify(heads)
        out: dict[TopicPartition, list[M]] = {}
        taken = 0
        while heads and taken < limit:
            *_, tp = heapq.heappop(heads)
            if tp.partition in blocked:
                continue  # blocked since its head was pushed
            held = self._held[tp]
            # its run up to the next oldest head (of any partition: partitions go in step
            # too, or the worker's event clock would run ahead of the slower ones)
            until = heads[0][0] if heads else None
            run = out.setdefault(tp, [])
            while held and taken < limit and (until is None or held[0].timestamp <= until):
                run.append(held.popleft())
                taken += 1
            if held:
                heapq.heappush(heads, (held[0].timestamp, tp.topic, tp.partition, tp))
            elif tp in behind:
                blocked.add(tp.partition)
        return out

    def holding(self) -> set[int]:
        """The partition numbers with records held."""
        return {tp.partition for tp, held in self._held.items() if held}

    def full(self, hold: int) -> set[TopicPartition]:
        """The topic-partitions holding at least ``hold`` records (to pause fetching)."""
        return {tp for tp, held in self._held.items() if len(held) >= hold}

    def clear(self) -> None:
        """Forget everything held (the consumer is sought anew)."""
        self._held.clear()

    def __len__(self) -> int:
        return sum(len(held) for held in self._held.values())
