"""A review in progress: batches decided and landed, consistent points, checkpoints.

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


With ``review_workers`` above 1 the batches are decided by forked worker processes, one
per core (:mod:`streams.replay.workers`); the run is the same, but the states live in the
workers, each worker lands its own rows, and a save (always made in the review's process)
writes the states the workers encoded, each on its own core.
"""

from __future__ import annotations

import hashlib
import logging
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from contextlib import suppress
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Literal

import orjson

from sinks.access import login_for
from sinks.client import connect
from sinks.namespaces import namespace_sinks
from sinks.reviews import ReviewRun, record_review_run
from streams.config.settings import Settings
from streams.core import CoreState, RollupState, Rulebook
from streams.ops.runtime import collector_paused
from streams.replay.checkpoint import CheckpointFile, release_run_lock, run_lock
from streams.replay.kafka_range import RangeCensus
from streams.replay.runner import REVIEW_SINK_POLICY, ReplayError, Review, review_database
from streams.replay.workers import ReviewPool, worker_count, worker_of
from streams.stages.batch import Record
from topics.agencies import load_registry
from topics.signing import KeyRing

log = logging.getLogger("tierflow.replay")

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
    workers: int = 1  # processes that decided it (1: the review's own)

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


class RunningReview:
    """A review in progress: the Review (or its pool of workers), its checkpoint file, and
    the last consistent point (positions and states after the last fully landed batch)."""

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
            # Records from Kafka are verified again, with the registry's keys (a revoked
            # key still covers what was in the log before its revocation): decided as live.
            keys = (
                None
                if request.from_file or request.source == "decided"
                else load_registry(settings.agency_registry()).keyring()
            )
            count = worker_count(settings.review_workers)
            self.review = Review(
                settings,
                request.name,
                request.rulebook,
                jurisdiction=request.jurisdiction,
                states=self.checkpoint.states if count == 1 else None,
                rollups=self.checkpoint.rollups,
                keys=keys,
            )
            self.pool: ReviewPool | None = None
            if count > 1:
                seed = _WorkerSeed(
                    settings, request, keys, self.checkpoint.states, self.review.started, count
                )
                self.pool = ReviewPool(self.review, count, seed.review)
                # The workers' now (theirs copy-on-write): this process lets go of them.
                self.checkpoint.states.clear()
                self.file.forget_states()
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
        self._landing: tuple[Future[None], LandedPoint] | None = None
        self._settled = -1  # the batch of the consistent point (-1: as loaded)

    def batch_records(self, wanted: int) -> int:
        """The records a batch holds: as the run this one resumes cut them, else
        ``wanted`` (kept in the checkpoint from now on)."""
        ckpt = self.checkpoint
        ckpt.batch_records = ckpt.batch_records or wanted
        return ckpt.batch_records

    def take(
        self, records: list[Record], positions: dict[str, int], census: RangeCensus | None = None
    ) -> None:
        """Decide one batch and start landing it, once the batch before it has landed (the
        consistent point then moves past that one: :meth:`settle`). ``census``: what the
        review has read up to the end of this batch."""
        decider = self.pool or self.review
        with collector_paused(freeze=True):
            batch = decider.decide(records)
        # Copies: a later batch must not leak into this batch's consistent point.
        point = LandedPoint(
            positions,
            None if self.pool else dict(self.review.states),
            dict(self.review.rollups),
            batch.events,
            None if census is None else replace(census),
            self.pool.batch if self.pool else -1,
        )
        self.settle()
        self._landing = (self._lander.submit(decider.land, batch), point)

    def settle(self, timeout: float | None = None) -> None:
        """Wait until the batch in flight has landed (its error is raised here; workers
        that have not landed theirs within ``timeout`` seconds raise ReplayError); the
        consistent point moves past it, and is saved when one is due."""
        if self._landing is None:
            return
        landing, point = self._landing
        self._landing = None
        landing.result()
        if self.pool is not None:
            self.pool.flush(point.batch, timeout)
        ckpt = self.checkpoint
        ckpt.positions = {**ckpt.positions, **point.positions}
        if point.states is not None:
            ckpt.states = point.states
        ckpt.rollups = point.rollups
        ckpt.events += point.events
        if point.census is not None:
            ckpt.census = point.census
        self._settled = point.batch
        if self._save_due():
            began = time.monotonic()
            if self.pool is None and self.file.save_in_background(self.checkpoint):
                self._background = self.saved_at = began
            else:  # no fork here, not wanted, or states the workers encode
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
        if self.pool is None:
            self.file.save(self.checkpoint)
        else:
            self.file.save_encoded(self.checkpoint, self.pool.encoded(self._settled))
        self.saved_at = time.monotonic()
        self.save_every = max(CHECKPOINT_EVERY_S, CHECKPOINT_COST_SHARE * (self.saved_at - began))

    def interrupted(self) -> None:
        """Save the last consistent point, if there is one (a review that failed before
        planning, e.g. with Kafka down, leaves nothing behind). A batch still landing is
        waited for up to :data:`INTERRUPT_WAIT_S` (ClickHouse may be what hangs); if it
        lands after that, a resume lands it again, which its rows' ids and versions make
        harmless. With workers, a worker that failed or does not answer leaves the
        checkpoint at its last save."""
        if self._landing is not None:
            wait([self._landing[0]], timeout=INTERRUPT_WAIT_S)
            if self._landing[0].done():
                with suppress(Exception):  # a failed landing: the point stays before it
                    self.settle(INTERRUPT_WAIT_S)
        self._lander.shutdown(wait=False, cancel_futures=True)
        try:
            if self.checkpoint.plan or self.checkpoint.positions:
                self._save()
        except ReplayError as exc:
            if self.pool is None:
                raise
            database = self.review.database
            log.warning("the checkpoint of %s stays at its last save: %s", database, exc)
        finally:
            self._end()

    def finish(self, run: ReviewRun, census: RangeCensus | None = None) -> ReviewSummary:
        """The review is complete: note its range in its database (``review diff`` reads
        it), drop the checkpoint. ``census``: a Kafka review's."""
        self._lander.shutdown()
        if self.pool is not None:
            self.pool.close()
        database = self.review.database
        client = connect(self.settings, database, login=login_for(database, ddl=False))
        try:
            record_review_run(client, run)
        finally:
            client.close()
        self.file.done()
        release_run_lock(self._lock)
        seconds = time.monotonic() - self.started
        workers = 1 if self.pool is None else self.pool.workers
        return ReviewSummary(
            self.review.database, self.checkpoint.events, seconds, self.resumed, census, workers
        )

    def _end(self) -> None:
        """An interrupted run's end: its workers ended, its lock released."""
        try:
            if self.pool is not None:
                self.pool.close()
        finally:
            self._lock.close()


