"""Dashboard query latency at >= 10 M rows: every ClickHouse query of the provisioned
dashboards (panels and variables), expanded as Grafana would send it for the default
time range (last 7 days), run as the read-only user; median and p95 per query.

    .venv/bin/python -m bench.dashboards --runs 20            # generate, measure, drop
    .venv/bin/python -m bench.dashboards --keep --reuse       # keep / reuse the data

Rows are generated server-side (INSERT ... SELECT FROM numbers()) into a bench database
migrated like the live one, spread over the last ``--days`` days across 300 cities;
the 7-day window reads about 7/365 of them, through the time column each table is
ordered by. Latency is wall time at the client (HTTP round trip included). Target: median
< 100 ms per panel. Needs the local stack (`tierflow stack up`).
"""

from __future__ import annotations

import argparse
import statistics
import time
from datetime import UTC, datetime, timedelta

from clickhouse_connect.driver.client import Client

from sinks.client import connect
from sinks.migrate import migrate
from streams.config.settings import load_settings
from tests.grafana_sql import ALL, QueryWindow, VariableValue, expand, sql_targets

TARGET_MS = 100.0

# Deterministic "random" picks: h(k) is a hash of the row number and a salt k.
CITY = "toString(5100 + h(1) % 300)"
REGION = f"concat({CITY}, leftPad(toString(1 + h(2) % 12), 2, '0'))"
STATUS = "if(h(3) % 50 = 0, 'Exercise', 'Actual')"
DISEASES = (
    "['cholera','measles','norovirus','hepatitis_a','typhoid','mumps','scarlet_fever',"
    "'varicella','influenza','plague']"
)
TIER = "['I','II','III','IV'][1 + h(4) % 4]"
INCIDENT = "concat('inc-', toString(h(5) % 25000))"

# table -> (share of the rows, column list, SELECT expressions over `number` and `t`).
TABLES: dict[str, tuple[float, str, str]] = {
    "cases": (
        0.57,
        "event_id, msg_type, status, source_agency_id, source_agency_type, "
        "occurred_at, reported_at, region, case_id, patient_ref, disease, classification, "
        "facility_id",
        f"concat('e', toString(number)), 'Alert', {STATUS}, concat('hosp-', toString(h(6) % 900)), "
        "['health','health','emergency'][1 + h(7) % 3], t, t + toIntervalMinute(h(8) % 240), "
        f"{REGION}, concat('c', toString(intDiv(number, 2))), concat('p', toString(number)), "
        f"{DISEASES}[1 + h(9) % 10], "
        "['suspected','probable','confirmed','confirmed','discarded'][1 + h(10) % 5], "
        "concat('hosp-', toString(h(6) % 900))",
    ),
    "stock_levels": (
        0.19,
        "site_id, site_type, jurisdiction, status, item, unit, at, on_hand, "
        "baseline, burn_rate_per_day, days_of_cover",
        "concat('site-', toString(number % 3000)), 'hospital', "
        "toString(5100 + (number % 3000) % 300), "
        f"{STATUS}, "
        "['bed.icu','bed.isolation','ppe.n95','ppe.gown','ventilator','ecmo'][1 + h(11) % 6], "
        "'each', t, toFloat64(h(12) % 500), 500., toFloat64(1 + h(13) % 50), "
        "(h(12) % 500) / (1 + h(13) % 50)",
    ),
    "alerts": (
        0.095,
        "alert_id, alert_kind, level, jurisdiction, status, subject_id, incident_id, "
        "at, message, details",
        "concat('al-', toString(number)), "
        "['warning_opened','task_overdue','transfer_delayed','capacity_redirect','stock_low',"
        "'reporting_late'][1 + h(14) % 6], ['info','blue','yellow','orange','red'][1 + h(15) % 5], "
        f"{CITY}, {STATUS}, concat('s', toString(number)), {INCIDENT}, t, 'bench alert', '{{}}'",
    ),
    "tasks": (
        0.075,
        "task_id, incident_id, jurisdiction, status, tier, agency_type, action, "
        "issued_at, due_at, state",
        f"concat('t', toString(number)), {INCIDENT}, {CITY}, {STATUS}, {TIER}, "
        "['health','emergency','public_security','transport'][1 + h(16) % 4], 'act', t, "
        "t + toIntervalMinute(60 + h(17) % 300), ['open','acked','acked','overdue'][1 + h(18) % 4]",
    ),
    "tier_timeline": (
        0.04,
        "decision_id, incident_id, jurisdiction, status, tier, effective_at, "
        "rule_ids, evidence, rulebook_version, decided_at",
        f"concat('d', toString(number)), {INCIDENT}, {CITY}, {STATUS}, {TIER}, t, "
        "['r1'], map('confirmed', 1.), 'bench', t + toIntervalSecond(2)",
    ),
    "transfers": (
        0.03,
        "event_id, msg_type, status, source_agency_id, source_agency_type, "
        "occurred_at, reported_at, region, transfer_id, patient_ref, from_facility, "
        "to_facility, required_bed, transfer_status, eta",
        f"concat('tr-e', toString(number)), 'Update', {STATUS}, 'hosp-1', 'health', t, "
        f"t + toIntervalMinute(1), {REGION}, concat('tr', toString(number)), "
        "concat('p', toString(number)), concat('hosp-', toString(h(19) % 900)), "
        "concat('hosp-', toString(h(20) % 900)), ['icu','isolation','general'][1 + h(21) % 3], "
        "['requested','dispatched','en_route','arrived','arrived','cancelled'][1 + h(22) % 6], "
        "t + toIntervalMinute(30)",
    ),
    "incidents": (
        0.01,
        "incident_id, jurisdiction, status, category, disease, phase, tier, "
        "opened_at, updated_at, region, lat, lon, rulebook_version, version",
        "concat('inc-', toString(number % 25000)), "
        "toString(5100 + (number % 25000) % 300), "
        f"{STATUS}, 'infectious_disease', {DISEASES}[1 + (number % 25000) % 10], "
        "['reported','confirmed','contained','closed'][1 + h(23) % 4], "
        f"[NULL, 'I', 'II', 'III', 'IV'][1 + h(4) % 5], t - toIntervalDay(3), t, "
        f"{REGION}, 20 + (h(24) % 2000) / 100, 100 + (h(25) % 2000) / 100, 'bench', "
        "1 + intDiv(number, 25000)",
    ),
}


