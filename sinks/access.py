"""ClickHouse least privilege: the users and roles tierflow connects as, and their grants.

One model renders both places a server learns it: the local stack's ``users.xml`` (written
at ``stack up``, passwords stored as SHA-256, every user on loopback only) and production's
``deploy/clickhouse/users.d/tierflow.xml`` (passwords from the container's environment).
The chdb-served engine reads users only from ``users.xml`` at start (it has no writable
access storage: ``CREATE ROLE`` fails there with ACCESS_STORAGE_FOR_INSERTION_NOT_FOUND), so
every grant is static and follows a **naming rule** instead of being issued per database:

- tierflow databases start with ``tierflow`` (the live one, ``<db>_exercise``, tests');
- review databases start with ``review_`` (``tierflow replay --name NAME``).

Roles, each granted to one user named in the settings:

- ``tierflow_migrate`` (the migrator): DDL, SELECT and INSERT on both families (``tierflow
  db migrate``); on the local stack also KILL QUERY, which is how ``stack down`` stops
  the server.
- ``tierflow_write`` (the writer): SELECT and INSERT on ``tierflow*`` only (the landing).
- ``tierflow_review`` (the reviewer): DDL, SELECT and INSERT on ``review_*`` only
  (``tierflow replay`` creates and fills its review with no other password).
- ``tierflow_read`` (the command view's reader): SELECT on both families, except
  ``rejected_events.value_b64`` and ``schema_migrations`` of the live database and its
  exercise database, under a profile whose ``readonly``, ``max_execution_time`` and
  ``max_memory_usage`` a query cannot lift.

ClickHouse cannot revoke a column inside a wildcard database (``GRANT SELECT(c) ON
tierflow*.t`` does not parse), so the raw DLQ bytes are refused by name in the databases
the settings name; in a review or test database the reader can read them.

Every role may read ``system.databases``, ``system.tables`` and ``system.columns`` (the
server shows each user only its own objects there); the server config makes every other
``system`` table need a grant (:func:`access_config_xml`). ``default`` stays passwordless
(the engine's own session logs in with it) and may only open the listeners, from loopback.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal
from xml.sax.saxutils import escape

from pydantic import SecretStr

from sinks.errors import SinkError
from streams.config.settings import Settings

Login = Literal["migrator", "writer", "reader", "reviewer"]
Target = Literal["local", "production"]

LIVE_FAMILY = "tierflow"
REVIEW_FAMILY = "review_"

# The reader's profile: what a command-view query may use, and no query can raise.
READER_PROFILE = "tierflow_command_view"
READER_MAX_EXECUTION_S = 60
READER_MAX_MEMORY_BYTES = 4_000_000_000

_LOOPBACK = ("127.0.0.1", "::1")
_ENGINES = (
    "MergeTree",
    "ReplacingMergeTree",
    "ReplicatedMergeTree",
    "ReplicatedReplacingMergeTree",
)
_DDL = "CREATE DATABASE, CREATE TABLE, ALTER TABLE, DROP TABLE, DROP DATABASE, SELECT, INSERT"
_CATALOG = tuple(f"GRANT SELECT ON system.{t}" for t in ("databases", "tables", "columns"))


@dataclass(frozen=True)
class Principal:
    """One user: its login, its role, its profile; name and password from settings."""

    login: Login
    role: str
    profile: str = "default"

    def user(self, settings: Settings) -> str:
        return str(getattr(settings, _USER_FIELD[self.login]))

    def password(self, settings: Settings) -> SecretStr:
        secret: SecretStr = getattr(settings, _PASSWORD_FIELD[self.login])
        return secret

    def password_env(self) -> str:
        return f"TIERFLOW_{_PASSWORD_FIELD[self.login].upper()}"


_USER_FIELD: dict[Login, str] = {
    "migrator": "clickhouse_migrator_user",
    "writer": "clickhouse_user",
    "reader": "clickhouse_reader_user",
    "reviewer": "clickhouse_reviewer_user",
}
_PASSWORD_FIELD: dict[Login, str] = {
    login: field.replace("_user", "_password") for login, field in _USER_FIELD.items()
}

PRINCIPALS: tuple[Principal, ...] = (
    Principal("migrator", "tierflow_migrate"),
    Principal("writer", "tierflow_write"),
    Principal("reader", "tierflow_read", READER_PROFILE),
    Principal("reviewer", "tierflow_review"),
)


def principal(login: Login) -> Principal:
    return next(p for p in PRINCIPALS if p.login == login)


def credentials(settings: Settings, login: Login) -> tuple[str, SecretStr]:
    """The user name and password ``login`` connects with."""
    who = principal(login)
    return who.user(settings), who.password(settings)


def check_database_name(database: str) -> str:
    """``database`` if it belongs to a family the grants cover; SinkError otherwise."""
    if not database.startswith((LIVE_FAMILY, REVIEW_FAMILY)):
        raise SinkError(
            f"database {database!r} is not a tierflow database: its name must start with "
            f"{LIVE_FAMILY!r} or {REVIEW_FAMILY!r} (the ClickHouse users' grants follow "
            "these names, sinks/access.py)"
        )
    return database


def login_for(database: str, *, ddl: bool) -> Login:
    """Who writes ``database`` (``ddl``: who migrates it): reviews are the reviewer's, so
    a replay needs no other password; the live and exercise databases the writer's (rows)
    and the migrator's (DDL)."""
    if database.startswith(REVIEW_FAMILY):
        return "reviewer"
    return "migrator" if ddl else "writer"


def _on(families: Iterable[str], what: str) -> list[str]:
    return [f"GRANT {what} ON {family}*.*" for family in families]


