"""Replay throughput: ``replay_kafka`` (read the event-time range, decide with the core,
land in ``review_NAME``) beside the ceiling (bench/ceiling.py: decoding and folding the same
records in one process, no Kafka, no landing) and raw aiokafka consumption, in one run.

    .venv/bin/python -m bench.replay [--events 1000000] [--profile]

Prints ``ratio replay / ceiling`` (issue 14: target >= 0.7) and, for the replay and the
ceiling, ``ratio last 10% / first 10%`` (target >= 0.9: flat over 5 M events). The replay
runs in batches of ``--events``/20 records (100 000 at most, the default of
``replay_kafka``), and its rate curve starts when its first batch is landed (the landing
lags the deciding by one batch), so the first 10 % are the records after the first batch.

The events (bench/core.py's mixed stream: cases, stock, transfers, incident reports over 8
cities, stamped with their event time as ``tierflow publish`` does) are published once
into the topic prefix ``bench_replay_<events>_v2`` (or ``--prefix``); a later run with the
same ``--events`` and prefix reuses them. The replayed range is all of them, and so is
what the raw reader reads.
``--workers N`` decides the review in N worker processes (default ``review_workers``: one
per core; ``--workers 1``: in the bench's process). With workers, the CPU printed is the
review's own process's alone. ``--profile`` runs the replay under cProfile and
prints what dominates; ``--batches`` prints
the time of every landed batch (flat when the replay is linear). ``--decode`` also reads
the range once more in the same run decoding every value (pydantic, as the decide stage
does): the ceiling that validation alone puts below raw consumption.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import pstats
import resource
import time
import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.ceiling import Curve, ceiling
from bench.core import CITIES, _mixed
from bench.raw_consume import raw_consume
from sinks.client import connect
from sinks.namespaces import namespace_databases
from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings, load_settings
from streams.core import default_rulebook
from streams.ops.kafka import create_topics
from streams.ops.publisher import publish_records
from streams.ops.record_signer import register_senders
from streams.ops.runtime import tune_gc_for_core_state
from streams.replay.session import (
    BATCH_RECORDS,
    Progress,
    ReviewRequest,
    ReviewSummary,
    replay_kafka,
)
from streams.replay.workers import worker_count
from streams.stages.topology import LIVE_TOPICS, TopicNames
from topics.codec import decode, encode
from topics.registry import ALL_TOPICS, TOPIC_FOR_KIND
from topics.routing import OutgoingRecord

SPACING = timedelta(seconds=2)  # event time between consecutive events of one city
# Event times end about now: records are stamped with them, and topic retention counts from
# the record timestamp, so a months-old range would be deleted as soon as segments roll.
EVERYTHING = (datetime(2000, 1, 1, tzinfo=UTC), datetime(2100, 1, 1, tzinfo=UTC))


async def _published(settings: Settings) -> int:
    consumer = AIOKafkaConsumer(**aiokafka_options(settings, "admin"))
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        tps = [
            TopicPartition(t, p)
            for t in TopicNames(settings.topic_prefix).inputs
            for p in consumer.partitions_for_topic(t) or ()
        ]
        return sum((await consumer.end_offsets(tps)).values()) if tps else 0
    finally:
        await consumer.stop()


def _records(events: int) -> list[OutgoingRecord]:
    out = []
    start = datetime.now(UTC).replace(microsecond=0) - SPACING * (events // len(CITIES) + 1)
    for n in range(events):
        city = CITIES[n % len(CITIES)]
        at = start + SPACING * (n // len(CITIES))
        event = _mixed(n, city, at)
        out.append(
            OutgoingRecord(
                TOPIC_FOR_KIND[event.kind].stem,
                encode(event),
                city.encode(),
                timestamp_ms=int(at.timestamp() * 1000),
                agency_id=event.source.agency_id,
                agency_type=event.source.agency_type,
            )
        )
    return out


def ensure_published(settings: Settings, events: int) -> None:
    """Publish ``events`` into the settings' prefix unless it already holds them."""
    held = asyncio.run(_published(settings))
    if held >= events:
        print(f"reusing {held:,} records under prefix {settings.topic_prefix}")
        return
    if held:
        raise SystemExit(f"prefix {settings.topic_prefix} holds {held:,} records, not {events:,}")
    asyncio.run(create_topics(settings, (*ALL_TOPICS, *LIVE_TOPICS)))
    began = time.perf_counter()
    records = _records(events)
    register_senders(settings, records)  # signed by their agencies, as in production
    publish_records(records, settings)
    print(f"published {events:,} events in {time.perf_counter() - began:.0f} s")


def _batch_recorder(curve: Curve, show: bool) -> Progress:
    """Adds each landed batch to ``curve`` (from the end of the first one); prints its time
    if ``show``: a replay whose batches slow down as the states grow is super-linear."""
    last = time.perf_counter()
    began: float | None = None
    done = 0

    def batch(records: int, total: int) -> None:
        nonlocal last, done, began
        now = time.perf_counter()
        if began is None:
            began = now
        else:
            done += records
            curve.add(now - began, done)
        if show:
            print(f"  batch of {records:,} in {now - last:.1f} s (of {total:,})", flush=True)
        last = now

    return batch


