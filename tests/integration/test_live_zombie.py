"""A zombie changes nothing (issue 11 item 7): of two workers, the one deciding Chengdu is
paused (SIGSTOP) mid-run, right after it consumed records, past the session timeout; the
other takes its partitions over, recovers their states and decides the rest; the paused
one is resumed (SIGCONT) and goes on where it stopped, with states and offsets that are
no longer its own. Kafka's fencing (one transactional producer per partition, claimed by
the new owner before it recovers, streams/live/fencing.py) refuses what it sends: no
committed offset goes back to where it stopped (without fencing its overdue commit did),
the states in the changelog equal the offline answer of an uninterrupted run, and every
offset is committed. (The roll-up stage is Faust's own agent and is not fenced this way: its
provincial decisions are not compared here, see README "Zombie workers".)"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import Callable
from pathlib import Path

from streams.core import default_rulebook, fold, state_fingerprint
from streams.stages.topology import partition_for
from topics.settings import Settings

from .kafka_helpers import committed_offsets
from .live_support import (
    free_port,
    live_settings,
    prepare,
    publish,
    simulate,
    start_worker,
    state_fingerprints,
    stop_worker,
    wait_decided,
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


def _intake_offsets(settings: Settings) -> dict[str, int]:
    group = f"{settings.topic_prefix}.decide-intake"
    return asyncio.run(committed_offsets(settings.kafka_bootstrap, group))


def test_a_paused_worker_resumed_after_losing_its_partitions_changes_nothing(
    stack: Settings, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    lines, _truth = simulate("cholera", 5, tmp_path / "cholera.jsonl")
    first = live_settings(stack, unique_name("zombie"))
    second = first.model_copy(update={"metrics_port": free_port()})
    prepare(first)
    logs = (tmp_path / "first.log", tmp_path / "second.log")
    workers = (start_worker(first, logs[0]), start_worker(second, logs[1]))
    try:
        _until_split(logs)
        chengdu = str(partition_for("5101"))
        victim = 0 if chengdu in _assigned(logs[0]) else 1
        zombie, survivor = workers[victim], workers[1 - victim]
        half = len(lines) // 2
        sent = publish(first, lines[:half])
        _until_consumed((first, second)[victim].metrics_port)
        zombie.send_signal(signal.SIGSTOP)  # mid-run: decided, not all committed
        rest = publish(first, lines[half:])
        _until_all_partitions(logs[1 - victim], timeout=SESSION_TIMEOUT_S * 9)
        wait_decided(first, survivor, timeout=150)
        taken_over = _intake_offsets(first)
        zombie.send_signal(signal.SIGCONT)
        # It resumes where it stopped (a commit long due, a batch in flight) until it hears
        # of the rebalance; then the group splits the partitions again. No committed offset
        # may go back to where the zombie stopped.
        deadline = time.monotonic() + SESSION_TIMEOUT_S
        while time.monotonic() < deadline:
            now = _intake_offsets(first)
            back = {tp: (o, now[tp]) for tp, o in taken_over.items() if now.get(tp, 0) < o}
            assert not back, f"the zombie committed offsets of partitions it lost: {back}"
            time.sleep(0.2)
        for proc in workers:
            if proc.poll() is None:
                wait_decided(first, proc, timeout=150)
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
    events = [*sent.events, *rest.events, *worker_ticks(first)]
    states, _outputs = fold(events, default_rulebook())
    assert state_fingerprints(first) == {j: state_fingerprint(s) for j, s in states.items()}
