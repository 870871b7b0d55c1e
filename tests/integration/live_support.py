"""Helpers for the live-worker tests: a scenario published raw, a worker subprocess,
waiting until everything has landed (the scan for personal data: privacy_support.py; the
offline answer compared with what landed: offline_answer.py; the roll-up stages' answer and
log: rollup_answer.py)."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from sinks.namespaces import migrate_namespaces
from streams.config.settings import Settings
from streams.ops.kafka import create_topics
from streams.stages.topology import (
    LIVE_TOPICS,
    TopicNames,
    partition_for,
)
from tests.integration.kafka_helpers import admin_options, signatures
from topics.codec import decode, decode_tick
from topics.models import CaseEvent
from topics.outputs import Rejection, Tick
from topics.privacy import scrub_input
from topics.registry import (
    ALL_TOPICS,
    TICKS,
    TOPIC_FOR_KIND,
    jurisdiction_of,
)

from .kafka_helpers import committed_offsets, settings_env, uncommitted

ROOT = Path(__file__).resolve().parents[2]
TABLES = (
    "incidents",
    "tier_timeline",
    "tasks",
    "alerts",
    "cases",
    "transfers",
    "stock_levels",
    "rejected_events",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def simulate(
    scenario: str, seed: int, out: Path, *extra: str
) -> tuple[list[bytes], dict[str, Any]]:
    """Lines and truth of a simulated scenario (``tierflow simulate --out``)."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "streams.cli",
            "simulate",
            "--scenario",
            scenario,
            "--seed",
            str(seed),
            "--out",
            str(out),
            *extra,
        ],
        check=True,
        capture_output=True,
        cwd=ROOT,
        timeout=120,
    )
    truth = json.loads(out.with_suffix(".truth.json").read_text())
    return out.read_bytes().splitlines(), truth


@dataclass(frozen=True)
class Published:
    events: list[Any]  # decoded, pseudonymised valid input events (duplicates included)
    ticks: list[Tick]
    malformed: int


def topic_of(raw: bytes, prefix: str) -> str:
    """The input topic a raw line belongs to, even when it does not decode."""
    try:
        kind = json.loads(raw).get("kind")
    except (ValueError, AttributeError):
        kind = None
    spec = TOPIC_FOR_KIND.get(kind) if isinstance(kind, str) else None
    return (spec or TOPIC_FOR_KIND["case"]).name(prefix)


async def _publish(settings: Settings, lines: list[bytes], wrong_keys: int) -> Published:
    prefix, key = settings.topic_prefix, settings.pseudonym_key.get_secret_value().encode()
    events: list[Any] = []
    ticks: list[Tick] = []
    malformed = 0
    producer = AIOKafkaProducer(**admin_options(settings.kafka_bootstrap), acks="all")
    headers = dict(zip(lines, signatures(settings, lines), strict=True))
    await producer.start()
    try:
        for raw in lines:
            if b'"kind":"tick"' in raw:
                tick = decode_tick(raw)
                assert isinstance(tick, Tick)
                ticks.append(tick)
                for p in range(TICKS.partitions):
                    await producer.send_and_wait(TICKS.name(prefix), raw, partition=p)
                continue
            event = decode(raw)
            if not isinstance(event, Rejection):  # as the worker sees it
                event = scrub_input(event, key, raw)
            topic = topic_of(raw, prefix)
            if isinstance(event, Rejection):
                malformed += 1
                await producer.send_and_wait(topic, raw, key=b"whatever")
                continue
            events.append(event)
            jurisdiction = jurisdiction_of(event.region, settings.jurisdiction_digits)  # type: ignore[attr-defined]
            if wrong_keys > 0:  # a producer that keys by something else: the worker re-keys
                wrong_keys -= 1
                target = (partition_for(jurisdiction) + 1) % TICKS.partitions
                await producer.send_and_wait(
                    topic, raw, key=b"agency-key", partition=target, headers=headers[raw]
                )
            else:
                await producer.send_and_wait(
                    topic, raw, key=jurisdiction.encode(), headers=headers[raw]
                )
    finally:
        await producer.stop()
    return Published(events, ticks, malformed)


