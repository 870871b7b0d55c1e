"""The decide stage's watchdog measures how long records wait, not how long the log was
quiet: a worker survives a quiet spell far past its threshold (the demo's worker exited 75
two seconds after the first record of a quiet night), and a decide stage that really stops
still makes the worker exit 75 so that a supervisor restarts it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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
    wait_decided,
)

STALL_S = 12.0  # the watchdog's threshold here (production: 300 s): far above one record's commit

# A worker whose decide stage never finishes its first batch (its sends never return).
STUCK_WORKER = """
import asyncio
from streams.live.output_sender import OutputSender
async def never(self, outgoing):
    await asyncio.Event().wait()
OutputSender.queue = never
from streams.live.runner import run_worker
from streams.config.settings import load_settings
run_worker(load_settings())
"""


def case_now(n: int) -> bytes:
    """A valid case reported now (so the event clock moves and the worker writes ticks,
    as after a quiet night)."""
    now = datetime.now(UTC).replace(microsecond=0)
    return json.dumps(
        {
            "event_id": f"quiet-{n}",
            "kind": "case",
            "schema_version": 1,
            "msg_type": "Alert",
            "status": "Actual",
            "source": {"agency_id": "H-510104-01", "agency_type": "health"},
            "occurred_at": (now - timedelta(minutes=5)).isoformat(),
            "reported_at": now.isoformat(),
            "region": "510104",
            "classification": "suspected",
            "severity": "moderate",
            "case_id": f"C-quiet-{n}",
            "patient_ref": f"P-quiet-{n}",
            "disease": "cholera",
            "facility_id": "H-510104-01",
            "onset_date": now.date().isoformat(),
        }
    ).encode()


def test_a_quiet_spell_past_the_threshold_does_not_stop_the_worker(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    settings = live_settings(stack, unique_name("quiet"), worker_stall_exit_s=STALL_S)
    prepare(settings)
    log = tmp_path / "worker.log"
    with running_worker(settings, log) as proc:
        publish(settings, [case_now(0)])
        wait_decided(settings, proc)
        # Each round: quiet past the threshold, then one record (and the ticks the event
        # clock writes after it). Before the fix every round risked exit 75 (~75 % each).
        for n in range(1, 4):
            time.sleep(STALL_S + 3)
            publish(settings, [case_now(n)])
            wait_decided(settings, proc)
        time.sleep(STALL_S + 3)  # the watchdog looks again, several times
        assert proc.poll() is None, log.read_text()[-3000:]
    cases = ch_admin.query(
        f"SELECT count() FROM {settings.clickhouse_database}.cases FINAL"
    ).result_rows[0][0]
    assert cases == 4
    assert "stalled" not in log.read_text()


def test_a_decide_stage_that_stops_still_makes_the_worker_exit_75(
    stack: Settings, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    settings = live_settings(stack, unique_name("stuck"), worker_stall_exit_s=STALL_S)
    prepare(settings)
    publish(settings, [case_now(0)])
    began = time.monotonic()
    code, text = run_script_worker(settings, STUCK_WORKER, tmp_path / "stuck.log", 120)
    assert code == 75, text[-3000:]
    assert "decide stage stalled" in text
    assert time.monotonic() - began > STALL_S  # it waited for the threshold first
    assert committed_nothing(settings)
