"""Peers side by side (issue 14 item 4): the same records, one run, one machine —

(a) ``faust-per-record`` (bench/peer_faust.py): one Faust agent per record calling the core's
    ``step`` with a Faust table keyed by jurisdiction, as Faust's documentation has it;
(b) ``quixstreams`` (bench/peer_quix.py, in bench/.venv-quix): a Quix Streams application,
    the same decode + core with its state store;
(c) ``tierflow``: the worker's decide stage (``tierflow worker --stages decide``: intake in
    batches, decode, core, outputs produced, states in the changelog before each commit);

and, in this process, the ceiling (bench/ceiling.py: decode + fold, no Kafka), in the
worker's batches and with one event per ``step`` call as the peers call it.

    .venv/bin/python -m bench.peers [--events 1000000] [--skip faust|quix|tierflow]

The events (bench/e2e.py's mixed stream over 8 cities, keyed by city) are published once
into the four input topics of a throw-away prefix; each peer then reads them from the
beginning with its own consumer group and writes its outputs to topics of its own, and
runs alone (one after the other). A peer's rate is its records over the time from its first
record to its last (as it counts them; tierflow: from its partitions being assigned to its
``tierflow_records_consumed`` counter reaching every record, so its first fetch counts
against it). Every peer's outputs are read back and fingerprinted (the decisions standing
at the end: tier changes, tasks and alerts by id and revision, less retracted ones; the
core is order-insensitive, so any arrival order gives the same): a peer whose fingerprint
differs from the ceiling's did other work, and the run says so.

Prints ``ratio tierflow / faust-per-record: X`` (target >= 5) and ``ratio tierflow /
quixstreams: Y`` (target >= 1.2). Needs the local stack (``tierflow stack up``); builds
bench/.venv-quix on first use.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from bench.ceiling import Decisions, ceiling
from bench.live_bench import ROOT, Worker, committed, consumed_in, mixed, publish
from bench.namespaces import drop, fresh
from streams.config.kafka_security import (
    aiokafka_options,
    credentials,
    librdkafka_properties,
    render_properties,
)
from streams.config.settings import Settings, load_settings
from streams.ops.runtime import tune_gc_for_core_state
from streams.stages.topology import TopicNames
from topics.registry import ALERTS, ESCALATIONS, TASKS

QUIX_VENV = ROOT / "bench" / ".venv-quix"
PEER_TIMEOUT_S = 3_600


async def _read(kafka: dict[str, Any], topics: list[str]) -> list[dict[str, Any]]:
    """Every record of ``topics`` (JSON values), in order per partition."""
    consumer = AIOKafkaConsumer(**kafka, auto_offset_reset="earliest")
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[dict[str, Any]] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for got in (await consumer.getmany(timeout_ms=1000, max_records=20_000)).values():
                out.extend(orjson.loads(r.value) for r in got if r.value is not None)
        return out
    finally:
        await consumer.stop()


def fingerprint_of(settings: Settings, topics: list[str]) -> str:
    decisions = Decisions()
    decisions.add(asyncio.run(_read(aiokafka_options(settings, "admin"), topics)))
    more = f", and {decisions.rollup:,} roll-up outputs" if decisions.rollup else ""
    return decisions.fingerprint() + more


async def _create(settings: Settings, topic: str) -> None:
    admin = AIOKafkaAdminClient(**aiokafka_options(settings, "admin"))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 6, settings.replication_factor)])
    finally:
        await admin.close()


def _peer_process(
    settings: Settings, name: str, command: list[str], env: dict[str, str], *, events: int,
    max_s: float,
) -> tuple[float, str]:  # fmt: skip
    """Run one peer process over the published inputs; its rate and fingerprint."""
    out_topic = f"{settings.topic_prefix}.peer-{name}.decisions"
    asyncio.run(_create(settings, out_topic))
    result_file = ROOT / "var" / f"bench-peer-{name}.json"
    result_file.unlink(missing_ok=True)
    properties = ROOT / "var" / "bench-peer-admin.properties"  # the peers log in as admin
    login = librdkafka_properties(settings, *credentials(settings, "admin"))
    properties.write_text(render_properties(login))
    args = [
        "--properties", str(properties),
        "--inputs", *TopicNames(settings.topic_prefix).inputs,
        "--outputs", out_topic,
        "--group", f"{settings.topic_prefix}.peer-{name}",
        "--records", str(events),
        "--result", str(result_file),
        "--max-s", str(max_s),
    ]  # fmt: skip
    log = ROOT / "var" / f"bench-peer-{name}.log"
    with log.open("ab") as output:
        done = subprocess.run(
            [*command, *args], cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT,
            timeout=PEER_TIMEOUT_S, check=False,
        )  # fmt: skip
    if done.returncode != 0 or not result_file.exists():
        raise SystemExit(f"peer {name} failed (exit {done.returncode}); see {log}")
    result = orjson.loads(result_file.read_bytes())
    if result["rejected"]:
        raise SystemExit(f"peer {name} rejected {result['rejected']} bench records; see {log}")
    share = result["encode_seconds"] / result["seconds"]
    print(f"{'':>16}  ({name}: {share:.0%} of its time encoding whole states for its store)")
    rate = result["records"] / result["seconds"]
    if result["records"] < events:
        return rate, f"not comparable: stopped after {max_s:.0f} s, {result['records']:,} records"
    return rate, fingerprint_of(settings, [out_topic])


def faust_peer(settings: Settings, events: int, max_s: float) -> tuple[float, str]:
    command = [sys.executable, "-m", "bench.peer_faust"]
    return _peer_process(settings, "faust", command, dict(os.environ), events=events, max_s=max_s)


def quix_peer(settings: Settings, events: int, max_s: float) -> tuple[float, str]:
    subprocess.run([str(ROOT / "bench" / "make_quix_venv.sh")], check=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [str(QUIX_VENV / "bin" / "python"), "-m", "bench.peer_quix"]
    return _peer_process(settings, "quix", command, env, events=events, max_s=max_s)


def tierflow_peer(settings: Settings, events: int, max_s: float) -> tuple[float, str]:
    """The worker's decide stage alone over the published inputs (``max_s`` is not used:
    it decides every record), timed from the intake's assignment (its log line: the lag
    gauges that name the group refresh every 2 s, longer than 20 000 records take)."""
    log = ROOT / "var" / "bench-peer-tierflow.log"
    started = time.time()
    worker = Worker.start(settings, log, "decide", settings.metrics_port)
    try:
        deadline = time.monotonic() + PEER_TIMEOUT_S
        while consumed_in(worker.metrics()) < events:
            if time.monotonic() > deadline:
                raise SystemExit(f"tierflow decide stage did not finish; see {log}")
            time.sleep(0.05)
        ended = time.time()
        seconds = ended - _assigned_at(log, started)
        # Its outputs are produced before its offsets are committed: wait for the commit.
        group_id = f"{settings.topic_prefix}.decide-intake"
        while asyncio.run(committed(settings, group_id)) < events:
            if time.monotonic() > deadline:
                raise SystemExit(f"tierflow decide stage did not commit; see {log}")
            time.sleep(0.5)
    finally:
        worker.stop()
    names = TopicNames(settings.topic_prefix)
    topics = [names.of(spec) for spec in (ESCALATIONS, TASKS, ALERTS)]
    return events / seconds, fingerprint_of(settings, topics)


def _assigned_at(log: Path, since: float) -> float:
    """The wall time of the first "decide intake: partitions" line logged after ``since``
    (the worker's log lines start with their local time, to the millisecond)."""
    for line in log.read_text(errors="replace").splitlines():
        if "decide intake: partitions" in line:
            stamp = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            if stamp >= since:  # (the log is appended to: earlier runs' lines come first)
                return stamp
    raise SystemExit(f"the tierflow worker never logged its assignment; see {log}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--skip", action="append", default=[], choices=["faust", "quix", "tierflow"]
    )
    parser.add_argument("--keep", action="store_true", help="keep the topics' databases")
    parser.add_argument(
        "--max-s",
        type=float,
        default=PEER_TIMEOUT_S / 2,
        help="stop a Faust or Quix peer after this long and print its rate so far (their "
        "per-record whole-state writes grow with the state: at 1 M events they do not end)",
    )
    args = parser.parse_args()
    tune_gc_for_core_state()  # the ceiling folds as the shells do
    (ROOT / "var").mkdir(exist_ok=True)
    settings = fresh(load_settings(), "peers")
    records = mixed(settings, args.events)
    first, _ = asyncio.run(publish(aiokafka_options(settings, "admin"), records))
    print(f"published {args.events:,} events under {settings.topic_prefix} in "
          f"{time.time() - first:.1f} s")  # fmt: skip
    values = [r.value for r in records]
    del records
    run = ceiling(values)
    print(f"{'ceiling':>16}: {run.curve.rate():>9,.0f} events/s  decisions {run.decisions}")
    # What the peers' core calls cost alone: one event per ``step`` (per-call costs).
    single = ceiling(values, batch=1)
    label = "ceiling, 1/step"
    print(f"{label:>16}: {single.curve.rate():>9,.0f} events/s  decisions {single.decisions}")
    del values
    peers = {"faust": faust_peer, "quix": quix_peer, "tierflow": tierflow_peer}
    labels = {"faust": "faust-per-record", "quix": "quixstreams", "tierflow": "tierflow"}
    rates: dict[str, float] = {}
    for name, peer in peers.items():
        if name in args.skip:
            continue
        rate, decisions = peer(settings, args.events, args.max_s)
        rates[name] = rate
        if decisions.startswith("not comparable"):
            same = "its rate is of the records it did"
        elif decisions.startswith(run.decisions):
            same = "same"
        else:
            same = "DIFFERENT from the ceiling"
        print(f"{labels[name]:>16}: {rate:>9,.0f} events/s  decisions {decisions} ({same})")
    for name in ("faust", "quix"):
        if name in rates and "tierflow" in rates:
            ratio = rates["tierflow"] / rates[name]
            print(f"ratio tierflow / {labels[name]}: {ratio:.2f}")
    if "tierflow" in rates:
        print(f"ratio tierflow / ceiling: {rates['tierflow'] / run.curve.rate():.3f}")
    if not args.keep:
        drop(settings)


if __name__ == "__main__":
    main()