async def _publish_copies(settings: Settings, lines: list[bytes], count: int) -> None:
    keyed = []
    for raw in lines:
        event = decode(raw)
        if isinstance(event, CaseEvent):
            keyed.append((raw, jurisdiction_of(event.region, settings.jurisdiction_digits)))
    headers = signatures(settings, [raw for raw, _ in keyed])
    topic = TOPIC_FOR_KIND["case"].name(settings.topic_prefix)
    producer = AIOKafkaProducer(
        **admin_options(settings.kafka_bootstrap),
        acks="all",
        linger_ms=20,
        max_batch_size=1 << 20,
    )
    await producer.start()
    try:
        for start in range(0, count, 5_000):
            sends = []
            for n in range(start, min(start + 5_000, count)):
                raw, jurisdiction = keyed[n % len(keyed)]
                signed = headers[n % len(keyed)]
                sends.append(
                    await producer.send(topic, raw, key=jurisdiction.encode(), headers=signed)
                )
            await asyncio.gather(*sends)
    finally:
        await producer.stop()


def publish_copies(settings: Settings, lines: list[bytes], count: int) -> None:
    """``count`` more records cycling through the valid case lines of ``lines``, keyed by
    jurisdiction: event ids the core has seen (no new decisions, no new state), but every
    one of them is a record the landing stage must land."""
    asyncio.run(_publish_copies(settings, lines, count))


def prepare(settings: Settings, *, migrate: bool = True) -> None:
    """Topics, and (``migrate``) the databases a worker lands in: its user runs no DDL."""
    asyncio.run(create_topics(settings, (*ALL_TOPICS, *LIVE_TOPICS)))
    if migrate:
        migrate_namespaces(settings, settings.clickhouse_database)


def publish(settings: Settings, lines: list[bytes], wrong_keys: int = 0) -> Published:
    """Send every line as it is (malformed ones too) to its topic."""
    return asyncio.run(_publish(settings, lines, wrong_keys))


def live_settings(settings: Settings, name: str, **extra: Any) -> Settings:
    return settings.model_copy(
        update={
            "topic_prefix": name,
            "clickhouse_database": name,
            "metrics_port": free_port(),
            "tick_clock": "event",
            "tick_interval_s": 0.5,
            **extra,
        }
    )


def worker_env(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        **settings_env(settings),
        "TIERFLOW_METRICS_PORT": str(settings.metrics_port),
        "TIERFLOW_TICK_CLOCK": settings.tick_clock,
        "TIERFLOW_TICK_INTERVAL_S": str(settings.tick_interval_s),
        "TIERFLOW_WORKER_STAGES": settings.worker_stages,
        "TIERFLOW_WORKER_BATCH_MAX": str(settings.worker_batch_max),
        "TIERFLOW_WORKER_COMMIT_INTERVAL_S": str(settings.worker_commit_interval_s),
        "TIERFLOW_WORKER_STALL_EXIT_S": str(settings.worker_stall_exit_s),
        "TIERFLOW_WORKER_HEARTBEAT_S": str(settings.worker_heartbeat_s),
        **(
            {"TIERFLOW_WORKER_INSTANCE_ID": settings.worker_instance_id}
            if settings.worker_instance_id is not None
            else {}
        ),
        "TIERFLOW_STACK_HOME": str(ROOT / "var" / "test-workers"),
        # the stack's registry: the agencies the tests' records are signed by
        "TIERFLOW_AGENCY_REGISTRY_PATH": str(settings.agency_registry().resolve()),
        "TIERFLOW_PSEUDONYM_KEY": settings.pseudonym_key.get_secret_value(),
        # a scenario's facility registry (surge), when it names one
        **(
            {"TIERFLOW_REGISTRY_PATH": str(settings.registry_path)}
            if settings.registry_path is not None
            else {}
        ),
    }


