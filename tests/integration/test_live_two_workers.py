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

from streams.core import default_rulebook, fold
from topics.settings import Settings

from .live_support import (
    assert_areas_as_intended,
    assert_decisions_equal_offline,
    free_port,
    labelled,
    live_settings,
    prepare,
    publish,
    running_worker,
    scrape,
    simulate,
    start_worker,
    stop_worker,
    wait_decided,
    wait_landed,
    with_rollups,
    worker_ticks,
)


def _consumed(port: int) -> float:
    return sum(v for _, v in labelled(scrape(port), "tierflow_records_consumed_total"))


def _until_both_consume(ports: tuple[int, int], timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if all(_consumed(port) > 0 for port in ports):
                return
        except OSError:  # a metrics endpoint not up yet
            pass
        time.sleep(0.5)
    raise AssertionError(f"both workers did not consume within {timeout}s")


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
    # cholera: Chengdu (5101) is on partition 4, Zigong (5103, from day 8) on partition 0
    lines, truth = simulate("cholera", 5, tmp_path / "cholera.jsonl")
    first = live_settings(stack, unique_name("pair"))
    second = first.model_copy(update={"metrics_port": free_port()})
    prepare(first)
    logs = (tmp_path / "doomed.log", tmp_path / "survivor.log")
    doomed = start_worker(first, logs[0])
    try:
        with running_worker(second, logs[1]) as survivor:
            _until_split(logs)
            three_quarters = len(lines) * 3 // 4
            sent = publish(first, lines[:three_quarters])
            _until_both_consume((first.metrics_port, second.metrics_port))
            # Killed once it has committed all it decided: a kill inside that window can
            # leave a stale last copy (README, Known limits); this test is the hand-over.
            wait_decided(first, survivor)
            stop_worker(doomed, signal.SIGKILL)
            # Zigong's next records: only the survivor can decide them, once it has taken
            # partition 0 over and recovered Zigong's state from the changelog
            rest = publish(first, lines[three_quarters:])
            wait_decided(first, survivor, timeout=150)  # then what it decided lands
            wait_landed(
                ch_admin,
                first.clickhouse_database,
                rejected=sent.malformed + rest.malformed,
                proc=survivor,
            )
            assert len(_assigned(logs[1])) == 6
    finally:
        stop_worker(doomed, signal.SIGKILL)

    rulebook = default_rulebook()
    events = [*sent.events, *rest.events, *worker_ticks(first)]
    states, outputs = fold(events, rulebook)
    assert_decisions_equal_offline(
        ch_admin, first.clickhouse_database, states, with_rollups(outputs, rulebook)
    )
    assert_areas_as_intended(ch_admin, first.clickhouse_database, truth)
