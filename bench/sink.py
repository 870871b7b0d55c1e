"""Sink throughput: the ClickHouse writer (models → rows → batched inserts with dedup
tokens) side by side with a raw ``client.insert`` of the same row tuples, in one run.

    .venv/bin/python bench/sink.py --rows 1000000 --batch 20000 --rounds 3

Rounds alternate which side goes first (the second one runs beside the first one's
background merges); medians are reported. Needs the local stack (`tierflow stack up`);
works in a throw-away database it drops.
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from clickhouse_connect.driver.client import Client

from sinks.clickhouse import INSERT_SETTINGS, ClickHouseSink
from sinks.client import connect
from sinks.migrate import migrate
from sinks.tables import TABLES
from sinks.writer import SinkPolicy, dedup_token
from streams.config.settings import Settings, load_settings
from topics.models import CaseEvent
from topics.privacy import scrub_input

T0 = datetime(2026, 3, 1, tzinfo=UTC)
TOPIC = "tierflow.cases.v1"
SPEC = TABLES["cases"]


def make_cases(count: int) -> list[CaseEvent]:
    """``count`` validated, pseudonymised case events over 60 days and 40 facilities."""
    key = b"bench-key"
    out = []
    for n in range(count):
        at = T0 + timedelta(seconds=n * 5)
        raw = CaseEvent(
            kind="case",
            event_id=f"cdc-{n:09d}",
            source={"agency_id": f"cdc-{n % 7}", "agency_type": "health"},
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
        out.append(scrub_input(raw, key))
    return out


@dataclass
class Bench:
    settings: Settings
    database: str
    client: Client
    batch: int

    def raw(self, models: list[CaseEvent]) -> float:
        """Seconds to insert the models' row tuples with plain client.insert calls; the
        tuples are made before the clock starts."""
        rows = SPEC.rows(models)
        types = [str(t) for (t,) in self.client.query(
            "SELECT type FROM system.columns WHERE database = currentDatabase()"
            " AND table = 'cases' ORDER BY position"
        ).result_rows]  # fmt: skip
        began = time.perf_counter()
        for start in range(0, len(rows), self.batch):
            self.client.insert(
                "cases_raw",
                rows[start : start + self.batch],
                column_names=list(SPEC.column_names),
                column_type_names=types,
                settings=INSERT_SETTINGS,
            )
        return time.perf_counter() - began

    def writer(self, models: list[CaseEvent], partition: int) -> float:
        """Seconds for a fresh ClickHouseSink to land the models, durable (flush)."""
        policy = SinkPolicy(batch_rows=self.batch, max_buffered_rows=4 * self.batch)
        began = time.perf_counter()
        sink = ClickHouseSink(self.settings, self.database, policy)
        for start in range(0, len(models), self.batch):
            chunk = models[start : start + self.batch]
            token = dedup_token("cases", TOPIC, partition, start, start + len(chunk) - 1)
            sink.write("cases", chunk, token)
        sink.flush()
        return time.perf_counter() - began

    def counts(self) -> list[int]:
        return [
            int(self.client.query(f"SELECT count() FROM {name}").result_rows[0][0])
            for name in ("cases_raw", "cases")
        ]


def run(bench: Bench, rows: int, rounds: int) -> None:
    began = time.perf_counter()
    models = make_cases(rows)
    print(f"built {len(models):,} case events in {time.perf_counter() - began:.1f} s")
    # The input models are fixtures: keep the collector from rescanning them on every
    # collection, which would bill a million live objects to whichever side runs.
    gc.freeze()
    began = time.perf_counter()
    SPEC.columns(models)
    mapping_s = time.perf_counter() - began
    raw_times: list[float] = []
    writer_times: list[float] = []
    for round_ in range(rounds):
        bench.client.command("TRUNCATE TABLE cases_raw")
        bench.client.command("TRUNCATE TABLE cases")
        if round_ % 2:
            writer_times.append(bench.writer(models, round_))
            raw_times.append(bench.raw(models))
        else:
            raw_times.append(bench.raw(models))
            writer_times.append(bench.writer(models, round_))
        assert bench.counts() == [rows, rows], bench.counts()
        print(f"round {round_ + 1}: raw {raw_times[-1]:.2f} s, writer {writer_times[-1]:.2f} s")
    print(f"rows: {rows:,} x {rounds} rounds, batch: {bench.batch:,}, "
          f"table: cases ({len(SPEC.column_names)} cols)")  # fmt: skip
    print(f"models → columns only : {rows / mapping_s:12,.0f} rows/s")
    # Medians, and bests: the best is the least disturbed by other load on the machine.
    for label, pick in (("median", statistics.median), ("best", min)):
        raw_s, writer_s = pick(raw_times), pick(writer_times)
        print(f"raw client.insert     : {rows / raw_s:12,.0f} rows/s ({label})")
        print(f"tierflow sink (writer): {rows / writer_s:12,.0f} rows/s ({label})")
        print(f"ratio writer / raw    : {raw_s / writer_s:12.2f} ({label})")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=20_000, help="rows per write/insert")
    parser.add_argument("--rounds", type=int, default=3, help="alternating raw/writer rounds")
    args = parser.parse_args()
    settings = load_settings()
    database = f"tierflow_bench_sink_{os.getpid()}"
    admin = connect(settings, "", login="migrator")
    migrate(admin, database)
    try:
        client = connect(settings, database, login="migrator")
        client.command("CREATE TABLE cases_raw AS cases")
        run(Bench(settings, database, client, args.batch), args.rows, args.rounds)
    finally:
        admin.command(f"DROP DATABASE IF EXISTS {database}")


if __name__ == "__main__":
    main()