def role_grants(settings: Settings, role: str, target: Target) -> list[str]:
    """The GRANT/REVOKE statements of ``role``."""
    both = (LIVE_FAMILY, REVIEW_FAMILY)
    engines = [f"GRANT TABLE ENGINE ON {engine}" for engine in _ENGINES]
    if role == "tierflow_migrate":
        kill = ["GRANT KILL QUERY ON *.*"] if target == "local" else []
        return [*_on(both, _DDL), *engines, *_CATALOG, *kill]
    if role == "tierflow_write":
        return [*_on((LIVE_FAMILY,), "SELECT, INSERT"), *_CATALOG]
    if role == "tierflow_review":
        return [*_on((REVIEW_FAMILY,), _DDL), *engines, *_CATALOG]
    live = settings.clickhouse_database
    refused = [
        statement
        for db in (live, f"{live}_exercise")
        for statement in (
            f"REVOKE SELECT(value_b64) ON {db}.rejected_events",
            f"REVOKE SELECT ON {db}.schema_migrations",
        )
    ]
    return [*_on(both, "SELECT"), *refused, *_CATALOG]


def _sha256(secret: SecretStr) -> str:
    return hashlib.sha256(secret.get_secret_value().encode()).hexdigest()


def _lines(items: Iterable[str], indent: int) -> str:
    pad = " " * indent
    return "\n".join(pad + item for item in items)


def _queries(statements: Iterable[str], indent: int) -> str:
    return _lines((f"<query>{escape(s)}</query>" for s in statements), indent)


def _networks(target: Target) -> str:
    if target == "production":
        return "<networks><ip>::/0</ip></networks>"  # other containers of the compose network
    return "<networks>" + "".join(f"<ip>{ip}</ip>" for ip in _LOOPBACK) + "</networks>"


def _user(settings: Settings, who: Principal, target: Target) -> str:
    name = escape(who.user(settings))
    if target == "production":
        password = f'<password from_env="{who.password_env()}"/>'
    else:
        password = f"<password_sha256_hex>{_sha256(who.password(settings))}</password_sha256_hex>"
    return f"""    <{name}>
      {password}
      {_networks(target)}
      <profile>{who.profile}</profile>
      <quota>default</quota>
      <grants><query>GRANT {who.role}</query></grants>
    </{name}>"""


def _reader_profile() -> str:
    # 0 means "no limit" for both limits, hence a minimum as well as a maximum.
    return f"""    <{READER_PROFILE}>
      <readonly>2</readonly>
      <max_execution_time>{READER_MAX_EXECUTION_S}</max_execution_time>
      <max_memory_usage>{READER_MAX_MEMORY_BYTES}</max_memory_usage>
      <constraints>
        <readonly><const/></readonly>
        <max_execution_time><min>1</min><max>{READER_MAX_EXECUTION_S}</max></max_execution_time>
        <max_memory_usage><min>1</min><max>{READER_MAX_MEMORY_BYTES}</max></max_memory_usage>
      </constraints>
    </{READER_PROFILE}>"""


def users_xml(settings: Settings, target: Target) -> str:
    """The users file for ``target``: ``local`` is the chdb server's whole ``users.xml``;
    ``production`` is merged into the ClickHouse image's own (``users.d``), so it adds no
    ``default`` profile or quota and replaces the ``default`` user's networks."""
    roles = "\n".join(
        f"    <{who.role}>\n      <grants>\n"
        f"{_queries(role_grants(settings, who.role, target), 8)}\n"
        f"      </grants>\n    </{who.role}>"
        for who in PRINCIPALS
    )
    users = "\n".join(_user(settings, who, target) for who in PRINCIPALS)
    local = target == "local"
    replace = "" if local else ' replace="replace"'
    default = f"""    <default>
      <password></password>
      <networks{replace}>{"".join(f"<ip>{ip}</ip>" for ip in _LOOPBACK)}</networks>
      <profile>default</profile>
      <quota>default</quota>
      <grants{replace}><query>GRANT SYSTEM LISTEN ON *.*</query></grants>
    </default>"""
    header = (
        "<!-- Generated by `python -m sinks.access` (sinks/access.py): edit that, not this.\n"
        "     tierflow's ClickHouse users and roles, merged into the image's users.xml.\n"
        "     Passwords come from the container's environment (from_env). -->\n"
        if not local
        else ""
    )
    return f"""{header}<clickhouse>
  <profiles>
{"    <default/>" + chr(10) if local else ""}{_reader_profile()}
  </profiles>
  <roles>
{roles}
  </roles>
  <users>
{default}
{users}
  </users>
{"  <quotas><default/></quotas>" + chr(10) if local else ""}</clickhouse>
"""


ACCESS_CONFIG = """\
  <access_control_improvements>
    <select_from_system_db_requires_grant>true</select_from_system_db_requires_grant>
    <select_from_information_schema_requires_grant>true</select_from_information_schema_requires_grant>
    <table_engines_require_grant>true</table_engines_require_grant>
  </access_control_improvements>
"""


def access_config_xml() -> str:
    """The server config fragment (production's ``config.d``) that makes ``system`` and
    ``information_schema`` tables, and table engines, need a grant."""
    return (
        # No double hyphen inside an XML comment: XML forbids it, and ClickHouse refuses the file.
        "<!-- Generated by sinks/access.py (`python -m sinks.access` with its config flag). -->\n"
        f"<clickhouse>\n{ACCESS_CONFIG}</clickhouse>\n"
    )


def main(argv: list[str]) -> int:
    """``python -m sinks.access [--config]``: print production's users.d (or config.d) file."""
    production = Settings.model_construct()  # the defaults, whatever the environment says
    print(
        access_config_xml() if argv == ["--config"] else users_xml(production, "production"), end=""
    )
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main(sys.argv[1:]))
