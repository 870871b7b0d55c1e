"""Recovery after SIGKILL at a large state (issue 14 item 2): the time from a decide
worker's restart to its first new commit, with one city's state of ``--cases`` cases in
the changelog, and where that time goes.

    .venv/bin/python -m bench.recovery [--cases 1000000] [--events 1000]

One city's state is folded from ``--cases`` confirmed cases (bench/state.py's generator)
and written to the decide table's changelog as the per-key records a worker commits
(:func:`streams.core.changelog.all_records`, the city's partition), as if a worker had
decided them. Then, for dynamic group membership and for static membership
(``TIERFLOW_WORKER_INSTANCE_ID``), side by side on the same topics: a decide worker
starts (recovering the state), decides ``--events`` new events of the city and commits;
it is SIGKILLed, ``--events`` more are published, and a new worker starts. Printed per
restart, seconds from its start: the group's assignment reaching the worker (the fencing
line of its log: the killed member holds the partitions until its session times out, 10 s,
unless a static member takes its place), Faust's table recovery done (the intake's
partitions line: every changelog record read into the table), and the first new commit
of the decide group (the city's state decoded from its records, the new events decided,
the changed records and offsets committed). The target is < 10 s to the first commit.

Needs the local stack (``tierflow stack up``). Works under a throw-away topic prefix and
database, dropped afterwards unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from aiokafka import AIOKafkaProducer
from aiokafka.admin import NewTopic

from bench.core import HEALTH, T0
from bench.live_bench import ROOT, Keyed, Worker, committed, publish
from bench.namespaces import drop, fresh
from bench.state import CITY, _folded, _new_case
from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings, load_settings
from streams.core import default_rulebook
from streams.core.changelog import all_records
from streams.live.faust_app import MAX_STATE_BYTES
from streams.ops.kafka import admin_client
from streams.ops.record_signer import RecordSigner, register_keys
from streams.ops.runtime import tune_gc_for_core_state
from streams.stages.topology import PARTITIONS, partition_for
from topics.codec import encode
from topics.registry import TOPIC_FOR_KIND
from topics.signing import sign_headers

_MARKS = {
    "assigned": "decide-intake: fenced and claimed",
    "recovered": "decide intake: partitions",
}


def _changelog(settings: Settings) -> str:
    return f"{settings.topic_prefix}.decide-state-changelog"


async def write_state(settings: Settings, cases: int) -> int:
    """Fold the city's state and write its records to the changelog; returns how many."""
    records = all_records(_folded(cases, default_rulebook()))
    async with admin_client(settings) as admin:  # as the worker's Faust app makes it
        config = {"cleanup.policy": "compact", "max.message.bytes": str(MAX_STATE_BYTES)}
        topic = NewTopic(_changelog(settings), PARTITIONS, 1, topic_configs=config)
        await admin.create_topics([topic])
    producer = AIOKafkaProducer(
        **aiokafka_options(settings, "admin"), acks="all", linger_ms=20, max_batch_size=1 << 20
    )
    await producer.start()
    try:
        partition = partition_for(CITY)
        sends = [
            await producer.send(_changelog(settings), value, key.encode(), partition)
            for key, value in records.items()
            if value is not None
        ]
        await asyncio.gather(*sends)
    finally:
        await producer.stop()
    return len(sends)


def new_events(settings: Settings, cases: int, first: int, count: int) -> list[Keyed]:
    """``count`` new confirmed cases of the city, signed, after the ``cases`` folded."""
    register_keys(settings, [(HEALTH.agency_id, HEALTH.agency_type)])
    signer = RecordSigner.from_registry(settings)
    topic = TOPIC_FOR_KIND["case"].name(settings.topic_prefix)
    at = T0 + timedelta(days=30)
    out = []
    for n in range(first, first + count):
        value = encode(_new_case(cases + n, at + timedelta(seconds=n)))
        kid, secret = signer.keys[HEALTH.agency_id]
        out.append(Keyed(CITY.encode(), value, topic, None, sign_headers(kid, secret, value)))
    return out


