"""A zombie changes nothing (issue 11 item 7): of two workers, one is paused (SIGSTOP)
mid-run, right after it consumed records, past the session timeout; the other takes its
partitions over, recovers their states and decides the rest; the paused one is resumed
(SIGCONT) and goes on where it stopped, with states and offsets that are no longer its
own. The victim is the worker deciding Chengdu (the decide stage's zombie), or the one
holding the roll-up feed (the roll-up stage's). Kafka's fencing (one transactional
producer per partition of each stage, claimed by the new owner before it recovers,
streams/live/fencing.py) refuses what it sends: no committed offset goes back to where it
stopped (without fencing its overdue commit did), the states in both changelogs (cities,
provinces and the nation) and the roll-up decisions equal the offline answer of an
uninterrupted run, and every offset is committed."""

from __future__ import annotations

import asyncio
import re
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from streams.config.settings import Settings
from streams.core import default_rulebook, fold, rollup_many, rollup_timeline, state_fingerprint
from streams.stages.topology import ROLLUP_FEED, TopicNames, partition_for

from .kafka_helpers import committed_offsets
from .live_support import (
    free_port,
    live_settings,
    prepare,
    publish,
    simulate,
    start_worker,
    stop_worker,
    wait_decided,
)
from .offline_answer import state_fingerprints
from .rollup_answer import (
    area_decisions,
    escalations_produced,
    rollup_feed,
    rollup_timelines,
    wait_rolled_up,
    worker_ticks,
)
from .test_live_two_workers import _assigned, _until_consumed, _until_split

SESSION_TIMEOUT_S = 10  # the worker's broker_session_timeout (streams/live/app.py)


def _until_all_partitions(log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while len(_assigned(log)) != 6:
        if time.monotonic() > deadline:
            raise AssertionError(f"the survivor did not take every partition in {timeout}s")
        time.sleep(0.5)


def _offsets(settings: Settings) -> dict[str, int]:
    """The committed offsets that say where a worker resumes: the decide intake's group's
    (inputs, ticks, journal) and, in Faust's group, the roll-up feed's (only the roll-up
    stage's transactions commit it, streams/live/rollup.py). Faust's group also commits the
    ticks its partition-holding agent drained, which nothing resumes by (the intake reads
    the ticks): those may go back and change nothing."""
    prefix = settings.topic_prefix
    out = asyncio.run(committed_offsets(settings.kafka_bootstrap, f"{prefix}.decide-intake"))
    faust = asyncio.run(committed_offsets(settings.kafka_bootstrap, f"{prefix}.decide"))
    feed = TopicNames(prefix).of(ROLLUP_FEED)
    return out | {tp: offset for tp, offset in faust.items() if tp.startswith(f"{feed}[")}


_ROLLUP_CLAIM = re.compile(r"rollup: fenced and claimed partitions \[(.*)\]")


def _holds_rollup_feed(log: Path, timeout: float = 60) -> bool:
    """Whether the worker's latest claim of the roll-up feed holds its partition."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        claims = _ROLLUP_CLAIM.findall(log.read_text())
        if claims:
            return bool(claims[-1])
        time.sleep(0.5)
    raise AssertionError(f"the worker did not claim its roll-up partitions in {timeout}s")


@pytest.mark.parametrize("victim_holds", ["chengdu", "rollup-feed"])
def test_a_paused_worker_resumed_after_losing_its_partitions_changes_nothing(
    stack: Settings, unique_name: Callable[..., str], tmp_path: Path, victim_holds: str
) -> None:
    lines, _truth = simulate("cholera", 5, tmp_path / "cholera.jsonl")
    first = live_settings(stack, unique_name("zombie"))
    second = first.model_copy(update={"metrics_port": free_port()})
    prepare(first)
    logs = (tmp_path / "first.log", tmp_path / "second.log")
    workers = (start_worker(first, logs[0]), start_worker(second, logs[1]))
    try:
        _until_split(logs)
        if victim_holds == "chengdu":
            victim = 0 if str(partition_for("5101")) in _assigned(logs[0]) else 1
        else:
            victim = 0 if _holds_rollup_feed(logs[0]) else 1
            assert _holds_rollup_feed(logs[1 - victim]) is False
        zombie, survivor = workers[victim], workers[1 - victim]
        half = len(lines) // 2
        sent = publish(first, lines[:half])
        _until_consumed((first, second)[victim].metrics_port)
        zombie.send_signal(signal.SIGSTOP)  # mid-run: decided, not all committed
        rest = publish(first, lines[half:])
        _until_all_partitions(logs[1 - victim], timeout=SESSION_TIMEOUT_S * 9)
        wait_decided(first, survivor, timeout=150)
        wait_rolled_up(first, survivor, timeout=150)
        taken_over = _offsets(first)
        zombie.send_signal(signal.SIGCONT)
        # It resumes where it stopped (a commit long due, a batch in flight) until it hears
        # of the rebalance; then the group splits the partitions again. No committed offset
        # may go back to where the zombie stopped.
        deadline = time.monotonic() + SESSION_TIMEOUT_S
        while time.monotonic() < deadline:
            now = _offsets(first)
            back = {tp: (o, now[tp]) for tp, o in taken_over.items() if now.get(tp, 0) < o}
            assert not back, f"the zombie committed offsets of partitions it lost: {back}"
            time.sleep(0.2)
        for proc in workers:
            if proc.poll() is None:
                wait_decided(first, proc, timeout=150)
                wait_rolled_up(first, proc, timeout=150)
                break
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGCONT)
            stop_worker(worker, signal.SIGKILL)

    # Nothing the zombie sent after the claim counts: every state in the changelog is the
    # one the events determine (an overwrite by the zombie's older state would differ), and
    # every offset was committed (by owners; a partition stuck behind a fenced producer
    # would have failed wait_decided above).
    rulebook = default_rulebook()
    events = [*sent.events, *rest.events, *worker_ticks(first)]
    states, outputs = fold(events, rulebook)
    assert state_fingerprints(first) == {j: state_fingerprint(s) for j, s in states.items()}
    # The roll-up stage's states and decisions likewise (an overwrite by the zombie's older
    # roll-up state would lose the tier changes decided after it).
    areas, rolled = rollup_many({}, rollup_feed(outputs, rulebook, events), rulebook)
    assert areas, "the scenario rolls nothing up: this test would check nothing"
    assert rollup_timelines(first) == {a: rollup_timeline(s) for a, s in areas.items()}
    assert area_decisions(escalations_produced(first)) == area_decisions(rolled)
