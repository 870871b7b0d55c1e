"""One review run from start to end: plan the source, resume from a checkpoint, feed the
:class:`~streams.replay.runner.Review` batch by batch, checkpoint, finish.

Batches are large (``batch_records``, default :data:`BATCH_RECORDS`), because per-batch
costs (one insert per table, the core's copy-on-write of each touched state) are then paid
rarely. A Kafka review's batches are slices of its planned offset ranges
(:func:`~streams.replay.kafka_range.chunked`), and the plan is kept in the checkpoint, so a
resumed review decides the remaining batches exactly as the first run would have: the
core's outputs are diffs per batch, and a batch cut differently after a hard kill could
leave standing an output a later batch had retracted.

A batch lands in a thread of its own while the next one is decided, so that ClickHouse's
share of the work overlaps the core's; at most one batch is in flight. After every landed
batch the run notes its consistent point: the positions after the batch and the states
it left (a dict of references taken when it was decided: states are never changed in
place, so later batches cannot alter it). The point is saved as a checkpoint
(:mod:`streams.replay.checkpoint`, which encodes only the states changed since its last
save) when interrupted — Ctrl-C anywhere, even in the middle of a batch, saves the point
of the last landed batch, the one in flight waited for a few seconds — and otherwise at
most every :data:`CHECKPOINT_EVERY_S`, in a forked child while the review goes on,
spaced so that the child works at most about 1/:data:`BACKGROUND_COST_SHARE` of the time
(a save in the process, where there is no ``fork``: 1/:data:`CHECKPOINT_COST_SHARE`). A
hard kill resumes from the last save: batches after it are decided and landed again,
which the rows' deterministic ids and versions make harmless. A complete review deletes
its checkpoint. A review holds a lock file (``reviews/<NAME>.lock``) while it runs, and
so does its saving child: a second run of the same review is refused, and so is a resume
while the save a killed run left behind is still being written.

The cyclic garbage collector is off while a batch is decided, and what the batch left is
frozen (:func:`gc.freeze`) before the collector runs again: the states the batch left are
long-lived and hold no reference cycles (``tune_gc_for_core_state``), so collections that
scan them — more often the larger the batch, and longer the larger the states — are pure
cost. Reference counting frees everything acyclic as before, frozen or not. What is
frozen is never collected, so the few cycles a batch leaves as garbage stay until the
review ends: about 250 objects per batch (bench/replay.py prints the count), where
collecting once before each freeze cost 15 % of the replay's time (BENCHMARKS.md, sixth
session).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import orjson

from sinks.access import login_for
from sinks.client import connect
from sinks.reviews import ReviewRun, record_review_run
from streams.config.settings import Settings
from streams.core import CoreState, RollupState, Rulebook
from streams.ops.runtime import collector_paused
from streams.replay.checkpoint import CheckpointFile, release_run_lock, run_lock
from streams.replay.kafka_range import (
    RangeCensus,
    RangeFilter,
    chunked,
    event_time_ms,
    landed,
    plan_ranges,
    range_consumer,
    read_batches,
)
from streams.replay.runner import (
    ReplayError,
    Review,
    file_records,
    review_database,
)
from streams.stages.batch import Record, consumed
from streams.stages.topology import DECIDED, TopicNames
from topics.agencies import load_registry
from topics.registry import TICKS

Progress = Callable[[int, int], None]  # (records done in this step, total records)
BATCH_RECORDS = 100_000
CHECKPOINT_EVERY_S = 30.0
CHECKPOINT_COST_SHARE = 20  # wait at least this many times as long as the last save took
BACKGROUND_COST_SHARE = 4  # ... and as long as the last save in a forked child took
INTERRUPT_WAIT_S = 10.0  # how long Ctrl-C waits for the batch in flight to land


@dataclass(frozen=True)
class ReviewRequest:
    """What an operator asked for: a name, a rulebook, a source, optionally one
    jurisdiction (region prefix)."""

    name: str
    rulebook: Rulebook
    jurisdiction: str | None = None
    from_at: datetime | None = None
    to_at: datetime | None = None
    from_file: Path | None = None
    # Kafka: "inputs" (the agencies' signed records, verified again) or "decided" (what the
    # live worker accepted, pseudonymised: kept after the raw inputs expire).
    source: Literal["inputs", "decided"] = "inputs"

    def identity(self, settings: Settings) -> str:
        """Same identity, same review: a checkpoint is only resumed by the same request."""
        source = (
            hashlib.sha256(self.from_file.read_bytes()).hexdigest()
            if self.from_file
            else f"{self.from_at}..{self.to_at}"
            + ("" if self.source == "inputs" else f" of {self.source}")
        )
        blob = orjson.dumps(
            [
                self.name,
                source,
                self.jurisdiction,
                settings.topic_prefix,
                self.rulebook.model_dump(mode="json"),
            ]
        )
        return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class ReviewSummary:
    """A finished review; ``census``: what reading its range saw, over all its runs
    (None: a file review)."""

    database: str
    records: int
    seconds: float
    resumed: bool
    census: RangeCensus | None = None

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


class _Run:
    """A review in progress: the Review, its checkpoint file, and the last consistent point
    (positions and states after the last fully landed batch)."""

    def __init__(self, settings: Settings, request: ReviewRequest) -> None:
        self.settings = settings
        path = settings.stack_home / "reviews" / f"{request.name}.checkpoint.json"
        self._lock = run_lock(path.parent / f"{request.name}.lock", request.name)
        try:  # (a review that cannot start must not keep its name locked)
            self.file = CheckpointFile(
                path, request.identity(settings), in_child=settings.review_save_in_child
            )
            self.checkpoint = self.file.load()
            self.resumed = bool(self.checkpoint.positions)
            self.review = Review(
                settings,
                request.name,
                request.rulebook,
                jurisdiction=request.jurisdiction,
                states=self.checkpoint.states,
                rollups=self.checkpoint.rollups,
                # Records from Kafka are verified again, with the registry's keys (a revoked
                # key still covers what was in the log before its revocation): decided as live.
                keys=(
                    None
                    if request.from_file or request.source == "decided"
                    else load_registry(settings.agency_registry()).keyring()
                ),
            )
        except BaseException:
            self._lock.close()
            raise
        self.started = self.saved_at = time.monotonic()
        self.save_every = CHECKPOINT_EVERY_S
        self._background: float | None = None  # when the save being written in a child began
        # One batch lands, in this pool's one thread, while the next is decided: the
        # insert's wait (ClickHouse parsing and writing, on the other core) overlaps the
        # core's work instead of following it.
        self._lander = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-landing")
        self._landing: tuple[Future[None], _Point] | None = None

    def take(
        self, records: list[Record], positions: dict[str, int], census: RangeCensus | None = None
    ) -> None:
        """Decide one batch and start landing it, once the batch before it has landed (the
        consistent point then moves past that one: :meth:`settle`). ``census``: what the
        review has read up to the end of this batch."""
        with collector_paused(freeze=True):
            batch = self.review.decide(records)
        # Copies: a later batch must not leak into this batch's consistent point.
        point = _Point(
            positions,
            dict(self.review.states),
            dict(self.review.rollups),
            batch.events,
            None if census is None else replace(census),
        )
        self.settle()
        self._landing = (self._lander.submit(self.review.land, batch), point)

    def settle(self) -> None:
        """Wait until the batch in flight has landed (its error is raised here); the
        consistent point moves past it, and is saved when one is due."""
        if self._landing is None:
            return
        landing, point = self._landing
        self._landing = None
        landing.result()
        ckpt = self.checkpoint
        ckpt.positions = {**ckpt.positions, **point.positions}
        ckpt.states = point.states
        ckpt.rollups = point.rollups
        ckpt.events += point.events
        if point.census is not None:
            ckpt.census = point.census
        if self._save_due():
            began = time.monotonic()
            if self.file.save_in_background(self.checkpoint):
                self._background = self.saved_at = began
            else:  # no fork here, or not wanted
                self._save()

    def _save_due(self) -> bool:
        """Whether a periodic save is due: never while one is being written in the
        background, and after one, not sooner after it began than
        :data:`BACKGROUND_COST_SHARE` times as long as it took."""
        now = time.monotonic()
        if self._background is not None:
            if self.file.poll():
                return False
            share = BACKGROUND_COST_SHARE * (now - self._background)
            self.save_every = max(CHECKPOINT_EVERY_S, share)
            self._background = None
        return now - self.saved_at > self.save_every

    def _save(self) -> None:
        """Save the consistent point here (after any save in the background has ended)."""
        began = time.monotonic()
        self.file.save(self.checkpoint)
        self.saved_at = time.monotonic()
        self.save_every = max(CHECKPOINT_EVERY_S, CHECKPOINT_COST_SHARE * (self.saved_at - began))

    def interrupted(self) -> None:
        """Save the last consistent point, if there is one (a review that failed before
        planning, e.g. with Kafka down, leaves nothing behind). A batch still landing is
        waited for up to :data:`INTERRUPT_WAIT_S` (ClickHouse may be what hangs); if it
        lands after that, a resume lands it again, which its rows' ids and versions make
        harmless."""
        if self._landing is not None:
            wait([self._landing[0]], timeout=INTERRUPT_WAIT_S)
            if self._landing[0].done():
                with suppress(Exception):  # a failed landing: the point stays before it
                    self.settle()
        self._lander.shutdown(wait=False, cancel_futures=True)
        try:
            if self.checkpoint.plan or self.checkpoint.positions:
                self._save()
        finally:
            self._lock.close()

    def finish(self, run: ReviewRun, census: RangeCensus | None = None) -> ReviewSummary:
        """The review is complete: note its range in its database (``review diff`` reads
        it), drop the checkpoint. ``census``: a Kafka review's."""
        self._lander.shutdown()
        database = self.review.database
        client = connect(self.settings, database, login=login_for(database, ddl=False))
        try:
            record_review_run(client, run)
        finally:
            client.close()
        self.file.done()
        release_run_lock(self._lock)
        seconds = time.monotonic() - self.started
        return ReviewSummary(
            self.review.database, self.checkpoint.events, seconds, self.resumed, census
        )


