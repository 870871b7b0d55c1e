"""ClickHouse least privilege on the real server (issue 12, item 6): every user can do its
job and is refused the rest, by the server itself (sinks/access.py has the grants)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from sinks.access import Login
from sinks.client import connect
from sinks.command_view import DLQ_COUNT
from sinks.namespaces import migrate_namespaces
from streams.config.settings import Settings

DENIED = r"ACCESS_DENIED|Not enough privileges"


@pytest.fixture(scope="module")
def live(stack: Settings) -> str:
    """The settings' live database, migrated: the one the access file names."""
    migrate_namespaces(stack, stack.clickhouse_database)
    return stack.clickhouse_database


@pytest.fixture
def review(stack: Settings, ch_admin: Client, unique_name: Callable[..., str]) -> Iterator[str]:
    """A review database the reviewer created and migrated itself."""
    name = f"review_{unique_name('acl')}"
    migrate_namespaces(stack, name)
    yield name
    for database in (name, f"{name}_exercise"):
        ch_admin.command(f"DROP DATABASE IF EXISTS {database}")


def _as(stack: Settings, login: Login, database: str = "") -> Client:
    return connect(stack, database, login=login)


def test_the_reader_is_refused_the_raw_dlq_bytes_but_counts_the_dlq(
    stack: Settings, live: str
) -> None:
    reader = _as(stack, "reader", live)
    assert reader.query(DLQ_COUNT).result_rows[0][0] >= 0  # the board's DLQ count
    reader.query("SELECT reason, topic, `partition`, `offset`, rejected_at FROM rejected_events")
    for sql in (
        "SELECT value_b64 FROM rejected_events",
        "SELECT * FROM rejected_events",
        f"SELECT value_b64 FROM {live}_exercise.rejected_events",
        "SELECT * FROM schema_migrations",
    ):
        with pytest.raises(DatabaseError, match=DENIED):
            reader.query(sql)


def test_the_reader_is_refused_system_tables_and_writes(stack: Settings, live: str) -> None:
    reader = _as(stack, "reader", live)
    for sql in (
        "SELECT name FROM system.users",
        "SELECT count() FROM system.query_log",
        "SELECT count() FROM system.processes",
    ):
        with pytest.raises(DatabaseError, match=rf"{DENIED}|UNKNOWN_TABLE"):
            reader.query(sql)
    with pytest.raises(DatabaseError, match=r"READONLY|ACCESS_DENIED"):
        reader.command("INSERT INTO incidents (incident_id) VALUES ('x')")
    # What it may see of the catalogue is its own tables (Grafana's $database variable).
    seen = {db for (db,) in reader.query("SELECT DISTINCT database FROM system.tables").result_rows}
    assert live in seen and "system" in seen  # system.tables itself, nothing else there
    assert {
        t
        for (t,) in reader.query(
            "SELECT name FROM system.tables WHERE database = 'system'"
        ).result_rows
    } == {"databases", "tables", "columns"}


@pytest.mark.parametrize(
    ("setting", "value", "refusal"),
    [
        ("max_execution_time", 61, "shouldn't be greater than 60"),
        ("max_execution_time", 0, "shouldn't be"),  # 0 = unlimited
        ("max_memory_usage", 4_000_000_001, "shouldn't be greater than 4000000000"),
        ("max_memory_usage", 0, "shouldn't be"),
        ("readonly", 0, "Cannot modify 'readonly'"),
    ],
)
def test_the_reader_cannot_lift_its_limits(
    stack: Settings, live: str, setting: str, value: int, refusal: str
) -> None:
    reader = _as(stack, "reader", live)
    with pytest.raises(DatabaseError, match=refusal):
        reader.query(f"SELECT 1 SETTINGS {setting} = {value}")
    assert reader.query("SELECT 1 SETTINGS max_execution_time = 30").result_rows == [(1,)]


def test_the_writer_writes_its_databases_and_nothing_else(
    stack: Settings, live: str, review: str
) -> None:
    writer = _as(stack, "writer", live)
    writer.command(
        "INSERT INTO rejected_events (reason, value_b64, version) VALUES ('acl probe', 'eA==', 1)",
        settings={"async_insert": 0},
    )
    for sql in (
        "CREATE USER intruder IDENTIFIED BY 'x'",
        "CREATE ROLE intruder",
        "GRANT SELECT ON *.* TO grafana",
        f"SELECT count() FROM {review}.incidents",  # a review is the reviewer's
        f"INSERT INTO {review}.rejected_events (reason, value_b64, version) VALUES ('x', '', 1)",
        "SELECT count() FROM system.users",
        "CREATE DATABASE tierflow_intruder",
        f"DROP TABLE {live}.incidents",
        f"ALTER TABLE {live}.incidents DELETE WHERE 1",
        "KILL QUERY WHERE 1",
    ):
        with pytest.raises(DatabaseError, match=DENIED):
            writer.command(sql)


def test_the_migrator_and_reviewer_stay_inside_their_databases(
    stack: Settings, live: str, review: str
) -> None:
    migrator, reviewer = _as(stack, "migrator"), _as(stack, "reviewer", review)
    assert reviewer.query("SELECT count() FROM incidents").result_rows == [(0,)]
    for client, sql in (
        (migrator, "CREATE USER intruder IDENTIFIED BY 'x'"),
        (migrator, "CREATE DATABASE elsewhere"),
        (migrator, "SELECT count() FROM system.users"),
        (migrator, "CREATE TABLE tierflow_x.t (a UInt8) ENGINE = Log"),  # no other engine
        (reviewer, f"SELECT count() FROM {live}.incidents"),
        (
            reviewer,
            f"INSERT INTO {live}.rejected_events (reason, value_b64, version) VALUES ('x', '', 1)",
        ),
        (reviewer, "CREATE DATABASE tierflow_intruder"),
    ):
        with pytest.raises(DatabaseError, match=DENIED):
            client.command(sql)


def test_default_opens_the_listeners_and_reads_nothing(stack: Settings, live: str) -> None:
    default = clickhouse_connect.get_client(
        dsn=stack.clickhouse_url, username="default", password="", autogenerate_session_id=False
    )
    for sql in (f"SELECT count() FROM {live}.incidents", "SELECT name FROM system.users"):
        with pytest.raises(DatabaseError, match=DENIED):
            default.query(sql)


def test_a_wrong_password_is_refused(stack: Settings) -> None:
    with pytest.raises(DatabaseError, match=r"AUTHENTICATION_FAILED|Authentication failed"):
        clickhouse_connect.get_client(
            dsn=stack.clickhouse_url, username=stack.clickhouse_user, password="guess"
        )
