"""Versioned SQL migrations: ``sinks/migrations/NNNN_name.sql``, applied in order, each
once per database, recorded in ``schema_migrations`` with a checksum so an edited
migration is caught instead of silently skipped."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import resources

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError

from sinks.access import check_database_name
from sinks.client import check_identifier
from sinks.cluster import on_cluster
from sinks.errors import MigrationError

log = logging.getLogger("tierflow.sinks")

_FILE = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
_COMMENT = re.compile(r"--[^\n]*")

LEDGER_DDL = """
CREATE TABLE IF NOT EXISTS schema_migrations
(
    version UInt32,
    name String,
    checksum String,
    applied_at DateTime64(3, 'UTC')
)
ENGINE = ReplacingMergeTree
ORDER BY version
"""


@dataclass(frozen=True)
class Migration:
    """One migration file: its version number, name, SQL text and checksum."""

    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode("utf-8")).hexdigest()

    def statements(self) -> list[str]:
        """The SQL statements of the file (comments removed, split on ``;``). Migration
        files must not put ``--`` or ``;`` inside string literals."""
        text = _COMMENT.sub("", self.sql)
        return [s.strip() for s in text.split(";") if s.strip()]


def load_migrations() -> list[Migration]:
    """The migrations shipped in ``sinks/migrations``, by version; MigrationError for a
    badly named file or a version used twice."""
    found: dict[int, Migration] = {}
    for entry in resources.files("sinks").joinpath("migrations").iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE.match(entry.name)
        if not match:
            raise MigrationError(f"{entry.name}: migration files are named NNNN_name.sql")
        version = int(match.group(1))
        if version in found:
            raise MigrationError(f"{entry.name}: version {version} is used twice")
        found[version] = Migration(version, match.group(2), entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def applied_checksums(client: Client, database: str) -> dict[int, str]:
    """Version → checksum of the migrations recorded in ``database``."""
    rows = client.query(
        f"SELECT version, checksum FROM {database}.schema_migrations FINAL"
    ).result_rows
    return {int(version): str(checksum) for version, checksum in rows}


def pending(client: Client, database: str) -> list[Migration]:
    """The shipped migrations ``database`` has not recorded (all of them when it or its
    ledger does not exist yet); needs only SELECT, so the writer can ask. MigrationError
    when an applied migration's file has changed since."""
    try:
        done = applied_checksums(client, database)
    except ClickHouseError as exc:
        if "UNKNOWN_DATABASE" in str(exc) or "UNKNOWN_TABLE" in str(exc):
            done = {}
        else:
            raise
    shipped = load_migrations()
    for migration in shipped:
        _check_unchanged(migration, done, database)
    return [m for m in shipped if m.version not in done]


def _check_unchanged(migration: Migration, done: dict[int, str], database: str) -> None:
    """MigrationError when ``migration`` was applied to ``database`` from another text: no
    retry heals that, the schema and the files disagree for good."""
    if migration.version in done and done[migration.version] != migration.checksum:
        raise MigrationError(
            f"{migration.version:04d}_{migration.name}.sql changed after it was applied to "
            f"{database}: add a new migration instead of editing an applied one"
        )


def ddl(statement: str, cluster: str | None) -> str:
    """A migration statement as it runs: unchanged on one server, rewritten with
    ``ON CLUSTER`` and Replicated engines for a cluster (:mod:`sinks.cluster`)."""
    return statement if cluster is None else on_cluster(statement, cluster)


def migrate(admin: Client, database: str, cluster: str | None = None) -> list[Migration]:
    """Create ``database`` if needed and apply the migrations it has not recorded yet, in
    order; returns the ones applied now (empty when it was up to date). ``admin`` must be
    allowed to create databases and tables; its own current database does not matter.
    ``cluster``: run every statement ON CLUSTER with Replicated engines. MigrationError
    when an applied migration's file has changed or a statement fails; SinkError for a
    name outside the tierflow databases (:func:`sinks.access.check_database_name`)."""
    check_database_name(check_identifier(database, "database name"))
    try:
        admin.command(ddl(f"CREATE DATABASE IF NOT EXISTS {database}", cluster))
        ledger = LEDGER_DDL.replace("schema_migrations", f"{database}.schema_migrations")
        admin.command(ddl(ledger, cluster))
        done = applied_checksums(admin, database)
    except ClickHouseError as exc:
        raise MigrationError(f"cannot prepare database {database}: {exc}") from exc
    applied: list[Migration] = []
    for migration in load_migrations():
        label = f"{migration.version:04d}_{migration.name}.sql"
        _check_unchanged(migration, done, database)
        if migration.version in done:
            continue
        for statement in migration.statements():
            try:
                # The statements name tables unqualified: run them inside `database`.
                admin.command(ddl(statement, cluster), settings={"database": database})
            except ClickHouseError as exc:
                raise MigrationError(f"{label} failed on {database}: {exc}") from exc
        admin.insert(
            f"{database}.schema_migrations",
            [[migration.version, migration.name, migration.checksum, datetime.now(UTC)]],
            column_names=["version", "name", "checksum", "applied_at"],
        )
        log.info("applied %s to %s", label, database)
        applied.append(migration)
    return applied
