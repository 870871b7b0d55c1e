"""The batched, idempotent writer in front of a store (ClickHouse, or the in-memory twin).

Contract:

- ``write(table, rows, dedup_token)`` takes one batch of models for one table. The token
  names where the rows came from (:func:`dedup_token`: table, topic, partition, offset
  range), so a batch re-sent after a retry or a restart carries the same token and the
  store keeps it once. Each write stays one insert under its own token: merging writes
  would give a re-sent batch a token the store has never seen. Size the writes (e.g.
  ``stream.take``) so inserts are not tiny; a token already buffered is ignored.
- Writes are buffered per table and sent when a table holds ``batch_rows`` rows or its
  oldest write has waited ``max_delay_s`` (checked on ``write`` and ``flush_due``). Each
  retry re-sends exactly the same rows under the same token.
- ``flush()`` returns only when every accepted row is durable in the store. While the
  store is unavailable it retries with exponential backoff; past ``retry.budget_s`` it
  raises :class:`SinkBackpressure` with everything still buffered.
- The buffer is bounded (``max_buffered_rows``). ``write`` on a full buffer first flushes;
  if that fails it raises :class:`SinkBackpressure` *without* taking the rows.
- Nothing is ever dropped silently: a permanent store error (:class:`SinkError`) leaves
  the batch at the head of the queue and propagates; only ``discard(table, token)`` takes
  a write back (the caller owns its rows again, e.g. to isolate rows the store refused:
  :class:`SinkRejected`).

Not thread-safe: call it from one thread (the Faust shell runs it off the event loop).
"""

from __future__ import annotations

import logging
import time
from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from pydantic import BaseModel

from sinks.errors import SinkBackpressure, SinkError, SinkUnavailable
from sinks.tables import TableSpec, table

log = logging.getLogger("tierflow.sinks")

Columns = Sequence[Sequence[Any]]  # one sequence per column, in the table's column order
BatchObserver = Callable[[str, int, float], None]


def dedup_token(table: str, topic: str, partition: int, first_offset: int, last_offset: int) -> str:
    """The insert_deduplication_token of rows for ``table`` derived from the records
    ``first_offset..last_offset`` (inclusive) of ``topic``/``partition``."""
    if first_offset < 0 or last_offset < first_offset:
        raise SinkError(f"bad offset range {first_offset}..{last_offset}")
    return f"{table}:{topic}:{partition}:{first_offset}-{last_offset}"


class Store(Protocol):
    """Where batches land, column-oriented. ``insert`` is all-or-nothing and idempotent
    per token; it raises SinkUnavailable when a retry may succeed, SinkError otherwise."""

    def insert(self, spec: TableSpec, columns: Columns, token: str) -> None: ...


@dataclass(frozen=True)
class RetryPolicy:
    """Backoff while the store is unavailable: ``first_delay_s`` doubling up to
    ``max_delay_s``; ``flush`` gives up (SinkBackpressure) after ``budget_s``."""

    first_delay_s: float = 0.2
    max_delay_s: float = 5.0
    budget_s: float = 30.0

    def delay(self, attempt: int) -> float:
        """The wait before retry number ``attempt`` (0-based)."""
        return float(min(self.first_delay_s * 2**attempt, self.max_delay_s))


@dataclass(frozen=True)
class SinkPolicy:
    """When a table's buffered writes are sent (rows, age), the buffer bound, and the
    retry policy of a :class:`Sink`."""

    batch_rows: int = 20_000
    max_delay_s: float = 1.0
    max_buffered_rows: int = 200_000
    retry: RetryPolicy = field(default_factory=RetryPolicy)


@dataclass(frozen=True)
class _Batch:
    spec: TableSpec
    columns: Columns
    rows: int
    token: str
    since: float


