"""A review decided by worker processes, one per core: the coordinator's end and the
workers' loop.

A review in one process is bound by that process under the GIL while the machine's other
cores idle (BENCHMARKS.md, twentieth session: the second of two cores at a few per cent).
So a review may split its deciding as the live worker splits its partitions: worker ``i``
of ``n`` decides the records of partitions ``p`` with ``p % n == i`` of every source topic
— the jurisdictions whose state lives on those partitions, ticks included — and lands its
own rows. The coordinator (the review's process) reads, filters and cuts each batch, hands
each worker its share, and runs the roll-up stages over every worker's roll-up feed (an
area spans jurisdictions of several workers). A batch takes two passes, as the single
process does (:meth:`Review.decide`): the records, then the forwards they caused (records
keyed by something other than their jurisdiction), each to the worker of its
jurisdiction's partition, as the live worker reads them back from the re-keyed topic.

A worker decides a jurisdiction's records in the order the single process does, so its
states are the same. The roll-up stages get the same items, in another order across
jurisdictions: what stands is the same, as in the live worker, whose roll-up agent reads
the feed of several deciding processes (tests/integration/test_replay_workers.py).

Workers are forked when the review starts: the states a checkpoint seeded are theirs
copy-on-write, and nothing is sent but records, forwards and feed items. A worker ignores
Ctrl-C (the coordinator handles it) and ends when the coordinator's end of its pipe
closes. It lands batch ``b`` in a thread while it decides ``b + 1``, and answers ``b + 1``'s
second pass only once ``b`` has landed: that answer is the coordinator's word that ``b``
is durable there (:meth:`ReviewPool.flush` asks for the last batch). For a checkpoint it
encodes, of its states after a landed batch, those changed since it last did, on its own
core; the coordinator writes them (:meth:`CheckpointFile.save_encoded`).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from streams.core import CoreState, FeedItem, encode_state
from streams.ops.runtime import collector_paused
from streams.replay.runner import DecidedBatch, Decisions, ReplayError, Review
from streams.stages.batch import Record
from streams.stages.topology import PARTITIONS, partition_for
from topics.outputs import Tick


def worker_count(wanted: int | None) -> int:
    """How many workers a review asked for ``wanted`` gets (None: one per core, at most
    one per partition: a worker beyond them would hold nothing); 1, decided in the
    review's process, where there is no ``fork``."""
    if not hasattr(os, "fork"):
        return 1
    return wanted or min(os.cpu_count() or 1, PARTITIONS)


def worker_of(jurisdiction: str, count: int) -> int:
    """The worker that holds ``jurisdiction``'s state: the one of its partition."""
    return partition_for(jurisdiction) % count


@dataclass(frozen=True)
class _First:
    """Decide ``records`` (a batch's share): answered with a :class:`_Passed`."""

    records: list[Record]


@dataclass(frozen=True)
class _Second:
    """Decide the forwards of batch ``batch`` that are this worker's, then land the
    batch's rows under ``token`` once the batch before has landed: a :class:`_Passed`."""

    batch: int
    forwards: list[Record]
    token: str


@dataclass(frozen=True)
class _Passed:
    """A pass's forwards (first pass) and roll-up feed items."""

    forwards: list[Record]
    feed: list[FeedItem]


@dataclass(frozen=True)
class _Flush:
    """Wait until every batch has landed: answered with ``None``."""


@dataclass(frozen=True)
class _Encode:
    """The states after batch ``batch``, those changed since the last :class:`_Encode`
    encoded, the others ``None``: answered with a dict by jurisdiction."""

    batch: int


@dataclass(frozen=True)
class _Failed:
    """A worker's error (its traceback). It goes on answering (:func:`_serve`), unless it
    could not start."""

    error: str


_Request = _First | _Second | _Flush | _Encode


