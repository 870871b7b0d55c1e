"""`tierflow db migrate` on the real ClickHouse server: idempotent, per database, and the
tables it makes are the ones the writer's rows and the command view's queries expect."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError
from typer.testing import CliRunner

from sinks.client import connect
from sinks.errors import MigrationError
from sinks.migrate import load_migrations, migrate
from sinks.tables import TABLES
from streams.cli import app
from streams.config.settings import Settings

# What the command view needs, written out by hand: ORDER BY and monthly partitions.
EXPECTED_LAYOUT = {
    "incidents": ("status, jurisdiction, incident_id", ""),
    "tier_timeline": ("status, effective_at, decision_id", "toYYYYMM(effective_at)"),
    "tasks": ("status, issued_at, task_id", "toYYYYMM(issued_at)"),
    "alerts": ("status, at, alert_id", "toYYYYMM(at)"),
    "cases": ("status, occurred_at, event_id", "toYYYYMM(occurred_at)"),
    "transfers": ("status, transfer_id", ""),
    "stock_levels": ("status, at, site_id, item", "toYYYYMM(at)"),
    "rejected_events": ("topic, partition, offset", ""),
}


@pytest.fixture
def databases(ch_admin: Client, unique_name: Callable[..., str]) -> Iterator[Callable[[], str]]:
    """Fresh database names, dropped after the test."""
    made: list[str] = []

    def make() -> str:
        made.append(unique_name("mig"))
        return made[-1]

    yield make
    for name in made:
        ch_admin.command(f"DROP DATABASE IF EXISTS {name}")


def _cli_migrate(database: str) -> str:
    result = CliRunner().invoke(app, ["db", "migrate", "--database", database])
    assert result.exit_code == 0, result.output
    return result.output


def _ledger(ch_admin: Client, database: str) -> list[tuple[int, str]]:
    # No FINAL: a version recorded twice would show twice.
    rows = ch_admin.query(
        f"SELECT version, name FROM {database}.schema_migrations ORDER BY version"
    ).result_rows
    return [(int(v), str(n)) for v, n in rows]


def test_migrate_twice_then_on_a_second_database(
    stack: Settings, ch_admin: Client, databases: Callable[[], str]
) -> None:
    first, second = databases(), databases()
    shipped = [(m.version, m.name) for m in load_migrations()]
    assert shipped[0] == (1, "command_view")

    assert "applied 0001_command_view" in _cli_migrate(first)
    tables_after_one = ch_admin.query(
        f"SELECT name, metadata_modification_time FROM system.tables WHERE database = '{first}'"
    ).result_rows
    assert f"{first}: up to date" in _cli_migrate(first)
    assert _ledger(ch_admin, first) == shipped
    assert (
        ch_admin.query(
            f"SELECT name, metadata_modification_time FROM system.tables WHERE database = '{first}'"
        ).result_rows
        == tables_after_one
    )

    assert "applied 0001_command_view" in _cli_migrate(second)
    assert _ledger(ch_admin, second) == shipped
    assert _ledger(ch_admin, first) == shipped


def test_tables_are_shaped_for_the_command_view(
    stack: Settings, ch_admin: Client, databases: Callable[[], str]
) -> None:
    database = databases()
    migrate(ch_admin, database)
    found = {
        name: (engine, sorting_key, partition_key, ddl)
        for name, engine, sorting_key, partition_key, ddl in ch_admin.query(
            "SELECT name, engine, sorting_key, partition_key, create_table_query"
            f" FROM system.tables WHERE database = '{database}'"
        ).result_rows
    }
    # besides the command view: the workers' heartbeats and a review's range (written
    # directly, not landed from topics: not in TABLES), one row per worker / review
    operations = {"worker_heartbeats": "worker_id", "review_runs": "review"}
    assert set(found) == {*EXPECTED_LAYOUT, *operations, "schema_migrations"}
    assert set(TABLES) == set(EXPECTED_LAYOUT)
    for name, key in operations.items():
        assert (found[name][0], found[name][1]) == ("ReplacingMergeTree", key), name
    for name, (sorting_key, partition_key) in EXPECTED_LAYOUT.items():
        engine, got_key, got_partition, ddl = found[name]
        assert engine == "ReplacingMergeTree", name
        assert "ReplacingMergeTree(version)" in ddl, name
        assert "non_replicated_deduplication_window = 1000" in ddl, name
        assert (got_key, got_partition) == (sorting_key, partition_key), name
        assert got_key == ", ".join(TABLES[name].key), name


def test_table_columns_match_the_row_mapping(
    stack: Settings, ch_admin: Client, databases: Callable[[], str]
) -> None:
    database = databases()
    migrate(ch_admin, database)
    for name, spec in TABLES.items():
        columns = ch_admin.query(
            "SELECT name, type FROM system.columns"
            f" WHERE database = '{database}' AND table = '{name}' ORDER BY position"
        ).result_rows
        assert [tuple(c) for c in columns] == list(
            zip(spec.mapper.column_names, spec.mapper.column_types, strict=True)
        ), name
    named = ch_admin.query(
        f"SELECT table FROM system.columns WHERE database = '{database}' AND name = 'name'"
    ).result_rows
    assert named == [("schema_migrations",)]  # the migration's name, never a person's


def test_an_edited_migration_is_refused(
    stack: Settings, ch_admin: Client, databases: Callable[[], str]
) -> None:
    database = databases()
    migrate(ch_admin, database)
    ch_admin.command(
        f"INSERT INTO {database}.schema_migrations (version, name, checksum, applied_at)"
        " VALUES (1, 'command_view', 'not-the-checksum', now64(3))"
    )
    with pytest.raises(MigrationError, match="changed after it was applied"):
        migrate(ch_admin, database)


def test_the_read_only_user_can_read_a_migrated_database(
    stack: Settings, ch_admin: Client, databases: Callable[[], str]
) -> None:
    database = databases()
    migrate(ch_admin, database)
    reader = connect(stack, database, reader=True)
    assert reader.query("SELECT count() FROM incidents").result_rows == [(0,)]
    with pytest.raises(DatabaseError, match=r"READONLY|ACCESS_DENIED"):
        reader.command("INSERT INTO incidents (incident_id) VALUES ('x')")
