"""A bench run's own namespace: topics and databases under a fresh prefix, dropped after."""

from __future__ import annotations

import asyncio
import os
import uuid

from sinks.client import connect
from sinks.namespaces import migrate_namespaces, namespace_databases
from streams.config.settings import Settings
from streams.ops.kafka import admin_client, create_topics
from streams.stages.topology import LIVE_TOPICS
from topics.registry import ALL_TOPICS


def fresh(base: Settings, tag: str) -> Settings:
    name = f"tierflow_bench_{tag}_{uuid.uuid4().hex[:8]}"
    port = 19_600 + os.getpid() % 300
    settings = base.model_copy(
        update={"topic_prefix": name, "clickhouse_database": name, "metrics_port": port}
    )
    asyncio.run(create_topics(settings, (*ALL_TOPICS, *LIVE_TOPICS)))
    migrate_namespaces(settings, name)  # the workers' user runs no DDL
    return settings


def drop(settings: Settings) -> None:
    """Drop a bench run's databases and every topic under its prefix. The topics matter:
    each run makes ~90 partitions, and a broker left holding thousands (18 GB after a day
    of runs here) spends CPU on them that the next runs' figures then pay."""
    admin = connect(settings, "", login="migrator")
    try:
        for db in namespace_databases(settings.clickhouse_database).values():
            admin.command(f"DROP DATABASE IF EXISTS {db}")
    finally:
        admin.close()
    asyncio.run(_delete_topics(settings))


async def _delete_topics(settings: Settings) -> None:
    async with admin_client(settings) as admin:
        mine = [t for t in await admin.list_topics() if t.startswith(settings.topic_prefix + ".")]
        if mine:
            await admin.delete_topics(mine)
