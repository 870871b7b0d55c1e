"""A review decided by worker processes (``--workers``, ``review_workers``): what lands
equals the offline answer of the whole pipeline (the core folded over the same records,
then the roll-up stages) and the review decided in one process, with the scenario's cities
held by different workers and mis-keyed records forwarded from one worker to another. A
worker that dies fails the review, naming it; the checkpoint keeps its last save, and the
same command resumes from there."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.core import default_rulebook, fold
from streams.replay import review_run
from streams.replay.runner import ReplayError
from streams.replay.session import replay_kafka
from streams.replay.workers import worker_of

from .kafka_helpers import run_cli
from .live_support import prepare, publish, simulate
from .offline_answer import assert_areas_as_intended, assert_decisions_equal_offline
from .replay_support import DECISIONS, CutReview, assert_resumes_to_whole, decisions
from .rollup_answer import with_rollups, worker_ticks

EVERYTHING = ["--from", "2000-01-01T00:00:00+00:00", "--to", "2100-01-01T00:00:00+00:00"]


def test_a_review_in_three_workers_lands_as_the_core_decides_offline(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    # (the stack's home: the agencies' keys the CLI verifies the records with are there)
    settings = stack.model_copy(update={"topic_prefix": unique_name()})
    lines, truth = simulate("cholera", 7, tmp_path / "cholera.jsonl")
    prepare(settings)
    # The first 40 events keyed by something else, on the partition after their city's:
    # the worker holding that partition forwards them to the one holding the city.
    sent = publish(settings, lines, wrong_keys=40)
    # Chengdu and the second city of province 51 are held by two workers, the forwards
    # read by the third: the roll-up's areas span workers.
    assert sorted(worker_of(city, 3) for city in ("5101", "5103")) == [0, 1]
    workers, single = unique_name("workers"), unique_name("single")
    try:
        run_cli(["replay", "--name", workers, *EVERYTHING, "--workers", "3"], settings)
        rulebook = default_rulebook()
        inputs = [*sent.events, *worker_ticks(settings)]
        states, outputs = fold(inputs, rulebook)
        database = f"review_{workers}"
        offline = with_rollups(outputs, rulebook, inputs)
        assert_decisions_equal_offline(ch_admin, database, states, offline)
        assert_areas_as_intended(ch_admin, database, truth)
        run_cli(["replay", "--name", single, *EVERYTHING, "--workers", "1"], settings)
        for table in DECISIONS:
            ours = decisions(ch_admin, database, table)
            assert ours == decisions(ch_admin, f"review_{single}", table), table
    finally:
        for name in (workers, single):
            for db in (f"review_{name}", f"review_{name}_exercise"):
                ch_admin.command(f"DROP DATABASE IF EXISTS {db}")


def test_a_worker_that_dies_fails_the_review_which_resumes_from_its_last_save(
    cut_review: CutReview, ch_admin: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(Fails when the review hangs on the dead worker, goes on without its share, or
    saves a point the dead worker's states are not in.)"""
    settings = cut_review.settings.model_copy(update={"review_workers": 2})
    monkeypatch.setattr(review_run, "CHECKPOINT_EVERY_S", 0.0)  # a save after every batch
    batches: list[int] = []

    def kill_a_worker(done: int, total: int) -> None:
        batches.append(done)
        if len(batches) == 3:
            (victim,) = [p for p in multiprocessing.active_children() if p.name.endswith("-1")]
            assert victim.pid is not None
            os.kill(victim.pid, signal.SIGKILL)

    with pytest.raises(ReplayError, match=r"review worker 1 ended \(killed by signal 9\)"):
        asyncio.run(replay_kafka(settings, cut_review.request, kill_a_worker, batch_records=500))
    assert len(batches) == 3, "the review went on without a worker"
    assert not multiprocessing.active_children(), "a worker outlived its review"
    saved = json.loads(cut_review.checkpoint.read_bytes())
    assert saved["events"] > 0
    assert saved["states"], "a save without the workers' states"
    monkeypatch.undo()
    assert_resumes_to_whole(settings, ch_admin, cut_review.request, cut_review.whole)
