"""`tierflow stack up|down|status` on a private stack (own ports, own home), so the stack
the other tests share is never disturbed. Facts are checked from outside: psutil for
processes and listening ports, a real Kafka round trip, a real ClickHouse query."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import clickhouse_connect
import psutil
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pydantic import SecretStr
from typer.testing import CliRunner

from sinks.access import credentials
from streams.cli import app
from streams.config.kafka_security import read_login
from streams.config.settings import Settings
from streams.ops import workers
from streams.ops.agencies import add_agency, revoke
from streams.ops.kafka import create_topics
from streams.ops.stack import stack_down, stack_status, stack_up
from streams.ops.stack_proc import StackError, is_alive, wait_exit
from tests.integration.kafka_helpers import admin_options, logs_in
from topics.registry import INPUT_TOPICS


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    for sock in socks:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in socks]
    for sock in socks:
        sock.close()
    return ports


def _private_settings(home: Path, shared: Settings) -> Settings:
    kafka, ctrl, http, tcp = _free_ports(4)
    return Settings(
        stack_home=home,
        kafka_cache=shared.kafka_cache.resolve(),  # reuse the jars, not the stack
        kafka_port=kafka,
        kafka_controller_port=ctrl,
        clickhouse_http_port=http,
        clickhouse_tcp_port=tcp,
        kafka_bootstrap=f"127.0.0.1:{kafka}",
        clickhouse_url=f"http://127.0.0.1:{http}",
    )


def _env(s: Settings) -> dict[str, str]:
    return {
        "TIERFLOW_STACK_HOME": str(s.stack_home),
        "TIERFLOW_KAFKA_CACHE": str(s.kafka_cache),
        "TIERFLOW_KAFKA_PORT": str(s.kafka_port),
        "TIERFLOW_KAFKA_CONTROLLER_PORT": str(s.kafka_controller_port),
        "TIERFLOW_CLICKHOUSE_HTTP_PORT": str(s.clickhouse_http_port),
        "TIERFLOW_CLICKHOUSE_TCP_PORT": str(s.clickhouse_tcp_port),
        "TIERFLOW_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
        "TIERFLOW_CLICKHOUSE_URL": s.clickhouse_url,
    }


def _ports(s: Settings) -> set[int]:
    return {s.kafka_port, s.kafka_controller_port, s.clickhouse_http_port, s.clickhouse_tcp_port}


def _listening(ports: set[int]) -> set[int]:
    return {
        c.laddr.port
        for c in psutil.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN and c.laddr.port in ports
    }


def _processes_of(home: Path) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline", "status"]):
        cmdline = " ".join(proc.info["cmdline"] or [])
        if str(home) in cmdline and proc.info["status"] != psutil.STATUS_ZOMBIE:
            found.append(proc)
    return found


@pytest.fixture(scope="module")
def private(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[Settings]:
    s = _private_settings(tmp_path_factory.mktemp("stack").resolve(), settings)
    yield s
    stack_down(s)  # whatever a failing test left behind


def _client(s: Settings) -> clickhouse_connect.driver.client.Client:
    user, password = credentials(s, "migrator")
    return clickhouse_connect.get_client(
        host="127.0.0.1",
        port=s.clickhouse_http_port,
        username=user,
        password=password.get_secret_value(),
    )


async def _kafka_round_trip(bootstrap: str, topic: str) -> bytes:
    admin = AIOKafkaAdminClient(**admin_options(bootstrap))  # the broker creates no topic
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(**admin_options(bootstrap))
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"ping")
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, **admin_options(bootstrap), auto_offset_reset="earliest")
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    return bytes(record.value)


def test_up_twice_starts_once_and_both_servers_answer(private: Settings) -> None:
    first = stack_up(private)
    assert [c.started for c in first.components] == [True, True]
    pids = {c.name: c.pid for c in first.components}
    assert all(pids.values())

    second = stack_up(private)
    assert [c.started for c in second.components] == [False, False]
    assert {c.name: c.pid for c in second.components} == pids
    assert len(_processes_of(private.stack_home)) == 2  # nothing new was spawned
    assert _listening(_ports(private)) == _ports(private)

    assert asyncio.run(_kafka_round_trip(private.kafka_bootstrap, "stack_probe")) == b"ping"
    client = _client(private)
    assert client.command("SELECT currentUser()") == private.clickhouse_migrator_user
    client.close()


def test_status_reports_pids_ports_and_data_dirs(private: Settings) -> None:
    status = stack_status(private)
    assert status.running
    kafka, clickhouse = status.component("kafka"), status.component("clickhouse")
    assert kafka.ports == (private.kafka_port, private.kafka_controller_port)
    assert clickhouse.ports == (private.clickhouse_http_port, private.clickhouse_tcp_port)
    assert (kafka.data_dir / "meta.properties").is_file()  # storage was formatted there
    assert clickhouse.data_dir.is_dir()

    result = CliRunner().invoke(app, ["stack", "status"], env=_env(private))
    assert result.exit_code == 0, result.output
    assert str(kafka.pid) in result.stdout and str(clickhouse.pid) in result.stdout
    assert str(private.clickhouse_http_port) in result.stdout


def test_killed_server_is_restarted_on_its_data(private: Settings) -> None:
    stack_up(private)
    client = _client(private)
    client.command("CREATE DATABASE tierflow_kept")
    client.command("CREATE TABLE tierflow_kept.kept (n UInt8) ENGINE = MergeTree ORDER BY n")
    client.command("INSERT INTO tierflow_kept.kept VALUES (7)")
    client.close()
    old = stack_status(private).component("clickhouse").pid
    assert old is not None
    os.kill(old, signal.SIGKILL)
    assert wait_exit(old, 10)

    assert stack_status(private).component("clickhouse").pid is None  # stale pidfile seen
    status = stack_up(private)
    assert status.component("clickhouse").started
    assert not status.component("kafka").started
    client = _client(private)
    assert client.command("SELECT sum(n) FROM tierflow_kept.kept") == 7
    client.close()


def test_port_held_by_another_process_is_a_one_line_error(
    private: Settings, tmp_path: Path
) -> None:
    other = _private_settings(tmp_path / "other", private)
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", other.clickhouse_http_port))
        holder.listen()
        result = CliRunner().invoke(app, ["stack", "up"], env=_env(other))
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert f"port {other.clickhouse_http_port}" in lines[0]
    assert f"pid {os.getpid()}" in lines[0]  # names the holder
    # Checked before anything starts: Kafka's ports were free, yet nothing was launched.
    assert not _processes_of(other.stack_home)
    assert not _listening(_ports(other))


def _java_map_bucket(name: str) -> int:
    """The bucket of ``name`` in a Java HashMap of 16 buckets (String.hashCode, spread as
    HashMap.hash does): the order in which Kafka's ScramDelta.apply visits its users."""
    h = 0
    for char in name:
        h = (31 * h + ord(char)) & 0xFFFFFFFF
    return (h ^ (h >> 16)) & 15


