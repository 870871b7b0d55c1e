"""The Faust app of a worker: the decide agent, its state table, the tick timer, the lag
timer and the landing task (see :mod:`streams.live` for the design)."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, NoReturn

import faust
from clickhouse_connect.driver.exceptions import ClickHouseError

from sinks.errors import SinkError
from sinks.namespaces import migrate_namespaces, namespace_sinks
from sinks.writer import RetryPolicy, SinkPolicy
from streams.live import metrics
from streams.live.decide import Decider, Record
from streams.live.landing import Landing
from streams.live.ticks import TickClock, ticks_for
from streams.live.topology import PARTITIONS, TopicNames
from topics.codec import encode
from topics.registry import TICKS
from topics.settings import Settings

log = logging.getLogger("tierflow.live")

EXIT_STAGE_FAILED = 70  # EX_SOFTWARE: a stage raised; the supervisor restarts the worker
EXIT_STALLED = 75  # EX_TEMPFAIL: the decide stage stopped committing with records waiting
# As Faust's own stream_processing_timeout: far above one batch and one state flush.
STALL_EXIT_S = 300.0

# Core states can outgrow Kafka's default 1 MB record limit on a long incident.
MAX_STATE_BYTES = 32 << 20


class TableStore:
    """:class:`streams.live.decide.StateStore` over a Faust table of bytes keyed by the
    jurisdiction's bytes. ``use_partitioner`` sends each key's changelog record to
    murmur2(key) — the partition the decide stage reads that jurisdiction from, which is
    what lets a Faust table be written from ``take_events`` (DESIGN.md section 7)."""

    def __init__(self, table: Any) -> None:
        self.table = table

    def get(self, jurisdiction: str) -> bytes | None:
        blob = self.table.get(jurisdiction.encode())
        return blob if isinstance(blob, bytes) else None

    def put(self, jurisdiction: str, blob: bytes) -> None:
        self.table[jurisdiction.encode()] = blob

    def jurisdictions(self) -> Iterator[str]:
        return (key.decode() for key in self.table)


class StatesBeforeCommit(faust.Sensor):
    """Puts the decide stage's changed states in the table when Faust is about to commit.

    Faust calls ``on_commit_initiated`` synchronously right before it picks the offsets to
    commit from the acked ones, and flushes the producer (the table's changelog records
    with it) before it commits them. Every acked record has been folded into a cached
    state, so every committed offset is covered by a changelog record; records folded but
    not committed yet are decided again after a crash (the core is idempotent)."""

    def __init__(self, decider: Decider) -> None:
        super().__init__()
        self.decider = decider

    def on_commit_initiated(self, consumer: Any) -> Any:
        started = time.perf_counter()
        if self.decider.flush_states():
            metrics.STATE_FLUSH_SECONDS.observe(time.perf_counter() - started)
        return super().on_commit_initiated(consumer)


def build_app(settings: Settings, rulebook: Any) -> Any:
    """A configured Faust app; run it with :func:`streams.live.runner.run_worker`."""
    names = TopicNames(settings.topic_prefix)
    app = _faust_app(settings)
    source = app.topic(
        *names.decide_sources,
        key_type=bytes,
        value_type=bytes,
        key_serializer="raw",
        value_serializer="raw",
    )
    table = app.Table(
        "state",
        key_type=bytes,
        value_type=bytes,
        partitions=PARTITIONS,
        use_partitioner=True,
        extra_topic_configs={"max.message.bytes": str(MAX_STATE_BYTES)},
    )
    clock = TickClock(settings.tick_clock)
    decider = Decider(
        prefix=settings.topic_prefix,
        digits=settings.jurisdiction_digits,
        pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
        rulebook=rulebook,
        store=TableStore(table),
        clock=clock,
        deferred_puts=True,
    )
    ticks_topic = names.of(TICKS)

    async def decide(stream: Any) -> None:
        async for events in stream.take_events(
            settings.worker_batch_max, within=settings.worker_batch_wait_s
        ):
            started = asyncio.get_running_loop().time()
            records = [
                Record(m.topic, m.partition, m.offset, m.key, m.value)
                for m in (event.message for event in events)
            ]
            try:
                outgoing = decider.process(records)
                sends = [
                    await app.producer.send(o.topic, o.key, o.value, o.partition, None, None)
                    for o in outgoing
                ]
                # Durable in Kafka before take_events acks the batch (at-least-once).
                await asyncio.gather(*sends)
            except Exception:
                _stop_hard("decide", len(records))
            metrics.DECIDE_BATCH_SECONDS.observe(asyncio.get_running_loop().time() - started)
            metrics.DECIDE_BATCH_RECORDS.observe(len(records))

    def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        decider.flush_states()  # still ours: the commit on revocation may cover them
        decider.forget()

    def on_assigned(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        decider.forget()

    async def write_ticks() -> None:
        at = clock.next_tick(datetime.now(UTC))
        if at is None:
            return
        mine = [tp.partition for tp in app.consumer.assignment() if tp.topic == ticks_topic]
        sends = [
            await app.producer.send(ticks_topic, None, encode(tick), partition, None, None)
            for partition, tick in ticks_for(at, mine)
        ]
        await asyncio.gather(*sends)

    decide_lag = metrics.CommitTracker(f"{settings.topic_prefix}.decide")

    async def refresh_lag() -> None:
        consumer = app.consumer
        # Faust keeps the committed offsets it seeks to and commits; no public accessor.
        committed = getattr(consumer, "_committed_offset", {})
        decide_lag.refresh(
            ((tp.topic, tp.partition), consumer.highwater(tp), committed.get(tp))
            for tp in consumer.assignment()
        )
        _exit_if_stalled(decide_lag, names.decide_sources)

    landing = Landing(
        bootstrap=settings.kafka_bootstrap,
        prefix=settings.topic_prefix,
        sinks=namespace_sinks(
            settings,
            settings.clickhouse_database,
            # A short retry budget gives the landing loop control back often enough to
            # pause partitions and keep its group membership.
            SinkPolicy(retry=RetryPolicy(budget_s=5.0)),
            on_batch=metrics.observe_sink_batch,
        ),
        pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
    )

    async def land() -> None:
        try:
            await _migrate_until_done(settings)
            await landing.run(names.landing_sources)
        except Exception:
            _stop_hard("landing", 0)

    # Registered by call, not decorator syntax: faust's decorators are untyped.
    app.agent(source)(decide)
    app.on_partitions_revoked.connect(on_revoked)
    app.on_partitions_assigned.connect(on_assigned)
    app.sensors.add(StatesBeforeCommit(decider))
    app.timer(interval=settings.tick_interval_s)(write_ticks)
    app.timer(interval=metrics.LAG_REFRESH_S)(refresh_lag)
    app.task(land)
    return app


def _stop_hard(stage: str, records: int) -> NoReturn:
    """Log the exception being handled and end the process at once (exit 70).

    Decoding never raises on input, so an exception here is a bug or a broken dependency.
    Faust acks a ``take_events`` batch even when its consumer raises (the ack is in the
    generator's ``finally``), commits what is acked, and leaves a crashed agent dead without
    a word: the batch would be lost and the worker would stall silently. Exiting before the
    ack leaves the batch uncommitted, so a restarted worker decides it again (at-least-once;
    the core is idempotent); a graceful stop would commit it."""
    log.critical(
        "%s stage failed (batch of %d records); exiting so that nothing is committed past it",
        stage,
        records,
        exc_info=True,
    )
    os._exit(EXIT_STAGE_FAILED)


def _faust_app(settings: Settings) -> Any:
    datadir = settings.stack_home / "worker" / settings.topic_prefix
    datadir.mkdir(parents=True, exist_ok=True)
    app = faust.App(
        f"{settings.topic_prefix}.decide",
        broker=[f"kafka://{host}" for host in settings.kafka_bootstrap.split(",")],
        store="memory://",
        autodiscover=False,
        web_enabled=False,
        datadir=str(datadir),
        topic_partitions=PARTITIONS,
        topic_replication_factor=settings.replication_factor,
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=1.0,
        producer_acks=-1,
        producer_linger_ms=5,
        producer_max_request_size=MAX_STATE_BYTES,
        stream_recovery_delay=0.2,
        # A worker that died without leaving the group holds its partitions until the
        # session times out (Faust's default: 60 s), so a restart waits that long. 10 s is
        # well above one decide batch, which holds the event loop (and so the heartbeats).
        broker_session_timeout=10.0,
        # The memory store keeps a standby copy in RAM per replica; recovery from the
        # changelog is the fallback instead.
        table_standby_replicas=0,
    )
    return app


def _exit_if_stalled(tracker: metrics.CommitTracker, topics: tuple[str, ...]) -> None:
    """Exit 75 when the decide stage has records waiting and has not committed for
    STALL_EXIT_S: Faust consumers are known to stop fetching or processing without an
    error, and a restarted worker resumes from the committed offsets (nothing is lost)."""
    stuck = tracker.stalled(topics, STALL_EXIT_S)
    if stuck:
        log.critical(
            "decide stage stalled: no commit for %.0fs with records waiting on %s; exiting",
            STALL_EXIT_S,
            stuck,
        )
        os._exit(EXIT_STALLED)


async def _migrate_until_done(settings: Settings) -> None:
    delay = 1.0
    while True:
        try:
            await asyncio.to_thread(migrate_namespaces, settings, settings.clickhouse_database)
            return
        except (SinkError, ClickHouseError) as exc:  # server down at start: keep trying
            log.warning(
                "cannot migrate %s yet, retry in %.0fs: %s",
                settings.clickhouse_database,
                delay,
                exc,
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
