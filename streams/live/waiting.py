"""Waits that say what they wait for: a worker that makes no progress logs why, at most
every :data:`REPORT_EVERY_S`, so a stall is never silent (a restarted worker once made no
commit for over 90 s and logged nothing)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")

REPORT_EVERY_S = 10.0


async def reporting(
    work: Awaitable[T],
    describe: Callable[[], str],
    logger: logging.Logger,
    every_s: float = REPORT_EVERY_S,
) -> T:
    """Await ``work``; every ``every_s`` until it is done, log ``describe()`` and how long
    it has waited. Cancelling this cancels ``work``."""
    task = asyncio.ensure_future(work)
    started = time.monotonic()
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=every_s)
            if done:
                return task.result()
            logger.info("waiting %.0fs for %s", time.monotonic() - started, describe())
    except asyncio.CancelledError:
        task.cancel()
        raise


async def report_while(
    waiting: Callable[[], bool],
    describe: Callable[[], str],
    logger: logging.Logger,
    every_s: float = REPORT_EVERY_S,
) -> None:
    """Forever: every ``every_s``, if ``waiting()`` has been true since the last look, log
    ``describe()`` and for how long it has been waiting. For waits that begin and end in
    code this process does not run (Faust's rebalance and table recovery, before which
    Faust starts none of the app's tasks)."""
    since: float | None = None
    while True:
        await asyncio.sleep(every_s)
        if not waiting():
            since = None
            continue
        now = time.monotonic()
        since = now - every_s if since is None else since
        logger.info("waiting %.0fs for %s", now - since, describe())


class Progress:
    """Logs ``done of total`` of a long step at most every ``every_s`` (and when it ends
    after having logged)."""

    def __init__(
        self,
        logger: logging.Logger,
        what: str,
        total: int,
        every_s: float = REPORT_EVERY_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.logger = logger
        self.what = what
        self.total = total
        self.every_s = every_s
        self.clock = clock
        self.started = self._last = clock()

    def step(self, done: int) -> None:
        """``done`` of the total are done."""
        now = self.clock()
        if now - self._last >= self.every_s or (done == self.total and self._last > self.started):
            self._last = now
            self.logger.info(
                "%s: %d of %d after %.0fs", self.what, done, self.total, now - self.started
            )


def assignment_wait(app: Any) -> Callable[[], str]:
    """What a worker without decide partitions waits for, as Faust's ``app`` says:
    its table recovery (how many changelog records are left) or the group's assignment."""

    def describe() -> str:
        recovery = app.tables.recovery
        if recovery.in_recovery:
            left = recovery.active_remaining_total()
            return f"Faust's table recovery, {left} changelog records to read"
        return (
            "the group's assignment (a member that died holds its partitions until its"
            f" session times out, {app.conf.broker_session_timeout:.0f}s)"
        )

    return describe


async def settled(futures: list[asyncio.Future[None]]) -> None:
    """Wait for every one of ``futures``, then raise the first one's exception; cancelled,
    it leaves them alone."""
    await asyncio.wait(futures)
    for future in futures:
        future.result()
