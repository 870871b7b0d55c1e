"""What a commit of the decide stage's state costs as one city's outbreak grows (issue 14
item 1), at 10 000, 100 000 and 1 000 000 cases, side by side in one run:

    .venv/bin/python -m bench.state [--sizes 10000,100000,1000000] [--commits 20]

For each size one city's state is folded from that many confirmed cases (four diseases),
written whole as per-key records (:mod:`streams.core.changelog`), then read back as a
worker recovering its changelog does (``recovery s``). Then ``--commits`` commits, each of
a batch of 100 new cases and 100 later events of existing cases, through the worker's
:class:`streams.stages.state_records.RecordStore`: per commit, the changelog bytes (keys and
values), the records and the seconds of the flush (encoding what changed; the send to Kafka
is the broker's and is not timed here), medians. Beside them, the format before
(``encode_state``: the whole state per commit) once per size. Prints the ratios 1M / 10k
(target: commit bytes and seconds flat within 1.3x). Seconds are this process's CPU
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

from bench.core import DISEASES, T0, _case
from streams.core import CoreState, default_rulebook, encode_state, initial_state, step_many
from streams.core.changelog import all_records
from streams.ops.runtime import tune_gc_for_core_state
from streams.stages.state_records import RecordStore

CITY = "5101"
BATCH = 100  # new cases per commit, and as many later events of existing ones


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
        store.changed(CITY, state, new)
        state = new
        gc.disable()  # a collection scans the whole heap: the process's cost, not the commit's
        began = time.process_time()
        store.flush()
        unsent = store.take_unsent()
        seconds.append(time.process_time() - began)
        gc.enable()
        written = [(k, v) for part in unsent.values() for k, v in part.items()]
        sizes.append(sum(len(k) + len(v or b"") for k, v in written))
        records.append(len(written))
    return {
        "bytes": statistics.median(sizes),
        "seconds": statistics.median(seconds),
        "records": statistics.median(records),
        "recovery": recovery_s,
        "whole_bytes": len(whole),
        "whole_seconds": whole_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--commits", type=int, default=20)
    args = parser.parse_args()
    tune_gc_for_core_state()
    rules = default_rulebook()
    sizes = [int(s) for s in args.sizes.split(",")]
    got = {size: _measure(size, args.commits, rules) for size in sizes}
    print(f"one city, a commit = {BATCH} new cases + {BATCH} later events of existing ones")
    print(
        f"{'cases':>10} {'commit bytes':>13} {'commit cpu ms':>14} {'records':>8} "
        f"{'recovery cpu s':>15} {'whole-state bytes':>18} {'whole-state cpu ms':>19}"
    )
    for size, m in got.items():
        print(
            f"{size:>10,} {m['bytes']:>13,.0f} {m['seconds'] * 1e3:>14.2f} {m['records']:>8.0f} "
            f"{m['recovery']:>15.2f} {m['whole_bytes']:>18,} {m['whole_seconds'] * 1e3:>19.0f}"
        )
    small, large = got[sizes[0]], got[sizes[-1]]
    label = f"{sizes[-1]:,} / {sizes[0]:,}"
    print(f"ratio commit bytes {label}: {large['bytes'] / small['bytes']:.2f}")
    print(f"ratio commit seconds {label}: {large['seconds'] / small['seconds']:.2f}")
    print(
        f"ratio whole-state bytes (format before) {label}: "
        f"{large['whole_bytes'] / small['whole_bytes']:.2f}"
    )


if __name__ == "__main__":
    main()
