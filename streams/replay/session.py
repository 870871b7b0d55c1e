"""One review run from start to end: plan the source, resume from a checkpoint, feed the
:class:`~streams.replay.runner.Review` batch by batch, checkpoint, finish.

Batches are large (``batch_records``, default :data:`BATCH_RECORDS`), because per-batch
costs (one insert per table, the core's copy-on-write of each touched state) are then paid
rarely. A Kafka review's batches are slices of its planned offset ranges
(:func:`~streams.replay.kafka_range.chunked`), and the plan is kept in the checkpoint, so a
resumed review decides the remaining batches exactly as the first run would have (their
size is kept too, whatever ``batch_records`` the resuming call asks for): the core's
outputs are diffs per batch, and a batch cut differently after a hard kill could leave
standing an output a later batch had retracted, or an incident's snapshot of a batch
landed after the last save (its version counts the snapshots: fewer, larger batches count
fewer).

The run itself (batches landing while the next is decided, checkpoints, Ctrl-C, review
workers) is :mod:`streams.replay.review_run`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime

from sinks.reviews import ReviewRun
from streams.config.settings import Settings
from streams.replay.kafka_range import (
    RangeFilter,
    chunked,
    event_time_ms,
    landed,
    plan_ranges,
    range_consumer,
    read_batches,
)
from streams.replay.review_run import ReviewRequest, ReviewSummary, RunningReview
from streams.replay.runner import ReplayError, file_records, review_database
from streams.stages.batch import Record, consumed
from streams.stages.topology import DECIDED, TopicNames
from topics.registry import TICKS

Progress = Callable[[int, int], None]  # (records done in this step, total records)
BATCH_RECORDS = 100_000


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
    run = RunningReview(settings, request)
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
            cut = chunked(plan, run.batch_records(batch_records))
            batches = [b for b in cut if not landed(b, positions)]
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
    run = RunningReview(settings, request)
    records, rejected = file_records(lines, settings, str(request.from_file))
    done = run.checkpoint.positions.get("file", 0)
    batch_records = run.batch_records(batch_records)
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
