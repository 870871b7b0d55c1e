"""Fixtures for tests against the real stack (Kafka + ClickHouse server).

``stack`` brings the stack up once per session unless servers already answer at the
configured ports (ours from ``make test``, or one started another way), and never stops
it: ``make test`` runs ``tierflow stack down`` afterwards.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import clickhouse_connect
import pytest
from clickhouse_connect.driver.client import Client

from sinks.access import credentials
from streams.config.settings import Settings
from streams.core import default_rulebook
from streams.ops.record_signer import register_senders
from streams.ops.stack import stack_up
from streams.ops.stack_clickhouse import pings
from streams.ops.stack_kafka import answers_metadata
from streams.replay.session import ReviewRequest
from streams.simulate import generate, outgoing_records
from tests.integration.kafka_helpers import run_cli
from tests.integration.live_support import prepare, simulate
from tests.integration.replay_support import CutReview, drop_databases, publish_scenario

SCENARIOS = ("cholera", "road-mci", "supply-squeeze")


@pytest.fixture(scope="session")
def stack(settings: Settings) -> Settings:
    """The running local stack (started if needed); returns its settings."""
    if not (answers_metadata(settings) and pings(settings.clickhouse_http_port)):
        stack_up(settings)
    # The scenarios' agencies have signing keys (as the demo gives them), so files the
    # tests simulate can be published with `tierflow publish`, each record signed.
    for name in (*SCENARIOS, "surge"):
        records = outgoing_records(generate(name, 1).records, settings.jurisdiction_digits)
        register_senders(settings, list(records))
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


@pytest.fixture(scope="session")
def scenarios_db(
    stack: Settings, ch_admin: Client, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One review database holding all three scenarios (seed 1), landed by the pipeline's
    code (``tierflow replay --from-file``): what the command view shows after the demo."""
    folder: Path = tmp_path_factory.mktemp("scenarios")
    lines = b""
    for name in SCENARIOS:
        out = folder / f"{name}.jsonl"
        run_cli(["simulate", "--scenario", name, "--seed", "1", "--out", str(out)], stack)
        lines += out.read_bytes()
    merged = folder / "all.jsonl"
    merged.write_bytes(lines)
    review = f"dash{uuid.uuid4().hex[:10]}"
    run_cli(["replay", "--name", review, "--from-file", str(merged)], stack)
    try:
        yield f"review_{review}"
    finally:
        for database in (f"review_{review}", f"review_{review}_exercise"):
            ch_admin.command(f"DROP DATABASE IF EXISTS {database}")


@pytest.fixture
def cut_review(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> Iterator[CutReview]:
    """The cholera scenario ×20 published under a prefix of its own, to review whole and
    in pieces."""
    settings = stack.model_copy(update={"topic_prefix": unique_name(), "stack_home": tmp_path})
    lines, _ = simulate("cholera", 2, tmp_path / "big.jsonl", "--scale", "20")
    prepare(settings)
    start, end = publish_scenario(settings, lines)
    request = ReviewRequest(unique_name("cut"), default_rulebook(), None, start, end)
    review = CutReview(settings, request, unique_name("whole"))
    yield review
    drop_databases(ch_admin, f"review_{review.whole}", f"review_{request.name}")