@dataclass
class Restart:
    """Seconds from a worker's start to each mark (None: not reached)."""

    assigned: float | None = None
    recovered: float | None = None
    committed: float | None = None


def _timed(settings: Settings, log: Path, before: int, timeout: float) -> Restart:
    """Poll the worker's log and the decide group's offsets from now until its first
    commit past ``before``."""
    group = f"{settings.topic_prefix}.decide-intake"
    seen = log.stat().st_size if log.exists() else 0
    began = time.monotonic()
    found = Restart()
    while (elapsed := time.monotonic() - began) < timeout:
        text = log.read_bytes()[seen:].decode(errors="replace")
        for name, mark in _MARKS.items():
            if getattr(found, name) is None and mark in text:
                setattr(found, name, elapsed)
        if asyncio.run(committed(settings, group)) > before:
            found.committed = time.monotonic() - began
            return found
        time.sleep(0.25)
    return found


def restarts(
    settings: Settings, cases: int, events: int, instance: str | None, log: Path
) -> tuple[Restart, Restart]:
    """Cold start, then SIGKILL and restart; the timings of both."""
    group = f"{settings.topic_prefix}.decide-intake"
    env_settings = settings.model_copy(update={"worker_instance_id": instance})
    kafka = aiokafka_options(settings, "admin")
    done = asyncio.run(committed(settings, group))
    asyncio.run(publish(kafka, new_events(settings, cases, done, events)))
    worker = _start(env_settings, log)
    cold = _timed(settings, log, done, 900)
    if cold.committed is None:
        worker.stop()
        raise SystemExit(f"no first commit within 900 s (log {log})")
    time.sleep(2)  # its first commit in, nothing in flight
    worker.proc.kill()
    worker.proc.wait()
    before = asyncio.run(committed(settings, group))
    asyncio.run(publish(kafka, new_events(settings, cases, done + events, events)))
    worker = _start(env_settings, log)
    warm = _timed(settings, log, before, 900)
    worker.stop()
    time.sleep(12)  # a static member that stopped holds its partitions for its session
    return cold, warm


def _start(settings: Settings, log: Path) -> Worker:
    instance = settings.worker_instance_id
    more = {} if instance is None else {"TIERFLOW_WORKER_INSTANCE_ID": instance}
    return Worker.start(settings, log, "decide", settings.metrics_port, **more)


def _row(label: str, r: Restart) -> str:
    cell: Callable[[float | None], str] = lambda s: "-" if s is None else f"{s:.1f}"  # noqa: E731
    return f"{label:<32} {cell(r.assigned):>9} {cell(r.recovered):>10} {cell(r.committed):>13}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    tune_gc_for_core_state()
    settings = fresh(load_settings(), "recovery")
    log = ROOT / "var" / "bench-workers" / f"{settings.topic_prefix}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    try:
        began = time.monotonic()
        written = asyncio.run(write_state(settings, args.cases))
        print(
            f"one city, {args.cases:,} cases: {written:,} changelog records written in "
            f"{time.monotonic() - began:.1f} s (load {os.getloadavg()[0]:.1f})"
        )
        print(f"{'seconds from the worker start':<32} {'assigned':>9} {'recovered':>10} "
              f"{'first commit':>13}")  # fmt: skip
        for membership, instance in (("dynamic", None), ("static", "bench-recovery")):
            cold, warm = restarts(settings, args.cases, args.events, instance, log)
            print(_row(f"{membership}: cold start", cold))
            print(_row(f"{membership}: restart after SIGKILL", warm))
        print(f"(target < 10 s to the first commit; load {os.getloadavg()[0]:.1f}; log {log})")
    finally:
        if not args.keep:
            drop(settings)


if __name__ == "__main__":
    main()
