"""Crash: SIGKILL the worker mid-scenario, restart it as the same static group member;
what lands equals an uninterrupted run's (nothing missing, nothing doubled)."""

from __future__ import annotations

import contextlib
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings

from .live_support import (
    TABLES,
    counts,
    live_settings,
    prepare,
    publish,
    rows,
    running_worker,
    simulate,
    start_worker,
    stop_worker,
    wait_decided,
    wait_landed,
)
from .offline_answer import state_fingerprints

# decided_at is processing time and the version column follows it: everything else must
# match. Retracted rows are left out: which early decisions a late event retracts depends
# on where batch boundaries fell, and a crash moves them; what stands must not move.
_COMPARED = {
    "tier_timeline": ("decision_id, incident_id, tier, effective_at, rule_ids", "NOT retracted"),
    "tasks": ("task_id, incident_id, tier, state, due_at", "state != 'retracted'"),
    "alerts": ("alert_id, alert_kind, subject_id", "NOT retracted"),
    "incidents": ("incident_id, tier, phase, opened_at", "1"),
    "cases": ("event_id, case_id, national_id, classification", "1"),
    "transfers": ("transfer_id, transfer_status", "1"),
    "stock_levels": ("site_id, item, at, on_hand, days_of_cover", "1"),
    "rejected_events": ("extract(topic, '[.].*'), partition, offset, reason", "1"),  # no prefix
}


def _landed(ch: Client, db: str) -> dict[str, list[tuple[object, ...]]]:
    assert set(_COMPARED) == set(TABLES)
    return {t: rows(ch, db, t, cols, where) for t, (cols, where) in _COMPARED.items()}


def _doubles(ch: Client, db: str) -> int:
    """Rows that FINAL would collapse are fine; count rows whose id appears twice after
    FINAL (a doubled decision would have a second id)."""
    return int(
        ch.query(
            f"SELECT count() - uniqExact(decision_id) FROM {db}.tier_timeline FINAL"
        ).result_rows[0][0]
    )


def _until_some_landed(ch: Client, db: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, "worker exited"
        with contextlib.suppress(Exception):  # tables not migrated yet
            landed = counts(ch, db)
            if any(landed[t] for t in ("tier_timeline", "incidents", "stock_levels")):
                return
        time.sleep(0.25)
    raise AssertionError("the first worker landed nothing within 60 s")


def test_sigkill_mid_scenario_then_restart_lands_the_same(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    lines, _truth = simulate("cholera", 11, tmp_path / "cholera.jsonl")

    calm = live_settings(stack, unique_name("calm"), tick_clock="wall", tick_interval_s=3600)
    prepare(calm)
    sent = publish(calm, lines)
    with running_worker(calm, tmp_path / "calm.log") as proc:
        wait_decided(calm, proc)  # then what it decided lands
        wait_landed(ch_admin, calm.clickhouse_database, rejected=sent.malformed, proc=proc)
    expected = _landed(ch_admin, calm.clickhouse_database)

    # Same records, one worker killed while it works through them. Ticks come only from
    # the scenario (the timer's first wall-clock tick is an hour away) so both runs see
    # the same time.
    # Both processes are one static group member (as the demo's supervised worker is): the
    # restart takes the killed one's partitions at once, without a session timeout; the
    # other live tests restart dynamic members.
    crash = live_settings(
        stack, unique_name("crash"), tick_clock="wall", tick_interval_s=3600,
        worker_instance_id="crash-test",
    )  # fmt: skip
    prepare(crash)
    half = len(lines) // 2
    publish(crash, lines[:half])
    first = start_worker(crash, tmp_path / "crash.log")
    _until_some_landed(ch_admin, crash.clickhouse_database, first)  # decided, committed some
    publish(crash, lines[half:])
    time.sleep(1.5)
    stop_worker(first, signal.SIGKILL)
    with running_worker(crash, tmp_path / "crash.log") as proc:
        wait_decided(crash, proc)  # then what it decided lands
        wait_landed(ch_admin, crash.clickhouse_database, rejected=sent.malformed, proc=proc)
    assert _landed(ch_admin, crash.clickhouse_database) == expected
    assert _doubles(ch_admin, crash.clickhouse_database) == 0
    # The state the restarted worker recovered and went on from is the whole story: its
    # final changelog state equals the uninterrupted run's.
    expected_states = state_fingerprints(calm)
    assert expected_states, "no state in the changelog"
    assert state_fingerprints(crash) == expected_states
