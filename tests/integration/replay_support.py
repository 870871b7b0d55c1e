"""Helpers for the replay tests: publish a scenario as ``tierflow publish`` does (record
timestamps = event time), wait for a live run to settle, read what a run decided without
its processing-time fields, and snapshot what a replay must never touch."""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.ops.kafka import admin_client
from streams.ops.publisher import plan_lines, publish_records
from streams.ops.record_signer import register_senders
from streams.replay.session import ReviewRequest, replay_kafka

from .live_support import TABLES, counts

# What a run decided, processing time aside (decided_at, and versions made from it), and
# which of its rows stand (a late event retracts a decision: the command view hides it).
STANDING = {
    "tier_timeline": "NOT retracted",
    "alerts": "NOT retracted",
    "tasks": "state != 'retracted'",
}
DECISIONS = {
    "tier_timeline": "decision_id, incident_id, jurisdiction, tier, previous_tier, effective_at,"
    " rule_ids, toString(evidence), rulebook_version",
    "tasks": "task_id, incident_id, tier, agency_type, action, issued_at, due_at, state, acked_at",
    "alerts": "alert_id, alert_kind, level, subject_id, incident_id, at, message, details",
    "incidents": "incident_id, jurisdiction, tier, phase, warning, opened_at, updated_at,"
    " toString(metrics)",
    "stock_levels": "site_id, item, at, on_hand, burn_rate_per_day, days_of_cover",
    "transfers": "transfer_id, transfer_status, to_facility",
}


def publish_scenario(settings: Settings, lines: list[bytes]) -> tuple[datetime, datetime]:
    """Publish the valid lines as ``tierflow publish`` would (keyed by jurisdiction, ticks to
    every partition, record timestamp = event time); returns ``[first, last + 1 ms)`` of
    their event times."""
    records, _errors = plan_lines(lines, settings.jurisdiction_digits)
    register_senders(settings, records)
    publish_records(records, settings)
    stamps = [r.timestamp_ms for r in records if r.timestamp_ms is not None]
    return _instant(min(stamps)), _instant(max(stamps) + 1)


def _instant(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC)


def wait_settled(
    ch: Client,
    database: str,
    proc: subprocess.Popen[bytes],
    ready: Callable[[dict[str, int]], bool],
    *,
    timeout: float = 60,
    quiet: float = 4,
) -> dict[str, int]:
    """Wait until ``ready(counts)`` and no table changed for ``quiet`` seconds."""
    deadline = time.monotonic() + timeout
    last: dict[str, int] | None = None
    since = time.monotonic()
    while time.monotonic() < deadline:
        assert proc.poll() is None, "worker exited"
        try:
            now = counts(ch, database)
        except Exception:  # not migrated yet
            time.sleep(0.5)
            continue
        if now != last:
            last, since = now, time.monotonic()
        elif ready(now) and time.monotonic() - since > quiet:
            return now
        time.sleep(0.5)
    raise AssertionError(f"{database} did not settle within {timeout}s: {last}")


def decisions(ch: Client, database: str, table: str, where: str = "1") -> list[tuple[Any, ...]]:
    """Every standing Actual row of ``table`` (FINAL) matching ``where``, processing-time
    fields left out, sorted."""
    columns, standing = DECISIONS[table], STANDING.get(table, "1")
    sql = (
        f"SELECT {columns} FROM {database}.{table} FINAL"
        f" WHERE status = 'Actual' AND {standing} AND {where}"
    )
    return sorted((tuple(r) for r in ch.query(sql).result_rows), key=repr)


def all_counts(ch: Client, database: str) -> dict[str, int]:
    """Row counts (without FINAL: every landed row) of the database and its exercise twin."""
    out = {}
    for db in (database, f"{database}_exercise"):
        for table in TABLES:
            rows = ch.query(f"SELECT count() FROM {db}.{table}").result_rows
            out[f"{db}.{table}"] = int(rows[0][0])
    return out


async def _groups(settings: Settings) -> dict[str, dict[str, int]]:
    async with admin_client(settings) as admin:
        listed = await admin.list_consumer_groups()
        ids = sorted(g[0] for g in listed if str(g[0]).startswith(settings.topic_prefix + "."))
        out = {}
        for group in ids:
            offsets = await admin.list_consumer_group_offsets(group)
            out[group] = {f"{tp.topic}:{tp.partition}": m.offset for tp, m in offsets.items()}
        return out


def consumer_groups(settings: Settings) -> dict[str, dict[str, int]]:
    """Committed offsets of every consumer group of the settings' topic prefix."""
    return asyncio.run(_groups(settings))


def write_rulebook(path: Path, source: Path, rule_id: str, threshold: int) -> Path:
    """A copy of ``source`` with the threshold of rule ``rule_id`` changed (text edit of the
    one line that holds it, so the copy stays the shipped rulebook otherwise)."""
    text = source.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    (at,) = [i for i, line in enumerate(lines) if f"id: {rule_id}," in line]
    old = lines[at]
    assert "threshold: " in old, old
    head, _, tail = old.partition("threshold: ")
    lines[at] = f"{head}threshold: {threshold}{tail[tail.index(',') :]}"
    path.write_text("".join(lines), encoding="utf-8")
    return path


def assert_resumes_to_whole(
    settings: Settings, ch: Client, request: ReviewRequest, whole: str
) -> None:
    """Run the interrupted review ``request`` again: it resumes, and what it holds then
    equals review ``whole`` of the same range run in one go (run here)."""
    resumed = asyncio.run(replay_kafka(settings, request))
    assert resumed.resumed
    asyncio.run(replay_kafka(settings, replace(request, name=whole)))
    for table in DECISIONS:
        ours = decisions(ch, f"review_{request.name}", table)
        theirs = decisions(ch, f"review_{whole}", table)
        assert ours == theirs, (
            table,
            [r for r in ours if r not in theirs],
            [r for r in theirs if r not in ours],
        )
    assert decisions(ch, f"review_{whole}", "tier_timeline")


def drop_databases(ch: Client, *databases: str) -> None:
    """Drop each database and its exercise twin (test clean-up)."""
    for database in databases:
        for db in (database, f"{database}_exercise"):
            ch.command(f"DROP DATABASE IF EXISTS {db}")


@dataclass(frozen=True)
class CutReview:
    """The cholera scenario ×20 published under a prefix of its own: a request for a
    review of its whole range to interrupt (``request``), and the name of the review run
    whole to compare it with."""

    settings: Settings
    request: ReviewRequest
    whole: str

    @property
    def checkpoint(self) -> Path:
        return self.settings.stack_home / "reviews" / f"{self.request.name}.checkpoint.json"
