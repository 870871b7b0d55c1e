"""Fail-stop: a decide stage that raises (a bug, not bad input) must not lose the batch.
Faust would ack and commit it and leave the agent dead without a word; the worker instead
logs the traceback and exits 70 before anything is committed, and a restarted worker
decides and lands everything."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings

from .live_support import (
    committed_nothing,
    live_settings,
    prepare,
    publish,
    run_script_worker,
    running_worker,
    simulate,
    wait_landed,
)
from .offline_answer import assert_log_landed

# The worker with a decide stage whose first batch raises.
FAULTY_WORKER = """
import streams.stages.decide as decide
real = decide.Decider.process
calls = []
def process(self, records):
    calls.append(len(records))
    if len(calls) == 1:
        raise RuntimeError("injected: a bug in the decide stage")
    return real(self, records)
decide.Decider.process = process
from streams.live.runner import run_worker
from streams.config.settings import load_settings
run_worker(load_settings())
"""


def test_a_failing_decide_stage_exits_before_committing_and_loses_nothing(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    settings = live_settings(stack, unique_name("failstop"))
    lines, _truth = simulate("cholera", 3, tmp_path / "cholera.jsonl")
    prepare(settings)
    sent = publish(settings, lines)

    code, text = run_script_worker(settings, FAULTY_WORKER, tmp_path / "faulty.log", 60)
    assert code == 70, text[-2000:]
    assert "decide stage failed" in text and "injected: a bug" in text
    assert committed_nothing(settings)

    with running_worker(settings, tmp_path / "worker.log") as proc:
        landed = wait_landed(
            ch_admin, settings.clickhouse_database, rejected=sent.malformed, proc=proc
        )
    assert_log_landed(ch_admin, settings)
    assert landed["cases"] == len({e.event_id for e in sent.events if e.kind == "case"})
    assert landed["tier_timeline"] > 0
