"""The Faust app of a worker: the decide agent, its state table, the roll-up agent and its
table (:mod:`streams.live.rollup`), the tick timer, the lag timer and the landing task (see
:mod:`streams.live` for the design)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sinks.namespaces import namespace_sinks
from sinks.writer import RetryPolicy, SinkPolicy
from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from streams.live import metrics
from streams.live.changelog_read import STORE_URL
from streams.live.exits import exit_if_stalled, stop_hard
from streams.live.faust_app import MAX_STATE_BYTES, faust_app
from streams.live.fencing import PartitionCommitter, fenced_commits, leave_lost
from streams.live.health import Heartbeat
from streams.live.intake import Decide, Intake
from streams.live.journal_write import FencedJournal
from streams.live.landing import Landing
from streams.live.output_sender import OutputSender
from streams.live.readiness import stop_for_good, wait_until_migrated
from streams.live.rebalance import RecoveryGate, fence_on_rebalance
from streams.live.rollup import rollup_stage
from streams.live.state_store import DecideStateStore
from streams.live.waiting import assignment_wait, report_while
from streams.ops.runtime import collector_paused
from streams.stages.batch import Record
from streams.stages.decide import Decider
from streams.stages.ticks import TickClock
from streams.stages.topology import DECIDE_JOURNAL, PARTITIONS, ROLLUP_FEED, TopicNames
from topics.agencies import AgencyError, KeyRingFile
from topics.codec import encode
from topics.registry import TICKS
from topics.signing import KeyRing

log = logging.getLogger("tierflow.live")


def build_app(settings: Settings, rulebook: Any) -> Any:
    """A configured Faust app; run it with :func:`streams.live.runner.run_worker`."""
    names = TopicNames(settings.topic_prefix)
    app = faust_app(settings)
    ticks_topic = names.of(TICKS)
    # Faust's group holds the ticks topic: its assignment (co-partitioned with the table)
    # says which partitions this worker decides; the intake reads them (streams.live.intake)
    partition_holder = app.topic(
        ticks_topic, key_type=bytes, value_type=bytes, key_serializer="raw", value_serializer="raw"
    )
    clock = TickClock(settings.tick_clock)
    states = DecideStateStore(
        app.Table(
            "state",
            key_type=bytes,
            value_type=bytes,
            partitions=PARTITIONS,
            use_partitioner=True,
            extra_topic_configs={"max.message.bytes": str(MAX_STATE_BYTES)},
            store=STORE_URL,  # read back by the worker itself: streams.live.changelog_read
        ),
        rulebook,
        aiokafka_options(settings, "worker"),
    )
    decider = _decider(settings, rulebook, clock, states)
    intake, journal = _intake(settings, names, decider, states)
    decide_lag = metrics.CommitTracker(intake.group)
    heartbeat = Heartbeat(settings, decide=decide_lag, decide_topics=names.decide_sources)
    outputs = _output_sender(app, settings)
    hand_over = _decide_agent(app, decider, intake, outputs, heartbeat.decided)

    async def hold_partitions(stream: Any) -> None:
        async for _ in stream:  # the intake reads ticks, in order with the inputs
            pass

    committer = PartitionCommitter(
        kafka=aiokafka_options(settings, "worker"),
        prefix=settings.topic_prefix,
        stage="decide-intake",
        group=intake.group,
        changelog=states.changelog,
        max_bytes=MAX_STATE_BYTES,
        reload=states.refill,
    )
    commit = fenced_commits(committer, decider=decider, states=states, stop_reading=intake.revoke)

    async def read_inputs() -> None:
        try:
            await intake.run(hand_over, commit)
        except Exception:
            stop_hard("intake", 0)

    reports: list[asyncio.Future[None]] = []  # one, started by the first rebalance

    def on_revoked(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        if not reports:  # Faust starts the app's tasks only once its tables are recovered
            waiting = report_while(lambda: not intake.reading, assignment_wait(app), log)
            reports.append(asyncio.ensure_future(waiting))
        intake.revoke()
        decider.forget()  # what it folded since the last commit is decided again
        rollup.forget()

    def on_recovered(sender: Any, /, *args: Any, signal: Any, **kwargs: Any) -> None:
        decider.forget()
        held = claimed.current(ticks_topic)
        # None: an older generation's recovery ended; the newer one's end assigns
        if held is not None:
            intake.assign(held)

    async def refresh_lag() -> None:
        decide_lag.refresh(intake.lag_offsets())
        exit_if_stalled(decide_lag, names.decide_sources, settings.worker_stall_exit_s)

    recovered = RecoveryGate()
    rollup, rollup_committer = rollup_stage(
        app,
        settings,
        rulebook,
        recovered=recovered,
        max_bytes=MAX_STATE_BYTES,
        produce=outputs.send,
        stop_hard=stop_hard,
    )
    claimed = fence_on_rebalance(
        app,
        {ticks_topic: (committer, journal), names.of(ROLLUP_FEED): (rollup_committer,)},
        recovered,
    )

    # Registered by call, not decorator syntax: faust's decorators are untyped.
    app.agent(partition_holder)(hold_partitions)
    app.on_partitions_revoked.connect(on_revoked)
    app.on_rebalance_complete.connect(on_recovered)
    app.timer(interval=settings.tick_interval_s)(
        _tick_writer(
            app,
            clock,
            ticks_topic,
            lambda: claimed.current(ticks_topic) or frozenset(),
            lambda: intake.waiting,
        )
    )
    app.timer(interval=metrics.LAG_REFRESH_S)(refresh_lag)
    _beat(app, heartbeat, settings.worker_heartbeat_s)
    app.task(read_inputs)
    if settings.worker_stages == "all":
        app.task(landing_stage(settings, names, heartbeat))
    return app


def _beat(app: Any, heartbeat: Heartbeat, interval_s: float) -> None:
    """Land a heartbeat at the start and every ``interval_s``: the timer's first beat comes
    an interval after the start, and a board read meanwhile (the demo's, ~15 s after it)
    said that no worker was up."""
    app.timer(interval=interval_s)(heartbeat.beat)
    app.task(heartbeat.beat)


def _output_sender(app: Any, settings: Settings) -> OutputSender:
    """The outputs' sender, its producer held by a task of ``app`` (a producer that cannot
    start stops the worker: nothing could be decided)."""
    outputs = OutputSender(aiokafka_options(settings, "worker"))

    async def hold_producer() -> None:
        try:
            await outputs.run()
        except Exception:
            stop_hard("outputs", 0)

    app.task(hold_producer)
    return outputs


def _decide_agent(
    app: Any, decider: Decider, intake: Intake, outputs: OutputSender, decided: Callable[[], None]
) -> Decide:
    """The decide agent on an in-memory channel; returns how the intake hands it a batch
    (returning once the batch is decided and its outputs sent, with a future done once
    they are durable)."""
    batches = app.channel()  # one event per intake batch

    async def decide(stream: Any) -> None:
        async for batch in stream:
            durable = None
            # a batch from before a rebalance: its partitions may be another worker's now
            if batch.generation == intake.generation:
                durable = await _decide_batch(outputs, decider, batch.records)
                decided()
            if not batch.done.done():  # (the intake stops waiting on a revoke)
                batch.done.set_result(durable)

    async def hand_over(records: list[Record], generation: int) -> asyncio.Future[None] | None:
        loop = asyncio.get_running_loop()
        # the generation the intake read it in: tagged with the current one, a batch
        # handed over just after a rebalance was decided in the new generation, before the
        # journaled batches preceding it and from a state without them
        batch = _Handover(records, generation, loop.create_future())
        await batches.put(batch)
        return await batch.done

    app.agent(batches)(decide)
    return hand_over


def _intake(
    settings: Settings, names: TopicNames, decider: Decider, states: DecideStateStore
) -> tuple[Intake, FencedJournal]:
    """The decide intake and the journal it writes (fenced: streams.live.journal_write)."""
    journal = FencedJournal(
        kafka=aiokafka_options(settings, "worker"),
        prefix=settings.topic_prefix,
        topic=names.of(DECIDE_JOURNAL),
    )

    async def write_journal(entries: dict[int, bytes]) -> dict[int, int]:
        with metrics.JOURNAL_WRITE_SECONDS.time():
            written = await journal.write(entries)
        # another worker's partitions now: the intake stops reading, deciding none of it
        stop = intake.revoke
        leave_lost(written.lost, "decide-journal", decider=decider, states=states, stop=stop)
        return written.offsets

    intake = Intake(
        kafka=_member_options(settings),
        group=f"{settings.topic_prefix}.decide-intake",
        topics=names.decide_sources,
        in_step=names.inputs,
        batch_max=settings.worker_batch_max,
        wait_s=settings.worker_batch_wait_s,
        commit_interval_s=settings.worker_commit_interval_s,
        journal_topic=names.of(DECIDE_JOURNAL),
        write_journal=write_journal,
    )
    return intake, journal


def _member_options(settings: Settings) -> dict[str, Any]:
    """aiokafka options for the intake's consumer: a static member with the worker's
    instance id when it has one, as its Faust consumer (:mod:`streams.live.faust_app`) and
    its landing's are, so that a restart in place gets every group's partitions back at
    once."""
    kafka = aiokafka_options(settings, "worker")
    if settings.worker_instance_id is not None:
        kafka["group_instance_id"] = settings.worker_instance_id
    return kafka


async def _decide_batch(
    outputs: OutputSender, decider: Decider, records: list[Record]
) -> asyncio.Future[None]:
    """Decide one batch and hand its outputs to the producer; returns a future done once
    they are durable in Kafka (the intake waits for it before it commits the batch:
    at-least-once). Any exception, a failed send's too, stops the worker (exit 70)."""
    started = asyncio.get_running_loop().time()
    try:
        with collector_paused():
            decided = decider.process(records)
        acks = await outputs.queue(decided)
    except Exception:
        stop_hard("decide", len(records))
    metrics.DECIDE_BATCH_SECONDS.observe(asyncio.get_running_loop().time() - started)
    metrics.DECIDE_BATCH_RECORDS.observe(len(records))

    async def durable() -> None:
        try:
            await asyncio.gather(*acks)
        except Exception:
            stop_hard("decide", len(records))

    return asyncio.ensure_future(durable())