class Sink:
    """Batched, idempotent, bounded writer over a :class:`Store` (see the module doc)."""

    def __init__(
        self,
        store: Store,
        policy: SinkPolicy | None = None,
        *,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        on_batch: BatchObserver | None = None,
    ) -> None:
        self.store = store
        self.policy = policy or SinkPolicy()
        self._clock = clock or time.monotonic
        self._sleep = sleep or time.sleep
        self._on_batch = on_batch
        self._pending: dict[str, list[_Batch]] = defaultdict(list)  # per table, not yet due
        self._queued: deque[_Batch] = deque()  # due, sent in order
        self._tokens: set[tuple[str, str]] = set()  # (table, token) pending or queued
        self._buffered = 0
        self._failures = 0  # consecutive SinkUnavailable
        self._retry_at = 0.0

    @property
    def buffered_rows(self) -> int:
        """Rows accepted but not yet durable."""
        return self._buffered

    def write(self, table_name: str, rows: Sequence[BaseModel], dedup_token: str) -> None:
        """Accept ``rows`` (models of the table's model) for ``table_name``; sends due
        batches without waiting. SinkBackpressure: the rows were NOT taken (keep them)."""
        spec = table(table_name)
        if not rows or (spec.name, dedup_token) in self._tokens:
            return
        count = len(rows)
        limit = self.policy.max_buffered_rows
        if count > limit:
            raise SinkError(f"a write of {count} rows exceeds the buffer of {limit}")
        columns = spec.columns(rows)
        if self._buffered + count > limit:
            self.flush()
        self._pending[spec.name].append(_Batch(spec, columns, count, dedup_token, self._clock()))
        self._tokens.add((spec.name, dedup_token))
        self._buffered += count
        self.flush_due()

    def discard(self, table_name: str, dedup_token: str) -> None:
        """Take back the buffered write of ``table_name`` under ``dedup_token`` (no-op when
        there is none): after the store refused it, so that it is not sent again."""
        name = table(table_name).name
        if (name, dedup_token) not in self._tokens:
            return

        def mine(batch: _Batch) -> bool:
            return batch.spec.name == name and batch.token == dedup_token

        pending = self._pending.pop(name, [])
        gone = [b for b in (*self._queued, *pending) if mine(b)]
        self._queued = deque(b for b in self._queued if not mine(b))
        rest = [b for b in pending if not mine(b)]
        if rest:
            self._pending[name] = rest
        self._tokens.discard((name, dedup_token))
        self._buffered -= sum(b.rows for b in gone)

    def flush_due(self) -> None:
        """Send the tables' writes that are due (size or age) unless the store is in
        backoff; never waits. A timer should call this so a quiet table still lands."""
        now = self._clock()
        for name, batches in list(self._pending.items()):
            size = sum(b.rows for b in batches)
            if size >= self.policy.batch_rows or now - batches[0].since >= self.policy.max_delay_s:
                self._queued.extend(self._pending.pop(name))
        if self._queued and now >= self._retry_at:
            try:
                self._send_queued()
            except SinkUnavailable as exc:
                self._retry_at = now + self.policy.retry.delay(self._failures - 1)
                log.warning("ClickHouse unavailable, %d rows buffered: %s", self._buffered, exc)

    def flush(self) -> None:
        """Return when every accepted row is durable. Retries with backoff while the store
        is unavailable; SinkBackpressure past the retry budget (rows stay buffered)."""
        for name in list(self._pending):
            self._queued.extend(self._pending.pop(name))
        retry = self.policy.retry
        deadline = self._clock() + retry.budget_s
        while self._queued:
            try:
                self._send_queued()
            except SinkUnavailable as exc:
                wait = retry.delay(self._failures - 1)
                if self._clock() + wait > deadline:
                    self._retry_at = self._clock() + wait
                    raise SinkBackpressure(
                        f"store unavailable for {retry.budget_s:g}s, "
                        f"{self._buffered} rows buffered: {exc}"
                    ) from exc
                log.warning("ClickHouse unavailable, retrying in %.2fs: %s", wait, exc)
                self._sleep(wait)
        self._retry_at = 0.0

    def _send_queued(self) -> None:
        while self._queued:
            batch = self._queued[0]
            started = self._clock()
            try:
                self.store.insert(batch.spec, batch.columns, batch.token)
            except SinkUnavailable:
                self._failures += 1
                raise
            self._failures = 0
            self._queued.popleft()
            self._tokens.discard((batch.spec.name, batch.token))
            self._buffered -= batch.rows
            if self._on_batch is not None:
                self._on_batch(batch.spec.name, batch.rows, self._clock() - started)