def test_broker_restarted_after_an_agency_revocation_lets_everyone_log_in(
    private: Settings, tmp_path: Path
) -> None:
    """A revoked agency's SCRAM credentials are locked, not deleted (kafka_scram.lockout):
    Kafka 4.3.1, rebuilding its users from the metadata log at start, lost every one of
    them when a deleted user came first in its hash order, and the restarted broker
    refused the admin and the worker. ``cdc-a`` comes before both."""
    agency = "cdc-a"
    users = (private.kafka_admin_username, private.kafka_username)
    assert _java_map_bucket(agency) < min(map(_java_map_bucket, users))
    stack_up(private)
    asyncio.run(create_topics(private, INPUT_TOPICS))  # revoking reads their end offsets
    properties, _ = add_agency(private, agency, "health", None, tmp_path)
    revoke(private, agency)

    stack_down(private)
    stack_up(private)  # waits for the admin's metadata request; a refused login fails it
    assert asyncio.run(logs_in(private, "admin"))
    assert asyncio.run(logs_in(private, "worker"))
    assert not asyncio.run(logs_in(private, read_login(properties)))


def test_a_broker_refusing_the_admin_fails_stack_up_at_once(private: Settings) -> None:
    """A broker that is up but refuses the admin's login is a one-line error naming the
    cause and what to remove, not 120 s of waiting for an answer that cannot come."""
    stack_up(private)
    wrong = private.model_copy(update={"kafka_admin_password": SecretStr("not-the-password")})
    # before, the same call ended "not ready after 120 s with no progress"
    with pytest.raises(StackError, match="refuses the login of 'admin'") as refused:
        stack_up(wrong)
    assert str(private.stack_home.resolve() / "kafka") in str(refused.value)


def test_down_leaves_no_process_and_no_listening_port(private: Settings) -> None:
    pids = [c.pid for c in stack_up(private).components]
    supervisor = workers.start(private, "demo")  # a worker tierflow started: stopped first
    deadline = time.monotonic() + 30
    while (worker := workers.status(private, "demo").worker_pid) is None:
        assert time.monotonic() < deadline, "the supervised worker did not start"
        time.sleep(0.2)

    result = CliRunner().invoke(app, ["stack", "down"], env=_env(private))
    assert result.exit_code == 0, result.output

    assert not is_alive(supervisor) and not is_alive(worker)
    assert not workers.statuses(private)
    assert not any(pid is not None and psutil.pid_exists(pid) for pid in pids)
    assert not _processes_of(private.stack_home)
    assert not _listening(_ports(private))
    assert not list(private.stack_home.glob("*.pid"))
    assert not stack_status(private).running
    stack_down(private)  # a second down is a no-op
