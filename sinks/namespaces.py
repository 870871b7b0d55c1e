"""Where rows of each CAP status land: the live view or the exercise namespace.

``Actual`` rows go to the database the command view reads; ``Exercise`` and ``Test``
rows (drills) go to ``<database>_exercise`` with the same schema, never to the live one.
Both shells (live worker, replay) land through :func:`namespace_sinks`.
"""

from __future__ import annotations

from typing import Literal

from sinks.access import login_for
from sinks.clickhouse import ClickHouseSink
from sinks.client import connect
from sinks.migrate import migrate, pending
from sinks.writer import BatchObserver, Sink, SinkPolicy
from streams.config.settings import Settings
from topics.vocabulary import Status

Namespace = Literal["live", "exercise"]


def namespace_of(status: Status) -> Namespace:
    """``Actual`` goes to the live view; ``Exercise`` and ``Test`` never do."""
    return "live" if status == "Actual" else "exercise"


def exercise_database(database: str) -> str:
    """The database drills and tests land in, beside ``database``."""
    return f"{database}_exercise"


def namespace_databases(database: str) -> dict[Namespace, str]:
    return {"live": database, "exercise": exercise_database(database)}


def namespace_sinks(
    settings: Settings,
    database: str,
    policy: SinkPolicy | None = None,
    on_batch: BatchObserver | None = None,
) -> dict[Namespace, Sink]:
    """One ClickHouse sink per namespace of ``database``."""
    return {
        namespace: ClickHouseSink(settings, name, policy, on_batch=on_batch)
        for namespace, name in namespace_databases(database).items()
    }


def migrate_namespaces(settings: Settings, database: str) -> None:
    """Bring ``database`` and its exercise database up to date (idempotent), as the
    migrator (a review's as the reviewer: :func:`sinks.access.login_for`)."""
    admin = connect(settings, "", login=login_for(database, ddl=True))
    try:
        for name in namespace_databases(database).values():
            migrate(admin, name)
    finally:
        admin.close()


def unmigrated_namespaces(settings: Settings, database: str) -> list[str]:
    """The databases of ``database``'s namespaces that miss a shipped migration, asked as
    the user that writes them (it needs no DDL right to ask)."""
    client = connect(settings, "", login=login_for(database, ddl=False))
    try:
        return [name for name in namespace_databases(database).values() if pending(client, name)]
    finally:
        client.close()