def start_worker(settings: Settings, log: Path) -> subprocess.Popen[bytes]:
    """``python -m streams.live`` (what ``tierflow worker`` runs) as a subprocess."""
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "streams.live"],
        env=worker_env(settings),
        cwd=ROOT,
        stdout=handle,
        stderr=subprocess.STDOUT,
    )


def stop_worker(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def run_script_worker(
    settings: Settings, script: str, log: Path, timeout: float
) -> tuple[int, str]:
    """Run ``python -c script`` (a worker with something planted) to its exit; returns its
    exit code and log."""
    with log.open("wb") as out:
        done = subprocess.run(
            [sys.executable, "-c", script], env=worker_env(settings), cwd=ROOT,
            stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False,
        )  # fmt: skip
    return done.returncode, log.read_text()


def committed_nothing(settings: Settings) -> bool:
    """Whether the decide intake committed no offset past 0."""
    group = f"{settings.topic_prefix}.decide-intake"
    committed = asyncio.run(committed_offsets(settings.kafka_bootstrap, group))
    return not any(offset > 0 for offset in committed.values())


@contextmanager
def running_worker(settings: Settings, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    proc = start_worker(settings, log)
    try:
        yield proc
    finally:
        stop_worker(proc)


def scrape(port: int) -> dict[str, float]:
    """``name{labels}`` → value of the worker's metrics endpoint."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def labelled(metrics: dict[str, float], name: str) -> list[tuple[dict[str, str], float]]:
    """The samples of one metric of a :func:`scrape` as (labels, value)."""
    out = []
    for key, value in metrics.items():
        metric, _, labels = key.partition("{")
        if metric == name:
            out.append((dict(_LABEL.findall(labels)), value))
    return out


def counts(ch: Client, database: str) -> dict[str, int]:
    return {
        t: int(ch.query(f"SELECT count() FROM {database}.{t} FINAL").result_rows[0][0])
        for t in TABLES
    }


def wait_landed(
    ch: Client,
    database: str,
    *,
    rejected: int,
    proc: subprocess.Popen[bytes],
    timeout: float = 90,
    tiered: bool = True,
) -> dict[str, int]:
    """Wait until ``rejected`` rows are in rejected_events, the tier timeline has rows
    (unless the scenario has no ``tiered`` incident) and no table has changed for 4 s;
    returns the counts."""
    deadline = time.monotonic() + timeout
    last: dict[str, int] | None = None
    stable_since = time.monotonic()
    while time.monotonic() < deadline:
        assert proc.poll() is None, "worker exited"
        try:
            now = counts(ch, database)
        except Exception:  # tables not migrated yet
            time.sleep(0.5)
            continue
        if now != last:
            last, stable_since = now, time.monotonic()
        elif (
            now["rejected_events"] >= rejected
            and (now["tier_timeline"] > 0 or not tiered)
            and (time.monotonic() - stable_since > 4)
        ):
            return now
        time.sleep(0.5)
    raise AssertionError(f"not landed within {timeout}s: {last}")


def wait_decided(settings: Settings, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    """Wait until the worker's decide intake has committed every record of its sources,
    so the states in its changelog are final (what has landed can be final earlier: a
    restarted worker lands again, idempotently, what a killed one had landed)."""
    names = TopicNames(settings.topic_prefix)
    group = f"{settings.topic_prefix}.decide-intake"
    deadline = time.monotonic() + timeout
    while behind := uncommitted(settings.kafka_bootstrap, group, names.decide_sources):
        assert proc.poll() is None, "worker exited"
        if time.monotonic() > deadline:
            raise AssertionError(f"not all decided within {timeout}s: {behind}")
        time.sleep(0.5)


def rows(
    ch: Client, database: str, table: str, columns: str, where: str = "1"
) -> list[tuple[Any, ...]]:
    sql = f"SELECT {columns} FROM {database}.{table} FINAL WHERE {where} ORDER BY {columns}"
    return [tuple(r) for r in ch.query(sql).result_rows]
