"""The decide journal: which records each decided batch held, so that a batch decided again
(after a crash or a rebalance) is decided in exactly the same batches.

Why: the core emits each batch's outputs as a diff against what its state says was
emitted (retractions, revisions, snapshot versions), and the worker puts states in the
changelog only when it commits (encoding is O(state)). A worker that dies after a batch's
outputs went out but before the commit leaves the next one to decide those records again
from the last committed state. In other batches that redo would emit other diffs: a change
a later batch took back would stand, never retracted; a snapshot would carry a lower
version than a stale one already landed. In the same batches, from the same state, the
core emits the very same outputs (ids, revisions, versions), which the sinks keep once.

An entry: for one batch and one partition number ``p``, the offset ranges of partition
``p``'s records in it, ``[[topic, first, end], ...]`` (``end`` exclusive), as JSON, on
partition ``p`` of the journal topic. The intake writes a batch's entries, each in a
transaction of partition ``p``'s own producer (:mod:`streams.live.journal_write`: a worker
that lost ``p`` can add nothing there, so it decides nothing more there), and waits for
them to be committed before the decide agent gets the batch; it commits the journal's
offsets with the inputs'; the entries after the committed journal offset are the batches
decided since the last commit. A partition's decisions depend on that partition's
records only (state is per jurisdiction, a jurisdiction lives on one partition), so a new
owner of ``p`` redoes ``p``'s part of each batch alone and gets the same outputs.
"""

from __future__ import annotations

from collections.abc import Iterable

import orjson

from streams.stages.batch import Record

Range = tuple[str, int, int]  # (topic, first offset, end offset exclusive)


def in_order(records: Iterable[Record]) -> list[Record]:
    """A batch's records in the order they are decided, whatever order the consumer
    returned its partitions in: by topic, partition and offset (a redo reads the same
    ranges and so decides the same sequence)."""
    return sorted(records, key=lambda r: (r.topic, r.partition, r.offset))


def entries(records: Iterable[Record]) -> dict[int, bytes]:
    """The journal entry of a batch per partition number (records of one topic-partition
    are contiguous in a batch)."""
    spans: dict[int, dict[str, list[int]]] = {}
    for r in records:
        span = spans.setdefault(r.partition, {}).setdefault(r.topic, [r.offset, r.offset])
        span[0], span[1] = min(span[0], r.offset), max(span[1], r.offset)
    return {
        p: orjson.dumps(sorted([t, first, last + 1] for t, (first, last) in topics.items()))
        for p, topics in spans.items()
    }


def ranges(entry: bytes) -> list[Range]:
    """The ranges of one entry."""
    return [(topic, first, end) for topic, first, end in orjson.loads(entry)]
