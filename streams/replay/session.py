"""One review run from start to end: plan the source, resume from a checkpoint, feed the
:class:`~streams.replay.runner.Review` batch by batch, checkpoint, finish."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import orjson

from streams.core import Rulebook
from streams.live.decide import Record
from streams.live.topology import TopicNames
from streams.replay.kafka_range import PartitionRange, plan_ranges, range_consumer, read_ranges
from streams.replay.runner import CheckpointFile, Review, file_records, review_database
from topics.registry import TICKS
from topics.settings import Settings

Progress = Callable[[int, int], None]  # (records done in this step, total records)
CHECKPOINT_EVERY_S = 5.0
FILE_BATCH = 20_000


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
    lateness: timedelta = timedelta(days=1)

    def identity(self, settings: Settings) -> str:
        """Same identity, same review: a checkpoint is only resumed by the same request."""
        source = (
            hashlib.sha256(self.from_file.read_bytes()).hexdigest()
            if self.from_file
            else f"{self.from_at}..{self.to_at}±{self.lateness}"
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
    database: str
    records: int
    seconds: float
    resumed: bool

    @property
    def rate(self) -> float:
        return self.records / self.seconds if self.seconds > 0 else 0.0


class _Run:
    """A review in progress: the Review, its checkpoint, and the last consistent point
    (positions and states after the last fully landed batch)."""

    def __init__(self, settings: Settings, request: ReviewRequest) -> None:
        path = settings.stack_home / "reviews" / f"{request.name}.checkpoint.json"
        self.file = CheckpointFile(path, request.identity(settings))
        self.checkpoint = self.file.load()
        self.resumed = bool(self.checkpoint.positions)
        self.review = Review(
            settings,
            request.name,
            request.rulebook,
            jurisdiction=request.jurisdiction,
            states=self.checkpoint.states,
        )
        self.started = self.saved_at = time.monotonic()

    def landed(self, records: list[Record], positions: dict[str, int]) -> None:
        """Process one batch; its rows are durable and the checkpoint may move past it."""
        events = self.review.process(records)
        ckpt = self.checkpoint
        # Copies: a batch interrupted half-way must not leak into the consistent point.
        ckpt.positions = {**ckpt.positions, **positions}
        ckpt.states = dict(self.review.store.blobs)
        ckpt.events += events
        if time.monotonic() - self.saved_at > CHECKPOINT_EVERY_S:
            self.file.save(ckpt)
            self.saved_at = time.monotonic()

    def interrupted(self) -> None:
        self.file.save(self.checkpoint)

    def finish(self) -> ReviewSummary:
        self.file.done()
        seconds = time.monotonic() - self.started
        return ReviewSummary(self.review.database, self.checkpoint.events, seconds, self.resumed)


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


async def replay_kafka(
    settings: Settings, request: ReviewRequest, progress: Progress | None = None
) -> ReviewSummary:
    """Replay ``[from_at, to_at)`` of the input topics (and the ticks the live run wrote)
    into the review database; resumes a checkpoint of the same request. Interrupted, it
    saves the checkpoint of the last landed batch and re-raises."""
    assert request.from_at is not None and request.to_at is not None
    run = _Run(settings, request)
    names = TopicNames(settings.topic_prefix)
    from_ms, to_ms = _ms(request.from_at), _ms(request.to_at)
    lateness_ms = int(request.lateness.total_seconds() * 1000)
    try:
        async with range_consumer(settings) as consumer:
            # Not the re-keyed topic: the Review forwards mis-keyed records itself.
            sources = (*names.inputs, names.of(TICKS))
            ranges = await plan_ranges(
                consumer, sources, from_ms, to_ms, lateness_ms, ticks=names.of(TICKS)
            )
            ranges = [_resume(r, run.checkpoint.positions) for r in ranges]
            total = sum(r.size for r in ranges)
            async for batch in read_ranges(consumer, ranges, from_ms, to_ms):
                records = [Record(r.topic, r.partition, r.offset, r.key, r.value) for r in batch]
                run.landed(records, {f"{r.topic}:{r.partition}": r.offset + 1 for r in batch})
                if progress:
                    progress(len(batch), total)
    except BaseException:
        run.interrupted()
        raise
    return run.finish()


def _resume(part: PartitionRange, positions: dict[str, int]) -> PartitionRange:
    done = positions.get(f"{part.topic}:{part.partition}")
    if done is None or done <= part.start:
        return part
    return PartitionRange(part.topic, part.partition, min(done, part.end), part.end)


def replay_file(
    settings: Settings, request: ReviewRequest, progress: Progress | None = None
) -> ReviewSummary:
    """Replay a JSONL file (a drill, or an export) into the review database, as if its
    lines had been published; resumes a checkpoint of the same request."""
    assert request.from_file is not None
    run = _Run(settings, request)
    lines = request.from_file.read_bytes().splitlines()
    records, rejected = file_records(lines, settings, str(request.from_file))
    done = run.checkpoint.positions.get("file", 0)
    try:
        if not done:
            run.review.land_rejections(rejected)
        for start in range(done, len(records), FILE_BATCH):
            batch = records[start : start + FILE_BATCH]
            run.landed(batch, {"file": start + len(batch)})
            if progress:
                progress(len(batch), len(records))
    except BaseException:
        run.interrupted()
        raise
    return run.finish()


__all__ = ["ReviewRequest", "ReviewSummary", "replay_file", "replay_kafka", "review_database"]