class ReviewPool:
    """The coordinator of a review decided by ``count`` forked workers. It decides and lands
    as :class:`Review` does (its own rows are the roll-up's); ``make_worker(i)`` builds,
    in worker ``i``'s process, that worker's :class:`Review`: the same run (``started``),
    the states of its jurisdictions (:func:`worker_of`), sinks of its own."""

    def __init__(self, review: Review, count: int, make_worker: Callable[[int], Review]) -> None:
        context = multiprocessing.get_context("fork")
        self.review = review
        self.batch = -1  # the last batch decided
        self._landed = -1  # every batch up to this one has landed in every worker
        self._links: list[tuple[BaseProcess, Connection]] = []
        self._waiting = [False] * count  # a request sent, its answer not read
        try:
            for index in range(count):
                ours, theirs = context.Pipe()
                # The coordinator's ends the child inherits, which it must close: while
                # any process holds one open, that worker never sees its pipe close.
                inherited = [ours, *(link[1] for link in self._links)]
                process = context.Process(
                    target=_serve,
                    args=(theirs, inherited, make_worker, index),
                    name=f"review-worker-{index}",
                    daemon=True,
                )
                process.start()
                theirs.close()
                self._links.append((process, ours))
        except BaseException:
            self.close()
            raise

    def decide(self, records: Sequence[Record]) -> DecidedBatch:
        """Decide one batch in the workers (they land their rows themselves, while the next
        batch is decided); the returned batch holds the roll-up's rows."""
        kept = self.review.wanted(records)
        token = self.review.token(records)
        batch = self.batch = self.batch + 1
        firsts = self._ask([_First(share) for share in self._shares(kept)])
        forwards = self._shares([r for passed in firsts for r in passed.forwards])
        seconds = self._ask(
            [_Second(batch, share, f"{token}:{i}") for i, share in enumerate(forwards)]
        )
        self._landed = batch - 1
        decisions = Decisions(feed=_feed(firsts, seconds))
        self.review.roll_up(decisions)
        return DecidedBatch(self.review.rows(decisions.by_topic, token), token, len(kept))

    @property
    def workers(self) -> int:
        return len(self._links)

    def land(self, batch: DecidedBatch) -> None:
        """Land the roll-up's rows of a decided batch (the workers land theirs)."""
        self.review.land(batch)

    def flush(self, batch: int, timeout: float | None = None) -> None:
        """Return once every worker has landed every batch up to ``batch``; ReplayError
        when one has failed or has not within ``timeout`` seconds."""
        if self._landed < batch:
            self._ask([_Flush()] * len(self._links), timeout)
            self._landed = self.batch

    def encoded(self, batch: int) -> dict[str, bytes | None]:
        """Every worker's states after ``batch`` (a landed batch), encoded where they
        changed since the last call, ``None`` where not."""
        requests = [_Encode(batch)] * len(self._links)
        return {j: blob for answer in self._ask(requests) for j, blob in answer.items()}

    def close(self) -> None:
        """End the workers (their pipes close: each ends after what it is doing)."""
        for process, connection in self._links:
            connection.close()
            process.join(timeout=5)
            if process.is_alive():
                process.kill()
                process.join()

    def _shares(self, records: Sequence[Record]) -> list[list[Record]]:
        shares: list[list[Record]] = [[] for _ in self._links]
        count = len(shares)
        for record in records:
            shares[record.partition % count].append(record)
        return shares

    def _ask(self, requests: Sequence[_Request], timeout: float | None = None) -> list[Any]:
        """Send each worker its request, then read every answer; a worker's failure is
        raised once all have answered. An answer left unread (Ctrl-C while waiting) is
        read and dropped before the next request."""
        for index, (_, connection) in enumerate(self._links):
            if self._waiting[index]:
                self._receive(index, timeout)
            try:
                connection.send(requests[index])
            except OSError:  # its end is closed: it has died
                raise self._ended(index) from None
            self._waiting[index] = True
        answers = [self._receive(index, timeout) for index in range(len(self._links))]
        for index, answer in enumerate(answers):
            if isinstance(answer, _Failed):
                raise ReplayError(f"review worker {index} failed:\n{answer.error}")
        return answers

    def _receive(self, index: int, timeout: float | None) -> object:
        connection = self._links[index][1]
        try:
            if timeout is not None and not connection.poll(timeout):
                raise ReplayError(f"review worker {index} did not answer in {timeout:.0f} s")
            answer = connection.recv()
        except (EOFError, OSError):
            raise self._ended(index) from None
        self._waiting[index] = False
        return answer

    def _ended(self, index: int) -> ReplayError:
        process = self._links[index][0]
        process.join(timeout=1)
        code = process.exitcode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit code {code}"
        return ReplayError(f"review worker {index} ended ({how})")


