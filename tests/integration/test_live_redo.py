"""A worker dies after its outputs went out but before anything was committed or its states
reached the changelog, having decided in small batches; the next worker decides the same
records again from the empty state. Outputs are diffs against what the state says was
emitted, so a redo in other batches could leave the first worker's intermediate
decisions standing (a change a later batch took back, never emitted by the redo). The
decide journal makes the redo take the same batches: what lands equals the offline
answer."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.core import default_rulebook, fold

from .kafka_helpers import committed_offsets
from .live_support import (
    ROOT,
    live_settings,
    prepare,
    publish,
    running_worker,
    simulate,
    wait_decided,
    wait_landed,
    worker_env,
)
from .offline_answer import (
    assert_areas_as_intended,
    assert_decisions_equal_offline,
)
from .rollup_answer import (
    with_rollups,
    worker_ticks,
)

# Exits (DOOMED, a code nothing else exits with: not a traceback's 1) the moment the
# outputs of its 6th decided batch are durable.
DOOMED = 97
DOOMED_WORKER = f"""
import asyncio, os
from streams.live.output_sender import OutputSender
real = OutputSender.queue
batches = []
async def produce(self, outgoing):
    acks = await real(self, outgoing)
    await asyncio.gather(*acks)
    batches.append(len(outgoing))
    if len(batches) == 6:
        os._exit({DOOMED})
    return acks
OutputSender.queue = produce
from streams.live.runner import run_worker
from streams.config.settings import load_settings
run_worker(load_settings())
"""


def test_a_redo_after_a_crash_decides_the_same_batches(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    lines, truth = simulate("cholera", 3, tmp_path / "cholera.jsonl")
    # ticks only from the scenario: the timer's first wall-clock tick is an hour away
    settings = live_settings(stack, unique_name("redo"), tick_clock="wall", tick_interval_s=3600)
    prepare(settings)
    sent = publish(settings, lines)

    small_batches = {"TIERFLOW_WORKER_BATCH_MAX": "20", "TIERFLOW_WORKER_COMMIT_INTERVAL_S": "3600"}
    log = tmp_path / "doomed.log"
    with log.open("wb") as out:
        doomed = subprocess.run(
            [sys.executable, "-c", DOOMED_WORKER], env={**worker_env(settings), **small_batches},
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=90, check=False,
        )  # fmt: skip
    assert doomed.returncode == DOOMED, log.read_text()[-2000:]
    group = f"{settings.topic_prefix}.decide-intake"
    committed = asyncio.run(committed_offsets(settings.kafka_bootstrap, group))
    assert not any(offset > 0 for offset in committed.values()), committed

    with running_worker(settings, tmp_path / "worker.log") as proc:
        wait_decided(settings, proc)
        wait_landed(ch_admin, settings.clickhouse_database, rejected=sent.malformed, proc=proc)

    rulebook = default_rulebook()
    inputs = [*sent.events, *worker_ticks(settings)]
    states, outputs = fold(inputs, rulebook)
    database = settings.clickhouse_database
    assert_decisions_equal_offline(
        ch_admin, database, states, with_rollups(outputs, rulebook, inputs)
    )
    assert_areas_as_intended(ch_admin, database, truth)
