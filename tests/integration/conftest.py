"""Fixtures for tests against the real stack (Kafka + ClickHouse server).

``stack`` brings the stack up once per session unless servers already answer at the
configured ports (ours from ``make test``, or one started another way), and never stops
it: ``make test`` runs ``tierflow stack down`` afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client

from sinks.access import credentials
from streams.ops.stack import stack_up
from streams.ops.stack_clickhouse import pings
from streams.ops.stack_kafka import answers_metadata
from topics.settings import Settings


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Settings:
    """The running local stack (started if needed); returns its settings."""
    if not (answers_metadata(settings.kafka_port) and pings(settings.clickhouse_http_port)):
        stack_up(settings)
    return settings


@pytest.fixture(scope="session")
def kafka_bootstrap(stack: Settings) -> str:
    """``host:port`` of the stack's Kafka broker."""
    return stack.kafka_bootstrap


@pytest.fixture(scope="session")
def ch_admin(stack: Settings) -> Iterator[Client]:
    """A clickhouse-connect HTTP client as the migrator: DDL, reads and writes on every
    tierflow and review database, nothing else (sinks/access.py)."""
    url = urlsplit(stack.clickhouse_url)
    user, password = credentials(stack, "migrator")
    client = clickhouse_connect.get_client(
        host=url.hostname or "127.0.0.1",
        port=url.port or 8123,
        username=user,
        password=password.get_secret_value(),
    )
    yield client
    client.close()
