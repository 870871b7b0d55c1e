"""What a commit of the decide stage's state costs as one city's outbreak grows (issue 14
item 1), at 10 000, 100 000 and 1 000 000 cases, side by side in one run:

    .venv/bin/python -m bench.state [--sizes 10000,100000,1000000] [--commits 20]
        [--series 1000,10000,100000]

For each size one city's state is folded from that many confirmed cases (four diseases),
written whole as per-key records (:mod:`streams.core.changelog`), then read back as a
worker recovering its changelog does (``recovery s``). Then ``--commits`` commits, each of
a batch of 100 new cases and 100 later events of existing cases, through the worker's
:class:`streams.stages.state_records.RecordStore`: per commit, the changelog bytes (keys and
values), the records and the seconds of the flush (encoding what changed; the send to Kafka
is the broker's and is not timed here), medians. Beside them, the format before
(``encode_state``: the whole state per commit) once per size. Prints the ratios 1M / 10k
(target: commit bytes and seconds flat within 1.3x). Then the same for one stock series
(``--series``: that many hourly snapshots of one hospital's N95 stock, a commit = one more
snapshot, the mean over a segment's worth of commits), beside the record the layout before
wrote for the series at each (the whole series, one record). Seconds are this process's CPU
seconds (the machine is shared: wall time measures the neighbours). Commits and
whole-state encodes are timed with the cyclic collector off: a collection scans the whole
heap wherever it falls (the process's cost, amortised over every allocation, not the
commit's).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from datetime import timedelta
from typing import Any

from bench.core import DISEASES, T0, _case, _envelope
from streams.core import CoreState, default_rulebook, encode_state, initial_state, step_many
from streams.core.changelog import SEGMENT_ROWS, all_records
from streams.core.compact import dumps
from streams.core.persist import _series_out
from streams.ops.runtime import tune_gc_for_core_state
from streams.stages.state_records import RecordStore
from topics.models import StockEvent

CITY = "5101"
BATCH = 100  # new cases per commit, and as many later events of existing ones
SERIES = ("H1", "ppe.n95")
# a table's column: header, figure, scale, format
Column = tuple[str, str, float, str]


def _new_case(k: int, at: Any) -> Any:
    return _case(3 * k + 1, CITY, at, DISEASES[k % 4], cls="confirmed", facility=f"H{k % 6}")


def _folded(size: int, rules: Any) -> CoreState:
    state = initial_state(CITY)
    for i in range(0, size, 10_000):
        at = T0 + timedelta(seconds=i)
        chunk = [
            _new_case(k, at + timedelta(seconds=k - i)) for k in range(i, min(size, i + 10_000))
        ]
        state, _ = step_many(state, chunk, rules)
    return state


def _timed_commit(store: RecordStore, state: CoreState, new: CoreState) -> tuple[float, int, int]:
    """CPU seconds, bytes and records of the commit of ``new`` (folded from ``state``)."""
    store.changed(CITY, state, new)
    gc.disable()  # a collection scans the whole heap: the process's cost, not the commit's
    began = time.process_time()
    store.flush()
    unsent = store.take_unsent()
    seconds = time.process_time() - began
    gc.enable()
    written = [(k, v) for part in unsent.values() for k, v in part.items()]
    return seconds, sum(len(k) + len(v or b"") for k, v in written), len(written)


def _measure(size: int, commits: int, rules: Any) -> dict[str, float]:
    state = _folded(size, rules)
    gc.disable()
    began = time.process_time()
    whole = encode_state(state)
    whole_s = time.process_time() - began
    gc.enable()
    data = {k.encode(): v for k, v in all_records(state).items() if v is not None}
    del state
    gc.collect()
    store = RecordStore(data, rules)
    began = time.process_time()
    recovered = store.get(CITY)
    recovery_s = time.process_time() - began
    assert recovered is not None
    state = recovered
    seconds, sizes, records = [], [], []
    end = T0 + timedelta(days=30)
    for c in range(commits):
        at = end + timedelta(minutes=c)
        fresh = [_new_case(size + c * BATCH + k, at) for k in range(BATCH)]
        stride = max(1, size // BATCH)
        again = [  # a later event of a case already there, spread over the whole state
            _case(
                3 * ((c + k * stride) % size) + 2,
                CITY,
                at,
                DISEASES[(c + k * stride) % 4],
                cls="confirmed",
                facility="H9",
            )
            for k in range(BATCH)
        ]
        new, _ = step_many(state, [*fresh, *again], rules)
        took, size, count = _timed_commit(store, state, new)
        state = new
        seconds.append(took)
        sizes.append(size)
        records.append(count)
    return {
        "bytes": statistics.median(sizes),
        "seconds": statistics.median(seconds),
        "records": statistics.median(records),
        "recovery": recovery_s,
        "whole_bytes": len(whole),
        "whole_seconds": whole_s,
    }


def _snapshot(k: int) -> StockEvent:
    at = T0 + timedelta(hours=k)
    return StockEvent.model_construct(
        **_envelope(f"n95-{k}", "stock", at, f"{CITY}01", site_type="hospital"),
        site_id=SERIES[0], item=SERIES[1], unit="each", on_hand=float(5000 - 7 * k % 400),
        baseline=None, received=None,
    )  # fmt: skip


def _series_commits(rows: int, rules: Any) -> dict[str, float]:
    """Commits of one snapshot each to a stock series of ``rows`` snapshots, a segment's
    worth of them (what a commit writes depends on where in its segment it lands), beside
    the record the layout before wrote for each (the whole series)."""
    state = initial_state(CITY)
    for i in range(0, rows, 10_000):
        state, _ = step_many(state, [_snapshot(k) for k in range(i, min(rows, i + 10_000))], rules)
    store = RecordStore({}, rules)
    store.changed(CITY, initial_state(CITY), state)
    store.flush()
    store.take_unsent()
    seconds, sizes, before_seconds, before_sizes = [], [], [], []
    for c in range(SEGMENT_ROWS):
        new, _ = step_many(state, [_snapshot(rows + c)], rules)
        took, size, _ = _timed_commit(store, state, new)
        state = new
        seconds.append(took)
        sizes.append(size)
        series = state.namespaces["Actual"].stock[SERIES]
        began = time.process_time()
        before_sizes.append(len(dumps(_series_out(SERIES, series))))
        before_seconds.append(time.process_time() - began)
    return {
        "bytes": statistics.mean(sizes),
        "seconds": statistics.mean(seconds),
        "before_bytes": statistics.mean(before_sizes),
        "before_seconds": statistics.mean(before_seconds),
    }


def _table(first: str, got: dict[int, dict[str, float]], columns: list[Column]) -> None:
    """One row per size of ``got``: its figures by ``columns``."""
    widths = [max(len(header), 8) for header, *_ in columns]
    print(f"{first:>10} " + " ".join(f"{c[0]:>{w}}" for c, w in zip(columns, widths, strict=True)))
    for size, m in got.items():
        cells = [format(m[key] * scale, spec) for _, key, scale, spec in columns]
        print(f"{size:>10,} " + " ".join(f"{c:>{w}}" for c, w in zip(cells, widths, strict=True)))


def _ratios(got: dict[int, dict[str, float]], figures: list[tuple[str, str]]) -> None:
    """Each figure (label, key) of the largest size against the smallest."""
    sizes = list(got)
    small, large = got[sizes[0]], got[sizes[-1]]
    for label, key in figures:
        print(f"ratio {label} {sizes[-1]:,} / {sizes[0]:,}: {large[key] / small[key]:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--series", default="1000,10000,100000")
    args = parser.parse_args()
    tune_gc_for_core_state()
    rules = default_rulebook()
    got = {int(size): _measure(int(size), args.commits, rules) for size in args.sizes.split(",")}
    print(f"one city, a commit = {BATCH} new cases + {BATCH} later events of existing ones")
    _table("cases", got, [
        ("commit bytes", "bytes", 1, ",.0f"), ("commit cpu ms", "seconds", 1e3, ".2f"),
        ("records", "records", 1, ".0f"), ("recovery cpu s", "recovery", 1, ".2f"),
        ("whole-state bytes", "whole_bytes", 1, ",.0f"),
        ("whole-state cpu ms", "whole_seconds", 1e3, ".0f"),
    ])  # fmt: skip
    _ratios(got, [
        ("commit bytes", "bytes"), ("commit seconds", "seconds"),
        ("whole-state bytes (format before)", "whole_bytes"),
    ])  # fmt: skip
    series = {int(n): _series_commits(int(n), rules) for n in args.series.split(",")}
    print(f"one stock series, a commit = one more snapshot (mean of {SEGMENT_ROWS} commits)")
    _table("snapshots", series, [
        ("commit bytes", "bytes", 1, ",.0f"), ("commit cpu ms", "seconds", 1e3, ".2f"),
        ("series record before", "before_bytes", 1, ",.0f"),
        ("its cpu ms", "before_seconds", 1e3, ".2f"),
    ])  # fmt: skip
    _ratios(series, [("series commit bytes", "bytes"), ("series commit seconds", "seconds")])


if __name__ == "__main__":
    main()