@dataclass(frozen=True)
class LandedPoint:
    """Where a review stands once a batch has landed: the positions after it, the states
    it left (dicts of references; states are immutable; None: the workers hold them), how
    many events it held, (Kafka) what the review had read by its end, and (workers) the
    batch's number."""

    positions: dict[str, int]
    states: dict[str, CoreState] | None
    rollups: dict[str, RollupState]
    events: int
    census: RangeCensus | None
    batch: int


@dataclass(frozen=True)
class _WorkerSeed:
    """What a worker's Review is built from (in its process: :meth:`review`)."""

    settings: Settings
    request: ReviewRequest
    keys: KeyRing | None
    states: dict[str, CoreState]
    started: datetime
    count: int

    def review(self, index: int) -> Review:
        """Worker ``index``'s Review: the run's ``started``, the states of its
        jurisdictions, sinks of its own (the review's process migrated the database)."""
        settings, request, count = self.settings, self.request, self.count
        return Review(
            settings,
            request.name,
            request.rulebook,
            jurisdiction=request.jurisdiction,
            states={j: s for j, s in self.states.items() if worker_of(j, count) == index},
            sinks=namespace_sinks(settings, review_database(request.name), REVIEW_SINK_POLICY),
            keys=self.keys,
            started=self.started,
        )
