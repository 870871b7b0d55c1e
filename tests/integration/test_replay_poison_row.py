"""A row ClickHouse refuses never stops a review (issue 11 item 5, as the live landing):
the review database of one replay refuses one case's row (a CHECK constraint the test adds
to its ``cases`` table: a value the store rejects). ``tierflow replay`` finishes, that case
is in the review's ``rejected_events`` with the reason (``stage = landing``), every other
row lands, and the decisions equal those of the same file replayed into a database that
refuses nothing."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

import orjson
from clickhouse_connect.driver.client import Client

from sinks.namespaces import migrate_namespaces
from streams.config.settings import Settings
from tests.unit.test_input_checks import hangzhou_outbreak, hz_case

from .kafka_helpers import run_cli
from .replay_support import DECISIONS, decisions, drop_databases

POISON = 4  # the case whose row the refusing database rejects


def _count(ch: Client, database: str, table: str) -> int:
    return int(ch.query(f"SELECT count() FROM {database}.{table} FINAL").result_rows[0][0])


def test_a_row_the_review_database_refuses_is_rejected_with_its_reason_and_the_rest_lands(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    events = hangzhou_outbreak()
    events[POISON] = hz_case(POISON, POISON * 120, patient_ref="POISON")
    path = tmp_path / "outbreak.jsonl"
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    base, bad = unique_name("clean"), unique_name("poison")
    settings = stack.model_copy(update={"topic_prefix": unique_name(), "stack_home": tmp_path})
    try:
        migrate_namespaces(settings, f"review_{bad}")
        ch_admin.command(
            f"ALTER TABLE review_{bad}.cases ADD CONSTRAINT no_poison CHECK patient_ref != 'POISON'"
        )
        run_cli(["replay", "--name", base, "--from-file", str(path)], settings)
        run_cli(["replay", "--name", bad, "--from-file", str(path)], settings)  # exits 0
        for table in DECISIONS:
            ours = decisions(ch_admin, f"review_{bad}", table)
            assert ours == decisions(ch_admin, f"review_{base}", table), table
        assert decisions(ch_admin, f"review_{bad}", "tier_timeline")  # the outbreak decided
        assert _count(ch_admin, f"review_{base}", "cases") == 12
        assert _count(ch_admin, f"review_{bad}", "cases") == 11
        rows = ch_admin.query(
            f"SELECT stage, topic, reason, value_b64 FROM review_{bad}.rejected_events FINAL"
        ).result_rows
        [(stage, topic, reason, value_b64)] = rows
        assert stage == "landing"
        assert topic == f"{settings.topic_prefix}.cases.v1"
        assert "table cases" in reason and "no_poison" in reason
        assert b"hz-case-4" in base64.b64decode(value_b64)
        assert not _count(ch_admin, f"review_{base}", "rejected_events")
    finally:
        drop_databases(ch_admin, f"review_{base}", f"review_{bad}")
