"""A wait says what it waits for (:mod:`streams.live.waiting`): a stalled worker logs why,
at most every few seconds, instead of nothing."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streams.live.waiting import Progress, report_while, reporting

log = logging.getLogger("tierflow.test.waiting")


def test_a_long_wait_is_reported_with_what_it_waits_for(caplog: pytest.LogCaptureFixture) -> None:
    async def slow() -> str:
        await asyncio.sleep(0.35)
        return "assigned"

    with caplog.at_level(logging.INFO, logger=log.name):
        got = asyncio.run(reporting(slow(), lambda: "the group's assignment", log, every_s=0.1))
    assert got == "assigned"
    reports = [r.getMessage() for r in caplog.records]
    assert 2 <= len(reports) <= 3, reports  # every 0.1 s while it lasted, not more
    assert all(m.startswith("waiting ") and "the group's assignment" in m for m in reports)


def test_a_short_wait_says_nothing_and_cancelling_cancels_the_work(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def scenario() -> bool:
        assert await reporting(asyncio.sleep(0, "done"), lambda: "x", log, every_s=10) == "done"
        never = asyncio.Event()
        inner = asyncio.ensure_future(never.wait())
        outer = asyncio.ensure_future(reporting(inner, lambda: "x", log, every_s=10))
        await asyncio.sleep(0.01)
        outer.cancel()
        with pytest.raises(asyncio.CancelledError):
            await outer
        return inner.cancelled()

    with caplog.at_level(logging.INFO, logger=log.name):
        assert asyncio.run(scenario())
    assert caplog.records == []


def test_progress_is_logged_at_most_every_interval_and_at_its_end(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    with caplog.at_level(logging.INFO, logger=log.name):
        progress = Progress(log, "redo", 100, every_s=10, clock=lambda: now[0])
        for done in range(1, 101):
            now[0] += 0.3  # 30 s in all
            progress.step(done)
        quick = Progress(log, "quick", 3, every_s=10, clock=lambda: now[0])
        for done in range(1, 4):
            quick.step(done)
    assert [r.getMessage() for r in caplog.records] == [
        "redo: 34 of 100 after 10s",
        "redo: 68 of 100 after 20s",  # 10 s after the last report (10.2 s)
        "redo: 100 of 100 after 30s",
    ]


def test_a_wait_outside_our_code_is_reported_while_it_lasts(
    caplog: pytest.LogCaptureFixture,
) -> None:
    waiting = [True]

    async def scenario() -> None:
        reports = asyncio.ensure_future(
            report_while(lambda: waiting[0], lambda: "Faust's table recovery", log, every_s=0.1)
        )
        await asyncio.sleep(0.25)  # two reports
        waiting[0] = False
        await asyncio.sleep(0.3)  # none
        reports.cancel()

    with caplog.at_level(logging.INFO, logger=log.name):
        asyncio.run(scenario())
    reports = [r.getMessage() for r in caplog.records]
    assert len(reports) == 2, reports  # while it waited, every 0.1 s; then nothing
    assert all(m.startswith("waiting ") and "Faust's table recovery" in m for m in reports)
