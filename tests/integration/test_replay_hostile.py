"""The 2062 typo through ``tierflow replay`` on the real stack (issue 11): a review of the
Hangzhou cholera outbreak with the typo lands the same tiers, tasks and alerts as one
without it, and the typo in ``rejected_events`` with its reason."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import orjson
from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from tests.unit.test_input_checks import TYPO, hangzhou_outbreak

from .kafka_helpers import run_cli
from .replay_support import DECISIONS, decisions, drop_databases


def test_the_2062_typo_changes_nothing_in_a_review_and_is_rejected_with_its_reason(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    events = hangzhou_outbreak()
    clean, typo = tmp_path / "clean.jsonl", tmp_path / "typo.jsonl"
    clean.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    typo.write_bytes(b"\n".join(orjson.dumps(e) for e in [*events[:6], TYPO, *events[6:]]) + b"\n")
    base, bad = unique_name("clean"), unique_name("typo")
    settings = stack.model_copy(update={"topic_prefix": unique_name(), "stack_home": tmp_path})
    try:
        run_cli(["replay", "--name", base, "--from-file", str(clean)], settings)
        run_cli(["replay", "--name", bad, "--from-file", str(typo)], settings)
        tiers = decisions(ch_admin, f"review_{base}", "tier_timeline")
        assert [row[3] for row in sorted(tiers, key=lambda r: r[5])] == ["IV", "III"]
        for table in DECISIONS:
            ours = decisions(ch_admin, f"review_{bad}", table)
            assert ours == decisions(ch_admin, f"review_{base}", table), table
        rows = ch_admin.query(
            f"SELECT reason, field FROM review_{bad}.rejected_events FINAL"
        ).result_rows
        [(reason, field)] = rows
        assert field == "occurred_at"
        assert "2062-03-02T09:00:00+08:00" in reason and "2026-03-02T09:00:00+08:00" in reason
        assert not ch_admin.query(f"SELECT count() FROM review_{base}.rejected_events").result_rows[
            0
        ][0]
    finally:
        drop_databases(ch_admin, f"review_{base}", f"review_{bad}")