def replay(
    settings: Settings, events: int, profile: bool, batches: bool = False
) -> tuple[ReviewSummary, float, float, Curve]:
    """The review's summary, the CPU seconds this process and its children (workers,
    checkpoint savers) spent on it (the wall time is shared with whatever else the machine
    runs; ClickHouse's own work is not counted) and its rate curve from the end of its
    first batch."""
    name = f"bench_{uuid.uuid4().hex[:8]}"
    request = ReviewRequest(name, default_rulebook(), None, *EVERYTHING)
    profiler = cProfile.Profile() if profile else None
    curve = Curve()
    try:
        if profiler:
            profiler.enable()
        cpu, children = time.process_time(), _children_cpu()
        progress = _batch_recorder(curve, batches)
        summary = asyncio.run(
            replay_kafka(
                settings,
                request,
                progress,
                batch_records=min(BATCH_RECORDS, max(events // 20, 1_000)),
            )
        )
        cpu, children = time.process_time() - cpu, _children_cpu() - children
    finally:
        if profiler:
            profiler.disable()
        admin = connect(settings, "", login="reviewer")
        for db in namespace_databases(f"review_{name}").values():
            admin.command(f"DROP DATABASE IF EXISTS {db}")
        admin.close()
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(r"streams|sinks|topics", 25)
    return summary, cpu, children, curve


def _children_cpu() -> float:
    """CPU seconds of this process's ended children (review workers, checkpoint savers)."""
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def _decoding(values: list[bytes]) -> None:
    for value in values:
        decode(value)


def raw_with_decoding(settings: Settings, raw_rate: float) -> None:
    """Raw reading plus pydantic decoding of every value, over the whole range: the most a
    replay could reach on one core before the core and the landing do anything."""
    names = TopicNames(settings.topic_prefix)
    rate = asyncio.run(
        raw_consume(aiokafka_options(settings, "admin"), names.inputs, on_values=_decoding)
    )
    print(
        f"raw + decode : {rate.records:,} records in {rate.seconds:.1f} s = "
        f"{rate.per_second:,.0f}/s (ratio to raw {rate.per_second / raw_rate:.3f})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--profile", action="store_true", help="cProfile the replay")
    parser.add_argument("--batches", action="store_true", help="print each batch's time")
    parser.add_argument("--decode", action="store_true", help="also raw + decode")
    parser.add_argument(
        "--workers", type=int, help="processes deciding the review (default: review_workers)"
    )
    parser.add_argument(
        "--prefix", help="topic prefix of the bench events (default bench_replay_<events>_v2)"
    )
    args = parser.parse_args()
    tune_gc_for_core_state()  # as `tierflow replay` does
    settings = load_settings()
    prefix = args.prefix or f"bench_replay_{args.events}_v2"
    workers = args.workers or settings.review_workers
    settings = settings.model_copy(update={"topic_prefix": prefix, "review_workers": workers})
    ensure_published(settings, args.events)
    names = TopicNames(settings.topic_prefix)
    stamped: list[tuple[int, bytes]] = []
    raw = asyncio.run(
        raw_consume(aiokafka_options(settings, "admin"), names.inputs, on_stamped=stamped.extend)
    )
    # The ceiling folds them in publishing order (broker time), as the replay reads them
    # (slices by time). In fetch order one topic can come far ahead of another, and then
    # every late bed snapshot re-evaluates each later transfer request (the core's
    # transfers.beds_changed): single batches took 30 s and the ceiling 138-172 s in
    # three runs of six (BENCHMARKS.md, fifth session).
    stamped.sort(key=lambda pair: pair[0])
    values = [value for _, value in stamped]
    del stamped
    print(
        f"raw aiokafka : {raw.records:,} records in {raw.seconds:.1f} s = {raw.per_second:,.0f}/s"
    )
    print(f"ceiling      : decoding and folding the same {len(values):,} records, no Kafka …")
    ceiling_run = ceiling(values)
    del values
    print(ceiling_run.curve.describe("ceiling"))
    if args.decode:
        raw_with_decoding(settings, raw.per_second)
    summary, cpu, children, curve = replay(settings, args.events, args.profile, args.batches)
    print(
        f"replay_kafka : {summary.records:,} records in {summary.seconds:.1f} s = "
        f"{summary.rate:,.0f}/s (decide + land in ClickHouse, "
        f"{worker_count(settings.review_workers)} worker(s); {cpu:.1f} s CPU in this process, "
        f"{children:.1f} s in its children, "
        f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MiB)"
    )
    print(curve.describe("replay after its first batch"))
    # The replay freezes each batch's leftovers uncollected (streams/replay/session.py): the
    # cycles among them are garbage only a collection after gc.unfreeze() can find.
    gc.unfreeze()
    print(f"unreachable objects found once unfrozen: {gc.collect():,}")
    print(f"ratio replay / raw: {summary.rate / raw.per_second:.3f}")
    print(f"ratio replay / ceiling: {summary.rate / ceiling_run.curve.rate():.3f} (target >= 0.7)")


if __name__ == "__main__":
    main()
