"""Errors no wait heals end the worker at once, with one ``error:`` line naming the cause
and a non-zero exit, instead of a retry loop a supervisor would restart forever: an applied
migration edited since (planted by recording another checksum for it), ClickHouse refusing
the worker's user (a wrong password), a bad rulebook."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.live.readiness import EXIT_CANNOT_HEAL

from .live_support import ROOT, live_settings, prepare, worker_env

TIMEOUT_S = 90  # well past the first retries of the old loop (1, 2, 4, 8, 10, 10 … s)


def _worker(settings: Settings, **env: str) -> subprocess.CompletedProcess[str]:
    """`tierflow worker` to its exit (TimeoutExpired: it kept retrying)."""
    return subprocess.run(
        [sys.executable, "-m", "streams.cli", "worker"],
        env={**worker_env(settings), **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def _error_line(proc: subprocess.CompletedProcess[str], code: int, *needles: str) -> str:
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error: ")]
    assert proc.returncode == code, proc.stderr[-3000:]
    assert len(errors) == 1, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    for needle in needles:
        assert needle in errors[0], errors[0]
    return errors[0]


def test_an_edited_applied_migration_stops_the_worker(
    stack: Settings, ch_admin: Client, unique_name, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    settings = live_settings(stack, unique_name("heal"))
    prepare(settings)
    ch_admin.insert(
        f"{settings.clickhouse_database}.schema_migrations",
        [[1, "command_view", "0" * 64, datetime.now(UTC)]],
        column_names=["version", "name", "checksum", "applied_at"],
    )
    proc = _worker(settings)
    _error_line(
        proc,
        EXIT_CANNOT_HEAL,
        "0001_command_view.sql changed after it was applied",
        settings.clickhouse_database,
    )


def test_clickhouse_refusing_the_user_stops_the_worker(stack: Settings, unique_name) -> None:  # type: ignore[no-untyped-def]
    settings = live_settings(stack, unique_name("heal"))
    prepare(settings)
    proc = _worker(settings, TIERFLOW_CLICKHOUSE_PASSWORD="not-the-password")
    _error_line(proc, EXIT_CANNOT_HEAL, "refused the user", "TIERFLOW_CLICKHOUSE_USER")


def test_a_bad_rulebook_stops_the_worker(stack: Settings, unique_name, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    settings = live_settings(stack, unique_name("heal"))
    rulebook = tmp_path / "rules.yaml"
    rulebook.write_text("tiers: [not, a, rulebook\n")
    proc = _worker(settings, TIERFLOW_RULEBOOK_PATH=str(rulebook))
    _error_line(proc, 1, str(rulebook))
