"""Worker health an operator can see: the heartbeat a worker lands and the board's
freshness line (up, lag, last decision; stale once the worker is gone), and the demo's
supervised worker (restarted on exit, listed by `stack status`, stopped truthfully)."""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

from clickhouse_connect.driver.client import Client

from sinks.client import connect
from sinks.pipeline_view import worker_health
from streams.config.settings import Settings
from streams.ops import workers
from streams.ops.stack_proc import is_alive

from .kafka_helpers import run_cli
from .live_support import (
    live_settings,
    prepare,
    publish,
    running_worker,
    simulate,
    stop_worker,
    wait_landed,
)

BEAT_S = 1.0


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not {what} within {timeout:.0f}s")
        time.sleep(0.5)


def test_the_board_says_whether_a_worker_is_up_and_how_far_behind(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    settings = live_settings(stack, unique_name("beat"), worker_heartbeat_s=BEAT_S)
    lines, _ = simulate("road-mci", 1, tmp_path / "mci.jsonl")
    prepare(settings)
    sent = publish(settings, lines)
    with running_worker(settings, tmp_path / "worker.log") as proc:
        wait_landed(ch_admin, settings.clickhouse_database, rejected=sent.malformed, proc=proc)
        reader = connect(settings, settings.clickhouse_database, reader=True)
        _wait(lambda: worker_health(reader).decide_lag == 0, 30, "caught up")
        health = worker_health(reader)
        (beat,) = health.up
        assert beat["worker_id"] == f"{os.uname().nodename}:{proc.pid}"
        assert beat["stages"] == "all" and beat["land_lag"] == 0
        assert health.latest("last_decision_at") is not None
        assert health.latest("last_commit_at") is not None
        board = run_cli(["board"], settings).stdout
        (line,) = [x for x in board.splitlines() if x.startswith("as of ")]
        assert "worker up (1 process) · lag 0 to decide, 0 to land · last decision" in line
        stop_worker(proc)
    # no beat for over three intervals: the same line turns stale
    _wait(lambda: not worker_health(reader).up, 30, "stale")
    board = run_cli(["board"], settings).stdout
    assert "worker stale: last heartbeat" in board and f":{proc.pid})" in board
    reader.close()


def _state(settings: Settings) -> dict[str, object]:
    path = workers.workers_dir(settings) / "demo.state.json"
    return dict(json.loads(path.read_text()))


def test_the_demo_worker_is_restarted_listed_and_stopped(
    stack: Settings, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    settings = live_settings(stack, unique_name("sup"), stack_home=tmp_path / "home")
    prepare(settings)
    env = {"TIERFLOW_STACK_HOME": str(settings.stack_home)}
    supervisor = workers.start(settings, "demo")
    try:
        _wait(lambda: workers.status(settings, "demo").worker_pid is not None, 30, "started")
        first = workers.status(settings, "demo").worker_pid
        assert first is not None
        os.kill(first, signal.SIGKILL)  # the worker dies as exit 70/75 would end it
        _wait(
            lambda: workers.status(settings, "demo").worker_pid not in (None, first),
            60,
            "restarted",
        )
        found = workers.status(settings, "demo")
        assert (found.state, found.restarts) == ("running", 1)
        assert found.last_exit.startswith("-9 at ") and "killed by SIGKILL" in found.last_exit
        assert "exited -9 (killed by SIGKILL); restart 1 in 1 s" in found.log.read_text()

        listed = run_cli(["stack", "status"], settings, env=env).stdout
        (row,) = [x for x in listed.splitlines() if "│ demo " in x]
        assert f"│ running │ {found.worker_pid} " in row and f" {supervisor} " in row

        second = found.worker_pid
        stopped = run_cli(["demo", "--stop"], settings, env=env).stdout
        assert f"supervisor pid {supervisor}, worker pid {second}" in stopped
        assert "restarted 1 time(s)" in stopped
        assert not is_alive(supervisor) and not is_alive(second or 0)
        again = run_cli(["demo", "--stop"], settings, env=env).stdout
        assert "no demo worker was running" in again
    finally:
        workers.stop(settings, "demo")
