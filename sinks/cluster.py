"""The migrations' DDL for a ClickHouse cluster: ``ON CLUSTER`` and Replicated engines.

The migration files are written for one server. For a cluster (``tierflow db migrate
--on-cluster NAME``) each statement is rewritten so that it runs on every node and every
table replicates through ClickHouse Keeper:

- ``CREATE DATABASE|TABLE … name`` and ``ALTER TABLE name`` get ``ON CLUSTER `NAME```;
- ``ENGINE = [Replacing]MergeTree[(args)]`` becomes
  ``Replicated[Replacing]MergeTree('/clickhouse/tables/{shard}/{database}/{table}',
  '{replica}'[, args])`` — the ``{shard}``/``{replica}`` macros come from each node's
  config, ``{database}``/``{table}`` are filled in by the server.

Replicated tables deduplicate inserts by ``insert_deduplication_token`` on their own; the
``non_replicated_deduplication_window`` setting the files carry is then unused.
"""

from __future__ import annotations

import re

from sinks.client import check_identifier

REPLICA_PATH = "'/clickhouse/tables/{shard}/{database}/{table}', '{replica}'"

_CREATE = re.compile(
    r"^(\s*CREATE\s+(?:DATABASE|TABLE)\s+(?:IF\s+NOT\s+EXISTS\s+)?[\w.`]+)", re.IGNORECASE
)
_ALTER = re.compile(r"^(\s*ALTER\s+TABLE\s+[\w.`]+)", re.IGNORECASE)
_ENGINE = re.compile(
    r"ENGINE\s*=\s*(ReplacingMergeTree|MergeTree)\b(?:\(([^)]*)\))?", re.IGNORECASE
)


def _replicated(match: re.Match[str]) -> str:
    engine, args = match.group(1), (match.group(2) or "").strip()
    return f"ENGINE = Replicated{engine}({REPLICA_PATH}{', ' + args if args else ''})"


def on_cluster(statement: str, cluster: str) -> str:
    """``statement`` rewritten to run on every node of ``cluster`` with a Replicated
    engine; statements other than CREATE/ALTER come back unchanged."""
    check_identifier(cluster, "cluster name")
    clause = f" ON CLUSTER `{cluster}`"
    rewritten, count = _CREATE.subn(lambda m: m.group(1) + clause, statement, count=1)
    if not count:
        rewritten = _ALTER.sub(lambda m: m.group(1) + clause, statement, count=1)
    return _ENGINE.sub(_replicated, rewritten)