@dataclass(frozen=True)
class _Point:
    """Where a review stands once a batch has landed: the positions after it, the states
    it left (dicts of references; states are immutable), how many events it held and
    (Kafka) what the review had read by its end."""

    positions: dict[str, int]
    states: dict[str, CoreState]
    rollups: dict[str, RollupState]
    events: int
    census: RangeCensus | None


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


async def replay_kafka(
    settings: Settings,
    request: ReviewRequest,
    progress: Progress | None = None,
    *,
    batch_records: int = BATCH_RECORDS,
) -> ReviewSummary:
    """Replay the records whose event time is in ``[from_at, to_at)`` of the input topics
    (and the ticks the live run wrote) into the review database, reading every partition
    once up to its end at planning time (:mod:`streams.replay.kafka_range`); resumes a
    checkpoint of the same request. Interrupted, it saves the checkpoint of the last landed
    batch and re-raises."""
    assert request.from_at is not None and request.to_at is not None
    run = _Run(settings, request)
    names = TopicNames(settings.topic_prefix)
    from_ms, to_ms = _ms(request.from_at), _ms(request.to_at)
    # A resumed review counts on from what its landed batches had read.
    in_range = RangeFilter(from_ms, to_ms, replace(run.checkpoint.census))
    try:
        async with range_consumer(settings) as consumer:
            # Not the re-keyed topic: the Review forwards mis-keyed records itself.
            inputs = names.inputs if request.source == "inputs" else (names.of(DECIDED),)
            sources = (*inputs, names.of(TICKS))
            # A resumed review keeps its first plan: the same ends, and the same batches.
            plan = run.checkpoint.plan or await plan_ranges(consumer, sources)
            run.checkpoint.plan = plan
            positions = run.checkpoint.positions
            batches = [b for b in chunked(plan, batch_records) if not landed(b, positions)]
            total = sum(part.size for batch in batches for part in batch)
            async for parts, batch in read_batches(consumer, batches):
                ends = {f"{p.topic}:{p.partition}": p.end for p in parts}
                run.take([consumed(r) for r in in_range.keep(batch)], ends, in_range.census)
                if progress:
                    progress(sum(part.size for part in parts), total)
            run.settle()
    except BaseException:
        run.interrupted()
        raise
    counted = run.checkpoint.census
    noted = ReviewRun(
        request.name,
        "kafka",
        request.from_at,
        request.to_at,
        run.checkpoint.events,
        counted.outside,
        counted.restamped,
        counted.undated,
    )
    return run.finish(noted, counted)