def generate(admin: Client, database: str, rows: int, days: int, end: datetime) -> None:
    """Fill every table with its share of ``rows``, oldest row ``days`` before ``end``."""
    span_ms = days * 86_400_000
    end_ms = int(end.timestamp() * 1000)
    for table, (share, columns, select) in TABLES.items():
        count = int(rows * share)
        started = time.perf_counter()
        sql = select.replace("h(", "cityHash64(number, ")
        admin.command(
            f"INSERT INTO {database}.{table} ({columns}) "
            f"SELECT {sql} FROM (SELECT number, fromUnixTimestamp64Milli("
            f"toInt64({end_ms} - intDiv(number * {span_ms}, {count})), 'UTC') AS t "
            f"FROM numbers({count}))",
            settings={"async_insert": 0, "max_insert_threads": 2},
        )
        print(f"  {table:<14} {count:>10,} rows in {time.perf_counter() - started:5.1f} s")


def measure(
    reader: Client, window: QueryWindow, variables: dict[str, VariableValue], runs: int
) -> list[tuple[str, float, float, int]]:
    results = []
    for target in sql_targets():
        sql = expand(target.raw_sql, window, variables)
        reader.query(sql)  # warm-up: marks, caches
        times = []
        rows = 0
        for _ in range(runs):
            started = time.perf_counter()
            rows = len(reader.query(sql).result_rows)
            times.append((time.perf_counter() - started) * 1000)
        times.sort()
        p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
        results.append((target.title, statistics.median(times), p95, rows))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_500_000)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--database", default="tierflow_bench_dashboards")
    parser.add_argument("--jurisdiction", help="select one jurisdiction instead of All")
    parser.add_argument("--reuse", action="store_true", help="measure existing bench data")
    parser.add_argument("--keep", action="store_true", help="do not drop the database")
    args = parser.parse_args()

    settings = load_settings()
    admin = connect(settings, "", login="migrator")
    reader = connect(settings, "", reader=True)
    end = datetime.now(UTC)
    try:
        if not args.reuse:
            admin.command(f"DROP DATABASE IF EXISTS {args.database}")
            migrate(admin, args.database)
            print(f"generating {args.rows:,} rows over {args.days} days into {args.database}")
            generate(admin, args.database, args.rows, args.days, end)
        total = sum(
            int(n)
            for (n,) in admin.query(
                "SELECT sum(rows) FROM system.parts WHERE database = {d:String} AND active",
                parameters={"d": args.database},
            ).result_rows
        )
        window = QueryWindow(end - timedelta(days=7), end, timedelta(minutes=10))
        variables: dict[str, VariableValue] = {
            "database": args.database,
            "jurisdiction": [args.jurisdiction] if args.jurisdiction else ALL,
            "disease": ALL,
            "tier": ALL,
            "status": "Actual",
        }
        selection = (
            f"jurisdiction {args.jurisdiction}" if args.jurisdiction else "all variables All"
        )
        print(
            f"\n{total:,} rows; last 7 days, {selection}; {args.runs} runs per query, "
            "read-only user over HTTP\n"
        )
        print(f"{'query':<62} {'median ms':>9} {'p95 ms':>8} {'rows':>6}")
        results = measure(reader, window, variables, args.runs)
        for title, median, p95, rows in results:
            flag = "" if median < TARGET_MS else "  > target"
            print(f"{title[:62]:<62} {median:9.1f} {p95:8.1f} {rows:6d}{flag}")
        slowest = max(results, key=lambda r: r[1])
        print(
            f"\nslowest median {slowest[1]:.1f} ms ({slowest[0][:40]}); "
            f"target < {TARGET_MS:.0f} ms: "
            f"{'met' if slowest[1] < TARGET_MS else 'NOT met'} by every query"
        )
    finally:
        if not args.keep:
            admin.command(f"DROP DATABASE IF EXISTS {args.database}")
        reader.close()
        admin.close()


if __name__ == "__main__":
    main()