def _feed(firsts: Sequence[_Passed], seconds: Sequence[_Passed]) -> list[FeedItem]:
    """The roll-up feed of a batch decided by workers, in the single process's order: the
    first pass's items, then one tick, the newest of the workers' (the single process
    puts the batch's newest tick after all the items its records caused: the roll-up
    folds item by item, and a tick ahead of a city's snapshots judges the area without
    them), then the second pass's items."""
    items = [item for passed in firsts for item in passed.feed]
    ticks = [item for item in items if isinstance(item, Tick)]
    feed: list[FeedItem] = [item for item in items if not isinstance(item, Tick)]
    if ticks:
        feed.append(max(ticks, key=lambda tick: tick.tick_at))
    return feed + [item for passed in seconds for item in passed.feed]


class _Worker:
    """One worker's review: its states, the batch it is landing, and what it last encoded
    for a checkpoint."""

    def __init__(self, review: Review) -> None:
        self.review = review
        self.decisions = Decisions()
        # batch -> the states it left (-1: as seeded), from the last landed one on
        self.after: dict[int, dict[str, CoreState]] = {-1: dict(review.states)}
        self.encoded = dict(review.states)  # what the checkpoint holds: as seeded
        self.lander = ThreadPoolExecutor(max_workers=1, thread_name_prefix="review-landing")
        self.landing: Future[None] | None = None

    def handle(self, request: _Request) -> object:
        if isinstance(request, _First):
            with collector_paused(freeze=True):
                self.decisions = self.review.decide_records(request.records)
            forwards, self.decisions.forwards = self.decisions.forwards, []
            return self._feed(forwards)
        if isinstance(request, _Second):
            return self._second(request)
        if isinstance(request, _Flush):
            self._landed()
            return None
        states, saved = self.after[request.batch], self.encoded
        self.encoded = dict(states)
        return {j: None if saved.get(j) is s else encode_state(s) for j, s in states.items()}

    def _second(self, request: _Second) -> _Passed:
        with collector_paused(freeze=True):
            decisions = self.review.decide_records(request.forwards, self.decisions)
            writes = self.review.rows(decisions.by_topic, request.token)
        self.decisions = Decisions()
        self.after[request.batch] = dict(self.review.states)
        self._landed()
        # The batch before has landed: the coordinator's point may move to it, never back.
        self.after = {b: s for b, s in self.after.items() if b >= request.batch - 1}
        batch = DecidedBatch(writes, request.token, 0)
        self.landing = self.lander.submit(self.review.land, batch)
        return self._feed([], decisions)

    def _feed(self, forwards: list[Record], decisions: Decisions | None = None) -> _Passed:
        decisions = decisions or self.decisions
        feed, decisions.feed = decisions.feed, []
        return _Passed(forwards, feed)

    def _landed(self) -> None:
        """Wait for the batch landing, if any: its error is raised here, and again on
        every later call (no batch after a failed one ever counts as landed)."""
        if self.landing is not None:
            self.landing.result()
            self.landing = None


def _serve(
    connection: Connection,
    inherited: list[Connection],
    make_worker: Callable[[int], Review],
    index: int,
) -> None:
    """A worker's whole life: answer the coordinator's requests until its pipe closes. An
    error is sent as :class:`_Failed`; the worker then goes on answering, so that the
    coordinator can still save the point before it (a failed landing keeps failing)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for other in inherited:
        other.close()
    # Streams of its own on the same descriptors: another thread of the review's process
    # (the progress bar's) may have held the lock of sys.stderr's buffer at the fork, and
    # a child would then hang on its first warning.
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115 (for its life)
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115 (for its life)
    try:
        worker = _Worker(make_worker(index))
    except BaseException:
        with suppress(OSError):  # the coordinator may be gone
            connection.send(_Failed(traceback.format_exc()))
        return
    while True:
        try:
            request = connection.recv()
        except EOFError:
            return
        try:
            answer = worker.handle(request)
        except Exception:
            answer = _Failed(traceback.format_exc())
        connection.send(answer)
