"""Sink throughput: the ClickHouse writer (models → rows → batched inserts with dedup
tokens) side by side with a raw ``client.insert`` of the same row tuples, in one run.

    .venv/bin/python bench/sink.py --rows 1000000 --batch 20000

Needs the local stack (`tierflow stack up`); works in a throw-away database it drops.
"""

from __future__ import annotations

import argparse
import os
import time
from datetime import UTC, datetime, timedelta

from sinks.clickhouse import INSERT_SETTINGS, ClickHouseSink
from sinks.client import connect
from sinks.migrate import migrate
from sinks.tables import TABLES
from sinks.writer import SinkPolicy, dedup_token
from topics.models import CaseEvent
from topics.privacy import pseudonymise_case
from topics.settings import load_settings

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TOPIC = "tierflow.cases.v1"


def make_cases(count: int) -> list[CaseEvent]:
    """``count`` validated, pseudonymised case events over 60 days and 40 facilities."""
    key = b"bench-key"
    out = []
    for n in range(count):
        at = T0 + timedelta(seconds=n * 5)
        raw = CaseEvent(
            kind="case",
            event_id=f"cdc-{n:09d}",
            source={"agency_id": f"cdc-{n % 7}", "agency_type": "health"},  # type: ignore[arg-type]
            occurred_at=at,
            reported_at=at + timedelta(minutes=30),
            region=f"5101{n % 20:02d}",
            case_id=f"c{n}",
            patient_ref=f"h{n % 40}-{n}",
            national_id=f"5101041990{n:08d}",
            disease=("cholera", "measles", "typhoid")[n % 3],
            classification=("suspected", "confirmed")[n % 2],
            facility_id=f"h{n % 40}",
        )
        out.append(pseudonymise_case(raw, key))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=20_000, help="rows per write/insert")
    args = parser.parse_args()
    settings = load_settings()
    database = f"bench_sink_{os.getpid()}"
    admin = connect(settings, "")
    migrate(admin, database)
    client = connect(settings, database)
    client.command("CREATE TABLE cases_raw AS cases")
    spec = TABLES["cases"]
    try:
        began = time.perf_counter()
        models = make_cases(args.rows)
        print(f"built {len(models):,} case events in {time.perf_counter() - began:.1f} s")

        began = time.perf_counter()
        rows = spec.rows(models)
        mapping_s = time.perf_counter() - began

        types = [t for _, t in client.query(
            f"SELECT name, type FROM system.columns WHERE database = '{database}'"
            " AND table = 'cases' ORDER BY position"
        ).result_rows]  # fmt: skip
        began = time.perf_counter()
        for start in range(0, len(rows), args.batch):
            client.insert(
                "cases_raw",
                rows[start : start + args.batch],
                column_names=list(spec.column_names),
                column_type_names=types,
                settings=INSERT_SETTINGS,
            )
        raw_s = time.perf_counter() - began
        del rows

        sink = ClickHouseSink(
            settings,
            database,
            SinkPolicy(batch_rows=args.batch, max_buffered_rows=4 * args.batch),
        )
        began = time.perf_counter()
        for start in range(0, len(models), args.batch):
            chunk = models[start : start + args.batch]
            token = dedup_token("cases", TOPIC, 0, start, start + len(chunk) - 1)
            sink.write("cases", chunk, token)
        sink.flush()
        writer_s = time.perf_counter() - began

        counts = [
            client.query(f"SELECT count() FROM {name}").result_rows[0][0]
            for name in ("cases_raw", "cases")
        ]
        assert counts == [args.rows, args.rows], counts
        n = args.rows
        print(f"rows: {n:,}, batch: {args.batch:,}, table: cases ({len(spec.column_names)} cols)")
        print(f"row mapping only      : {n / mapping_s:12,.0f} rows/s")
        print(f"raw client.insert     : {n / raw_s:12,.0f} rows/s  ({raw_s:.2f} s)")
        print(f"tierflow sink (writer): {n / writer_s:12,.0f} rows/s  ({writer_s:.2f} s)")
        print(f"ratio writer / raw    : {raw_s / writer_s:12.2f}")
    finally:
        admin.command(f"DROP DATABASE IF EXISTS {database}")


if __name__ == "__main__":
    main()
