"""The landing stage: output topics (and the decided log's cases and transfers) into
ClickHouse.

It is a plain aiokafka consumer group (``<prefix>.landing``) run inside the worker beside
the Faust decide stage, so that a ClickHouse outage stalls only landing (Kafka keeps the
backlog) and so that records are handled a batch at a time without Faust's per-record
stream overhead. Per ``getmany`` batch:

1. every record becomes a model (an output topic's model; the decided log's cases and
   transfers as the decide stage accepted them, verified and pseudonymised: a record it
   refused is in the DLQ and nowhere else; its incident and stock events land as the
   decisions they caused);
2. models go to the sink of their namespace — ``Actual`` to the live database,
   ``Exercise``/``Test`` to ``<database>_exercise`` — one write per (table, partition)
   with ``dedup_token(table, topic, partition, first offset, last offset)``;
3. both sinks are flushed (durable on return) and only then are the offsets committed.

A batch lands in a thread while the next one is gathered and planned (at most one in
flight, so memory stays at two batches), and batches are committed in the order they were
gathered: ClickHouse's share of the work then overlaps the decoding, which matters when
the landing lags (a backlog, or two decide workers feeding one landing).

A row ClickHouse refuses for what it holds (:class:`~sinks.errors.SinkRejected`: a value
out of its column's range or type, personal data, columns that do not match the table) is
a poison record: its write is halved until the refused rows are alone (each part under a
token derived from the write's), every other row lands, and each refused record goes to
the DLQ (``stage = landing``, the reason) before the offsets move past it, so one bad row
never stalls a partition. (A refused record of the DLQ topic itself cannot be dead-
lettered again: it is logged and counted and stays in the topic.)

When ClickHouse is unavailable instead (SinkBackpressure after the sink's own retry budget,
or another SinkError such as a missing table, which ``tierflow db migrate`` heals), every
assigned partition is paused and the batch is retried with exponential backoff while
``getmany`` keeps the group membership alive; memory stays at the two batches held. Rows
re-sent after a crash carry deterministic ids and versions (ReplacingMergeTree), so
landing twice is harmless.

The routing (which topic lands in which table, which models a table takes, which
namespace a row belongs to) is shared with the replay shell
(:class:`streams.stages.landing_plan.LandingPlan`, whose :meth:`~LandingPlan.plan` turns
each batch into writes).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import CommitFailedError, KafkaError

from sinks.errors import SinkError
from sinks.namespaces import Namespace
from sinks.writer import Sink
from streams.live import metrics
from streams.ops.runtime import collector_paused
from streams.stages.landing_plan import Batch, LandingPlan, Origin, Write
from streams.stages.landing_refusals import Refused, land_isolating
from topics.codec import encode
from topics.registry import DLQ

log = logging.getLogger("tierflow.live.landing")

# Longest wait between two landing attempts while ClickHouse refuses: one attempt costs a
# refused connection, and a short cap lands the backlog soon after ClickHouse is back.
MAX_HOLD_S = 5.0


class Landing(LandingPlan):
    """Consumes ``topics`` of ``prefix`` and lands them through one sink per namespace."""

    def __init__(
        self,
        *,
        kafka: Mapping[str, Any],
        prefix: str,
        sinks: dict[Namespace, Sink],
        pseudonym_key: bytes,
        batch_records: int = 20_000,
        poll_ms: int = 200,
        linger_s: float = 0.0,
        tracker: metrics.CommitTracker | None = None,
        instance_id: str | None = None,
    ) -> None:
        super().__init__(prefix=prefix)
        self.kafka = kafka  # aiokafka client options (streams.config.kafka_security)
        self.instance_id = instance_id  # static group membership (settings.worker_instance_id)
        self.group = f"{prefix}.landing"
        self.sinks = sinks
        self.batch_records = batch_records
        self.poll_ms = poll_ms
        self.linger_s = linger_s  # settings.worker_landing_linger_s
        self.tracker = tracker or metrics.CommitTracker(self.group)
        self.dlq_topic = DLQ.name(prefix)
        self._pseudonym_key = pseudonym_key
        self._committed: dict[TopicPartition, int | None] = {}
        self._lag_at = 0.0

    def _undecodable(self, record: Origin, reason: str) -> None:
        # Our own topics: a record that does not decode means a foreign writer.
        log.error(
            "skipping undecodable %s[%d]@%d: %s",
            record.topic,
            record.partition,
            record.offset,
            reason,
        )
        metrics.RECORDS_REJECTED.labels(record.topic, "undecodable output").inc()

    def land(self, writes: Sequence[Write]) -> list[Refused]:
        """:func:`~streams.stages.landing_refusals.land_isolating` over this stage's sinks."""
        return land_isolating(self.sinks, writes)

    # --- the consumer loop ---------------------------------------------------------------

    async def run(self, topics: Sequence[str]) -> None:
        """Consume and land until cancelled."""
        consumer = AIOKafkaConsumer(
            *topics,
            **self.kafka,
            group_id=self.group,
            group_instance_id=self.instance_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=4 << 20,
        )
        producer = AIOKafkaProducer(**self.kafka, acks="all")
        await consumer.start()
        in_flight: _InFlight | None = None
        try:
            await producer.start()
            while True:
                # The cyclic collector is paused over a batch (an outage's retries too;
                # they allocate little): a gathered second of records and the rows made
                # of them live through it, and young collections inside re-scanned and
                # promoted them over and over, a fifth of this process's CPU at 5 M bench
                # events (BENCHMARKS.md, eighteenth session). What the landed batch held
                # is freed as it returns, so the young collection after it scans little
                # more than the batch in flight. Older generations keep CPython's own
                # schedule, run as the pause ends after a batch that allocated past its
                # threshold. In a one-process worker the decide stage's reading between
                # its batches runs inside this pause too.
                with collector_paused():
                    in_flight = await self._land_next(consumer, producer, in_flight)
                gc.collect(0)
                await self._refresh_lag(consumer)
        finally:
            if in_flight is not None:  # not committed: the partitions' next owner lands it
                in_flight.attempt.cancel()
            await producer.stop()
            await consumer.stop()

    async def _land_next(
        self, consumer: AIOKafkaConsumer, producer: AIOKafkaProducer, in_flight: _InFlight | None
    ) -> _InFlight | None:
        """Gather and plan a batch while ``in_flight`` (the batch before) lands in a
        thread; then see that one durable, dead-letter what ClickHouse refused of it and
        commit its offsets, and start the new one landing. Returns the batch now landing.
        Batches are committed in the order they were gathered, each only once durable;
        what the landed batch held is unreferenced on return."""
        batch = await self._gather(consumer)
        writes = self.plan(batch) if batch else []
        if in_flight is not None:
            refused = await self._land_until_durable(consumer, in_flight.writes, in_flight.attempt)
            await self._dead_letter(producer, refused)
            await self._commit(consumer, in_flight.batch)
        if not batch:
            return None
        return _InFlight(batch, writes, self._start_landing(writes))

    def _start_landing(self, writes: list[Write]) -> asyncio.Future[list[Refused]]:
        """:meth:`land` ``writes`` in a thread; the future of what ClickHouse refused."""
        return asyncio.ensure_future(asyncio.to_thread(self.land, writes))

    async def _gather(self, consumer: AIOKafkaConsumer) -> Batch:
        """One ``getmany``; when it returned records, more for up to :attr:`linger_s` after
        it, while fewer than :attr:`batch_records` are held. Why: every insert makes a
        ClickHouse part, and at a steady rate a fetch holds a few hundred records, so
        landing each fetch made several small inserts a second per table, which cost
        ClickHouse more CPU than the rows (bench.e2e's latency phase: its server at
        49-58 % of a core, 21-24 % with a 1 s linger), CPU the decide stage needs. A
        topic-partition sought back meanwhile (a rebalance) starts its records anew."""
        batch: Batch = await consumer.getmany(
            timeout_ms=self.poll_ms, max_records=self.batch_records
        )
        held = sum(map(len, batch.values()))
        deadline = time.monotonic() + self.linger_s
        while 0 < held < self.batch_records and (left := deadline - time.monotonic()) > 0:
            more = await consumer.getmany(
                timeout_ms=max(int(left * 1000), 1), max_records=self.batch_records - held
            )
            for tp, records in more.items():
                if not records:
                    continue
                kept = batch.setdefault(tp, [])
                # back at or before what is held: sought back. A gap forward is no seek
                # (a transaction's marker, a compacted or aborted record): keep both.
                if kept and records[0].offset <= kept[-1].offset:
                    held -= len(kept)
                    kept.clear()
                kept.extend(records)
                held += len(records)
        return batch

    async def _dead_letter(self, producer: AIOKafkaProducer, refused: list[Refused]) -> None:
        """Send each refused record to the DLQ and wait for every acknowledgement (before
        the offsets move past it; a failed send raises and nothing is committed)."""
        sends = []
        for item in refused:
            origin = item.origin
            log.error(
                "dead-lettering %s[%d]@%d, ClickHouse refused its row: %s",
                origin.topic,
                origin.partition,
                origin.offset,
                item.reason,
            )
            metrics.RECORDS_REJECTED.labels(origin.topic, "refused by ClickHouse").inc()
            if origin.topic == self.dlq_topic:
                continue  # a rejection cannot be dead-lettered again; it stays in the topic
            rejection = item.rejection(self._pseudonym_key, datetime.now(UTC))
            sends.append(
                await producer.send(self.dlq_topic, encode(rejection), origin.topic.encode())
            )
        await asyncio.gather(*sends)

    async def _land_until_durable(
        self,
        consumer: AIOKafkaConsumer,
        writes: list[Write],
        attempt: asyncio.Future[list[Refused]],
    ) -> list[Refused]:
        """Await ``attempt`` (landing ``writes``), then land them again with backoff
        (partitions paused) while ClickHouse is unavailable; returns the records whose rows
        it refused."""
        delay = 0.5
        paused = False
        while True:
            try:
                refused = await attempt
                break
            except SinkError as exc:
                metrics.SINK_RETRIES.labels(type(exc).__name__).inc()
                log.warning("landing paused, retry in %.1fs: %s", delay, exc)
                if not paused:
                    metrics.SINK_PAUSED.set(1)
                    paused = True
                await self._hold(consumer, delay)
                delay = min(delay * 2, MAX_HOLD_S)
                attempt = self._start_landing(writes)
        if paused:
            consumer.resume(*consumer.assignment())
            metrics.SINK_PAUSED.set(0)
            log.warning("landing resumed")
        return refused

    async def _hold(self, consumer: AIOKafkaConsumer, seconds: float) -> None:
        """Wait ``seconds`` with every partition paused, polling so the group keeps us;
        anything a rebalance lets through is sought back, never held in memory."""
        consumer.pause(*consumer.assignment())
        extra = await consumer.getmany(timeout_ms=int(seconds * 1000))
        for tp, records in extra.items():
            if records:
                consumer.seek(tp, records[0].offset)
        await self._refresh_lag(consumer)

    async def _commit(self, consumer: AIOKafkaConsumer, batch: Batch) -> None:
        offsets = {tp: records[-1].offset + 1 for tp, records in batch.items() if records}
        try:
            await consumer.commit(offsets)
            self._committed.update(offsets)
        except (CommitFailedError, KafkaError) as exc:
            # Rebalanced meanwhile: the new owner lands these records again (idempotent).
            log.warning("commit after landing failed, records will be landed again: %s", exc)

    async def _refresh_lag(self, consumer: AIOKafkaConsumer) -> None:
        now = time.monotonic()
        if now - self._lag_at < metrics.LAG_REFRESH_S:
            return
        self._lag_at = now
        assigned = list(consumer.assignment())
        if not assigned:
            return
        # Asked of the broker: a paused partition fetches nothing, so the consumer's own
        # high watermark would hide the backlog an outage builds up.
        try:
            ends = await consumer.end_offsets(assigned)
        except KafkaError as exc:
            log.warning("cannot read end offsets for the lag gauges: %s", exc)
            return
        rows = []
        for tp in assigned:
            if tp not in self._committed:  # once per partition; later commits are ours
                self._committed[tp] = await consumer.committed(tp)
            rows.append(((tp.topic, tp.partition), ends.get(tp), self._committed[tp]))
        self.tracker.refresh(rows)


@dataclass(frozen=True)
class _InFlight:
    """A gathered batch, its writes, and their landing (a thread's) under way."""

    batch: Batch
    writes: list[Write]
    attempt: asyncio.Future[list[Refused]]