def _key_source(settings: Settings) -> Callable[[], KeyRing]:
    """The registry file's keys, read again when it changes; a broken file keeps the keys
    read before (logged), a worker starting on one stops with its one-line reason."""
    ring_file = KeyRingFile(settings.agency_registry())
    ring = ring_file.current()

    def keys() -> KeyRing:
        nonlocal ring
        try:
            ring = ring_file.current()
        except AgencyError as exc:
            log.error("agency registry unreadable, keeping the keys read before: %s", exc)
        return ring

    return keys


def _decider(
    settings: Settings, rulebook: Any, clock: TickClock, states: DecideStateStore
) -> Decider:
    """The decide stage's logic over the worker's state table (changelog-backed)."""
    return Decider(
        keys=_key_source(settings),
        decided_log=True,
        prefix=settings.topic_prefix,
        digits=settings.jurisdiction_digits,
        pseudonym_key=settings.pseudonym_key.get_secret_value().encode(),
        rulebook=rulebook,
        store=states,
        clock=clock,
        deferred_puts=True,
        observer=metrics,
    )


def _tick_writer(
    app: Any,
    clock: TickClock,
    ticks_topic: str,
    held: Callable[[], frozenset[int]],
    waiting: Callable[[], frozenset[int]],
) -> Callable[[], Awaitable[None]]:
    """The timer that writes a tick to each ticks partition this worker holds (``held``:
    claimed in the current generation, not merely in the consumer's newest assignment);
    one with records ``waiting`` gets its own progress (streams.stages.ticks)."""

    async def write_ticks() -> None:
        sends = [
            await app.producer.send(ticks_topic, None, encode(tick), partition, None, None)
            for partition, tick in clock.next_ticks(datetime.now(UTC), held(), waiting())
        ]
        await asyncio.gather(*sends)

    return write_ticks


def landing_stage(
    settings: Settings, names: TopicNames, heartbeat: Heartbeat
) -> Callable[[], Coroutine[Any, Any, None]]:
    """The landing task: migrate, then land every output and input topic for good (in the
    worker's Faust app, or alone in a process: ``worker_stages = "land"``); its lag and
    commits go into ``heartbeat``."""
    landing = Landing(
        kafka=aiokafka_options(settings, "worker"),
        instance_id=settings.worker_instance_id,
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
        linger_s=settings.worker_landing_linger_s,
    )
    heartbeat.land = landing.tracker

    async def land() -> None:
        try:
            await wait_until_migrated(settings)
        except Exception as exc:
            stop_for_good(exc)
        try:
            await landing.run(names.landing_sources)
        except Exception:
            stop_hard("landing", 0)

    return land


@dataclass(frozen=True)
class _Handover:
    """One intake batch on its way through the decide agent (handed over in the intake's
    ``generation``); ``done`` when decided."""

    records: list[Record]
    generation: int
    done: asyncio.Future[asyncio.Future[None] | None]
