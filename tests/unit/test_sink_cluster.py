"""`db migrate --on-cluster`: every statement runs ON CLUSTER with a Replicated engine.

(The chdb-served local server has no Keeper and refuses replicated DDL, so this checks the
DDL text against hand-written expectations; the statements themselves are the ones the
single-node integration tests run.)"""

import re

import pytest

from sinks.cluster import REPLICA_PATH, on_cluster
from sinks.errors import SinkError
from sinks.migrate import LEDGER_DDL, load_migrations


def test_create_table_gets_cluster_and_replicated_engine() -> None:
    sql = (
        "CREATE TABLE IF NOT EXISTS alerts\n(a String)\n"
        "ENGINE = ReplacingMergeTree(version)\nORDER BY a"
    )
    assert on_cluster(sql, "prod") == (
        "CREATE TABLE IF NOT EXISTS alerts ON CLUSTER `prod`\n(a String)\n"
        "ENGINE = ReplicatedReplacingMergeTree("
        "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}', version)\nORDER BY a"
    )


def test_engine_without_arguments_database_and_alter() -> None:
    assert on_cluster("CREATE TABLE t (a UInt8) ENGINE = ReplacingMergeTree ORDER BY a", "c") == (
        "CREATE TABLE t ON CLUSTER `c` (a UInt8) "
        f"ENGINE = ReplicatedReplacingMergeTree({REPLICA_PATH}) ORDER BY a"
    )
    assert on_cluster("CREATE DATABASE IF NOT EXISTS review_x", "c") == (
        "CREATE DATABASE IF NOT EXISTS review_x ON CLUSTER `c`"
    )
    assert on_cluster("ALTER TABLE alerts ADD COLUMN x Bool", "c") == (
        "ALTER TABLE alerts ON CLUSTER `c` ADD COLUMN x Bool"
    )


def test_every_shipped_statement_is_clustered() -> None:
    statements = [s for m in load_migrations() for s in m.statements()] + [LEDGER_DDL]
    for statement in statements:
        clustered = on_cluster(statement, "prod")
        assert "ON CLUSTER `prod`" in clustered, statement
        engines = re.findall(r"ENGINE\s*=\s*(\w+)", clustered)
        assert all(e.startswith("Replicated") for e in engines), clustered


def test_cluster_name_must_be_an_identifier() -> None:
    with pytest.raises(SinkError):
        on_cluster("CREATE DATABASE x", "prod; DROP")
