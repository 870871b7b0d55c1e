"""Kafka authentication and ACLs on the local stack (issue 12, item 1): nobody without
credentials gets in, a wrong password is refused, the worker reads what it must."""

from __future__ import annotations

import asyncio

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from tests.integration import kcat
from tests.integration.kafka_helpers import read_topic, run_cli

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not kcat.available(), reason="kcat is installed by .ci/run"),
]


@pytest.fixture
def isolated(stack: Settings, unique_name) -> Settings:  # type: ignore[no-untyped-def]
    settings = stack.model_copy(update={"topic_prefix": unique_name("auth")})
    run_cli(["topics", "create"], settings)
    return settings


def test_kcat_without_credentials_can_neither_write_nor_read(isolated: Settings) -> None:
    topic = f"{isolated.topic_prefix}.cases.v1"
    plain = ["-b", isolated.kafka_bootstrap, "-m", "5"]
    wrote = kcat.run(["-P", *plain, "-t", topic], stdin=b"{}\n", timeout=30)
    read = kcat.run(["-C", *plain, "-t", topic, "-e", "-o", "beginning"], timeout=30)
    assert wrote.returncode != 0 and read.returncode != 0
    assert b"Disconnected" in wrote.stderr  # the broker hangs up on a plaintext client
    assert read_topic(isolated.kafka_bootstrap, topic) == []  # nothing got in


def test_kcat_with_a_wrong_password_is_refused(isolated: Settings) -> None:
    options = kcat.as_admin(isolated)
    options[options.index("sasl.password=" + isolated.kafka_admin_password.get_secret_value())] = (
        "sasl.password=wrong"
    )
    done = kcat.run(["-L", *options, "-m", "5"], timeout=30)
    assert done.returncode != 0
    assert b"Authentication failed" in done.stderr


def test_the_admin_writes_and_reads_with_kcat(isolated: Settings) -> None:
    topic = f"{isolated.topic_prefix}.stock.v1"
    sent = kcat.run(["-P", *kcat.as_admin(isolated), "-t", topic, "-p", "0"], stdin=b"ping\n")
    assert sent.returncode == 0, sent.stderr.decode()
    got = kcat.run(["-C", *kcat.as_admin(isolated), "-t", topic, "-p", "0", "-e", "-q"])
    assert got.stdout.strip() == b"ping", got.stderr.decode()


async def _worker_reads(settings: Settings, password: str) -> None:
    options = {**aiokafka_options(settings, "worker"), "sasl_plain_password": password}
    consumer = AIOKafkaConsumer(f"{settings.topic_prefix}.cases.v1", **options)
    try:
        await consumer.start()
    finally:
        await consumer.stop()


def test_aiokafka_speaks_scram_as_the_worker(isolated: Settings) -> None:
    asyncio.run(_worker_reads(isolated, isolated.kafka_password.get_secret_value()))
    with pytest.raises(KafkaConnectionError):
        asyncio.run(_worker_reads(isolated, "wrong"))
