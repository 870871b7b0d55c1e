"""Two workers share the partitions (Faust's group assigns them, each intake reads what its
worker was given); one is killed mid-scenario and the other takes its partitions over
(the roll-up feed's single partition too, wherever it was), recovers their states from
the changelogs and decides the rest of the scenario. What lands equals the offline answer
of the whole pipeline, as with one worker."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.core import default_rulebook, fold
from streams.stages.topology import partition_for

from .live_support import (
    free_port,
    labelled,
    live_settings,
    prepare,
    publish,
    scrape,
    simulate,
    start_worker,
    stop_worker,
    wait_decided,
    wait_landed,
)
from .offline_answer import (
    assert_areas_as_intended,
    assert_decisions_equal_offline,
)
from .rollup_answer import (
    with_rollups,
    worker_ticks,
)


def _consumed(port: int) -> float:
    return sum(v for _, v in labelled(scrape(port), "tierflow_records_consumed_total"))


def _until_consumed(port: int, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if _consumed(port) > 0:
                return
        except OSError:  # the metrics endpoint not up yet
            pass
        time.sleep(0.5)
    raise AssertionError(f"the worker to be killed consumed nothing within {timeout}s")


def _until_split(logs: tuple[Path, Path], timeout: float = 90) -> None:
    """Until each worker's latest assignment is 3 of the 6 partitions."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        latest = [_assigned(log) for log in logs]
        if all(len(parts) == 3 for parts in latest):
            return
        time.sleep(0.5)
    raise AssertionError(f"the workers did not split the partitions within {timeout}s")


def _assigned(log: Path) -> list[str]:
    said = [line for line in log.read_text().splitlines() if "decide intake: partitions" in line]
    return said[-1].rsplit("[", 1)[1].rstrip("]").split(", ") if said else []


def test_two_workers_share_the_partitions_and_one_takes_over_when_the_other_dies(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    lines, truth = simulate("cholera", 5, tmp_path / "cholera.jsonl")
    first = live_settings(stack, unique_name("pair"))
    second = first.model_copy(update={"metrics_port": free_port()})
    prepare(first)
    logs = (tmp_path / "first.log", tmp_path / "second.log")
    workers = (start_worker(first, logs[0]), start_worker(second, logs[1]))
    try:
        _until_split(logs)
        # The one deciding Chengdu (most of the scenario) dies; which one that is, is the
        # assignor's choice.
        chengdu = str(partition_for("5101"))
        victim = 0 if chengdu in _assigned(logs[0]) else 1
        survivor, port = workers[1 - victim], (first, second)[victim].metrics_port
        three_quarters = len(lines) * 3 // 4
        sent = publish(first, lines[:three_quarters])
        _until_consumed(port)
        # Killed once everything it decided is committed: the hand-over is what this test
        # is about (a kill in the middle of a batch is test_live_redo's).
        wait_decided(first, survivor)
        stop_worker(workers[victim], signal.SIGKILL)
        # Chengdu's next records: only the survivor can decide them, once it has taken its
        # partition over and recovered Chengdu's state from the changelog
        rest = publish(first, lines[three_quarters:])
        wait_decided(first, survivor, timeout=150)  # then what it decided lands
        wait_landed(
            ch_admin,
            first.clickhouse_database,
            rejected=sent.malformed + rest.malformed,
            proc=survivor,
        )
        assert len(_assigned(logs[1 - victim])) == 6
    finally:
        for worker in workers:
            stop_worker(worker, signal.SIGKILL)

    rulebook = default_rulebook()
    events = [*sent.events, *rest.events, *worker_ticks(first)]
    states, outputs = fold(events, rulebook)
    assert_decisions_equal_offline(
        ch_admin, first.clickhouse_database, states, with_rollups(outputs, rulebook, events)
    )
    assert_areas_as_intended(ch_admin, first.clickhouse_database, truth)