def replay_file(
    settings: Settings,
    request: ReviewRequest,
    progress: Progress | None = None,
    *,
    batch_records: int = BATCH_RECORDS,
) -> ReviewSummary:
    """Replay a JSONL file (a drill, or an export) into the review database, as if its
    lines had been published; resumes a checkpoint of the same request."""
    assert request.from_file is not None
    try:
        lines = request.from_file.read_bytes().splitlines()
    except OSError as exc:
        raise ReplayError(f"cannot read {request.from_file}: {exc.strerror}") from exc
    run = _Run(settings, request)
    records, rejected = file_records(lines, settings, str(request.from_file))
    done = run.checkpoint.positions.get("file", 0)
    try:
        if not done:
            run.review.land_rejections(rejected)
        for start in range(done, len(records), batch_records):
            batch = records[start : start + batch_records]
            run.take(batch, {"file": start + len(batch)})
            if progress:
                progress(len(batch), len(records))
        run.settle()
    except BaseException:
        run.interrupted()
        raise
    return run.finish(_file_run(request.name, records))


def _file_run(name: str, records: list[Record]) -> ReviewRun:
    """A file review's range: from its earliest to just after its latest event time."""
    times = [event_time_ms(r.value, 0)[0] for r in records] or [0]
    start = datetime.fromtimestamp(min(times) / 1000, UTC)
    end = datetime.fromtimestamp((max(times) + 1) / 1000, UTC)
    return ReviewRun(name, "file", start, end, len(records))


__all__ = ["ReviewRequest", "ReviewSummary", "replay_file", "replay_kafka", "review_database"]
