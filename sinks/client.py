"""ClickHouse clients from settings (clickhouse-connect over HTTP) and a small reader."""

from __future__ import annotations

import re
from typing import Any

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from sinks.access import Login, credentials
from sinks.errors import SinkError
from streams.config.settings import Settings

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def check_identifier(name: str, what: str = "name") -> str:
    """``name`` if it is a plain ClickHouse identifier (safe to splice into SQL)."""
    if not _IDENTIFIER.match(name):
        raise SinkError(f"bad {what} {name!r}: letters, digits and _, not starting with a digit")
    return name


def connect(
    settings: Settings,
    database: str | None = None,
    *,
    reader: bool = False,
    login: Login | None = None,
    connect_timeout: float = 5,
) -> Client:
    """A client for ``settings.clickhouse_url`` as ``login`` (:mod:`sinks.access`; default
    the writer, ``reader=True`` is short for ``login="reader"``), bound to ``database``
    (default: the settings' database; pass ``""`` for none, e.g. before the database
    exists). Raises clickhouse-connect's errors when the server cannot be reached. No
    session id: one client may serve several threads. Datetimes read back are
    timezone-aware (UTC), comparable with the models'."""
    db = settings.clickhouse_database if database is None else database
    if db:
        check_identifier(db, "database name")
    user, secret = credentials(settings, login or ("reader" if reader else "writer"))
    return clickhouse_connect.get_client(
        dsn=settings.clickhouse_url,
        username=user,
        password=secret.get_secret_value(),
        database=db or None,
        autogenerate_session_id=False,
        connect_timeout=connect_timeout,
        tz_mode="aware",
    )


def fetch_rows(
    client: Client, table: str, *, final: bool = True, where: str = ""
) -> list[dict[str, Any]]:
    """Every row of ``table`` in the client's database as dicts, in ORDER BY order;
    ``final`` collapses replaced rows the way the command view sees them. ``where`` is an
    optional SQL condition (trusted text, e.g. ``"status = 'Actual'"``)."""
    check_identifier(table, "table name")
    sql = f"SELECT * FROM {table}{' FINAL' if final else ''}"
    if where:
        sql += f" WHERE {where}"
    key = client.query(
        "SELECT sorting_key FROM system.tables"
        " WHERE database = currentDatabase() AND name = {t:String}",
        parameters={"t": table},
    ).result_rows
    if key and key[0][0]:
        sql += f" ORDER BY {key[0][0]}"
    return list(client.query(sql).named_results())
