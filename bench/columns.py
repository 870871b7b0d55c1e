"""The landing's columns on a large heap: ``RowMapper.columnar`` (a batch read in chunks of
models, each model once) beside reading the same batch a column at a time (what it did
before), in one run, on the rows a review's last batch lands.

    .venv/bin/python -m bench.columns [--events 1000000] [--batch 100000] [--rounds 5]

First ``--events`` records of the replay bench's stream (bench/replay.py, unsigned) are
decided by a review's decide stage (:class:`streams.replay.runner.Review`, in-memory sinks)
in batches of ``--batch``, the states kept as a review keeps them, each batch's leftovers
frozen as the review session does: a heap the size a review has at that point. Then the
rows of the last batch are turned into columns both ways, alternating, ``--rounds``
times; the best round of each is printed per table (ns a row), with ``ratio chunks /
column at a time`` per table and over all the batch's rows, and the decide stage's CPU a
record for scale. No Kafka, no ClickHouse.
"""

from __future__ import annotations

import argparse
import resource
import time
from collections.abc import Sequence
from operator import attrgetter
from typing import Any

from pydantic import BaseModel

from bench.replay import _records
from sinks.columns import RowMapper
from sinks.memory import InMemorySink
from sinks.namespaces import Namespace, namespace_databases
from sinks.tables import table
from sinks.writer import Sink
from streams.config.settings import load_settings
from streams.core import default_rulebook
from streams.ops.runtime import collector_paused, tune_gc_for_core_state
from streams.replay.runner import Review
from streams.stages.batch import Record
from streams.stages.landing_plan import Write
from streams.stages.topology import TopicNames, partition_for


def column_at_a_time(mapper: RowMapper, models: Sequence[BaseModel]) -> list[list[Any]]:
    """The columns read one column at a time over the whole batch: the reference."""
    out: list[list[Any]] = []
    for column in mapper.columns:
        values = list(map(attrgetter(column.path), models))
        out.append(values if column.convert is None else list(map(column.convert, values)))
    out.append([mapper.version.of(m) for m in models])
    return out


def decided_writes(events: int, batch: int) -> tuple[list[Write], float]:
    """The writes of the last batch after deciding ``events`` records, and the decide
    stage's CPU seconds a record."""
    settings = load_settings()
    names = TopicNames(settings.topic_prefix)
    sinks: dict[Namespace, Sink] = {
        ns: InMemorySink() for ns in namespace_databases("review_bench")
    }
    review = Review(settings, "bench", default_rulebook(), sinks=sinks)
    outgoing = _records(events)
    writes: list[Write] = []
    cpu = 0.0
    for start in range(0, events, batch):
        records = [
            Record(
                f"{names.prefix}.{r.topic_stem}.v1",
                partition_for((r.key or b"").decode()),
                start + n,
                r.key,
                r.value,
            )
            for n, r in enumerate(outgoing[start : start + batch])
        ]
        began = time.process_time()
        with collector_paused(freeze=True):  # as the review session decides a batch
            writes = review.decide(records).writes
        cpu += time.process_time() - began
    return writes, cpu / events


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    tune_gc_for_core_state()  # as `tierflow replay` does
    writes, decide_s = decided_writes(args.events, args.batch)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"decided {args.events:,} records: {decide_s * 1e6:.1f} µs CPU a record, "
        f"peak RSS {rss:,.0f} MiB"
    )
    by_table: dict[str, list[BaseModel]] = {}
    for write in writes:
        by_table.setdefault(write.table, []).extend(write.rows)
    totals = [0.0, 0.0]
    for name, models in sorted(by_table.items()):
        mapper = table(name).mapper
        best = [float("inf"), float("inf")]
        for _ in range(args.rounds):
            with collector_paused():
                began = time.perf_counter()
                reference = column_at_a_time(mapper, models)
                middle = time.perf_counter()
                chunked = mapper.columnar(models)
                ended = time.perf_counter()
            if chunked != reference:
                raise SystemExit(f"{name}: the two ways give different columns")
            best = [min(best[0], middle - began), min(best[1], ended - middle)]
        totals = [totals[0] + best[0], totals[1] + best[1]]
        rows = len(models)
        print(
            f"{name:14} {rows:7,} rows: column at a time {best[0] / rows * 1e9:6,.0f} ns, "
            f"chunks {best[1] / rows * 1e9:6,.0f} ns a row; "
            f"ratio chunks / column at a time: {best[1] / best[0]:.3f}"
        )
    records = args.events - (args.events - 1) // args.batch * args.batch  # the last batch's
    print(
        f"the last batch's {records:,} records: column at a time "
        f"{totals[0] / records * 1e6:.2f} µs, chunks {totals[1] / records * 1e6:.2f} µs a "
        f"record; ratio chunks / column at a time: {totals[1] / totals[0]:.3f}"
    )


if __name__ == "__main__":
    main()
