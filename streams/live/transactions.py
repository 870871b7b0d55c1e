"""Transactional producers that belong to a partition: claimed (the previous owner fenced)
at every rebalance, by the decide stage's commits and journal and by the roll-up stage's
commits (:mod:`streams.live.fencing`, :mod:`streams.live.journal_write`)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaProducer
from aiokafka.errors import ProducerFenced

from streams.live.waiting import reporting

log = logging.getLogger("tierflow.live.fencing")

T = TypeVar("T")


async def claim_producers(
    kafka: Mapping[str, Any], ids: Mapping[int, str], **options: Any
) -> dict[int, AIOKafkaProducer]:
    """A started transactional producer per partition of ``ids`` (partition ->
    transactional id; ``options``: more producer settings), each initialised: once this
    returns, the broker has bumped every id's epoch, so the previous owner of each is
    fenced. Initialised side by side (a rebalance waits for them); if any fails, the others
    are stopped and the first failure is raised."""

    async def claim(transactional_id: str) -> AIOKafkaProducer:
        producer = AIOKafkaProducer(
            **kafka, transactional_id=transactional_id, enable_idempotence=True, acks="all",
            **options,
        )  # fmt: skip
        try:
            await reporting(_initialise(producer), _fencing(transactional_id), log)
        except BaseException:
            await producer.stop()
            raise
        return producer

    partitions = sorted(ids)
    outcomes = await asyncio.gather(*(claim(ids[p]) for p in partitions), return_exceptions=True)
    claimed: dict[int, AIOKafkaProducer] = {}
    failed: list[BaseException] = []
    for partition, outcome in zip(partitions, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            failed.append(outcome)
        else:
            claimed[partition] = outcome
    if failed:
        for producer in claimed.values():
            await producer.stop()
        raise failed[0]
    return claimed


@dataclass
class Outcomes(Generic[T]):
    """What :func:`side_by_side` did: each partition's result where the step succeeded,
    the partitions found fenced, the first other failure (None: none)."""

    done: dict[int, T] = field(default_factory=dict)
    lost: list[int] = field(default_factory=list)
    failed: BaseException | None = None


async def side_by_side(
    producers: dict[int, AIOKafkaProducer],
    partitions: Iterable[int],
    step: Callable[[int], Awaitable[T]],
) -> Outcomes[T]:
    """Run ``step`` for every one of ``partitions`` at once (each with its producer of
    ``producers``). A partition whose step found its producer fenced (another worker
    claimed it) loses the producer: stopped and removed from ``producers``."""
    ordered = sorted(partitions)
    results = await asyncio.gather(*(step(p) for p in ordered), return_exceptions=True)
    outcomes: Outcomes[T] = Outcomes()
    for partition, result in zip(ordered, results, strict=True):
        if isinstance(result, ProducerFenced):
            await producers.pop(partition).stop()
            outcomes.lost.append(partition)
        elif isinstance(result, BaseException):
            outcomes.failed = outcomes.failed or result
        else:
            outcomes.done[partition] = result
    return outcomes


async def abort_quietly(producer: AIOKafkaProducer) -> None:
    """Abort the producer's open transaction, logging (not raising) a failure: the caller
    raises its own error anyway, and a fenced producer cannot abort."""
    try:
        await producer.abort_transaction()
    except Exception as exc:
        log.warning("cannot abort the transaction: %s", exc)


async def _initialise(producer: AIOKafkaProducer) -> None:
    await producer.start()
    await producer.begin_transaction()  # InitProducerId: the previous owner is fenced
    await producer.commit_transaction()


def _fencing(transactional_id: str) -> Callable[[], str]:
    return lambda: (
        f"InitProducerId of {transactional_id} (the broker first aborts the previous"
        " owner's open transaction)"
    )
