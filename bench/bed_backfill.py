"""A backfill of bed reports against the core: one city's mixed stream (bench/core.py) folded
in order, then with its stock snapshots held back to the end, as a hospital system that
sends a day of bed reports late would. Prints both times, their ratio and the decisions'
fingerprints (the same: the core is order-insensitive).

    .venv/bin/python -m bench.bed_backfill [--events 200000]

Why: a late bed snapshot re-evaluates the transfer requests after it, until the site's
next snapshot (``streams.core.transfers.beds_changed``); folded in fetch order with the
stock topic last, single batches took 30 s (BENCHMARKS.md, fifth session of 2026-12-05).
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta
from typing import Any

from bench.ceiling import Decisions
from bench.core import T0, _mixed
from streams.core import default_rulebook, initial_state, step_many
from streams.ops.runtime import collector_paused, tune_gc_for_core_state

CITY = "5101"
BATCH = 625  # a decide batch of 5 000 records over the bench's 8 cities


def fold(stream: list[Any]) -> tuple[float, str]:
    """(seconds, decisions' fingerprint) of folding ``stream`` in batches."""
    rules = default_rulebook()
    state, decisions = initial_state(CITY), Decisions()
    began = time.perf_counter()
    for start in range(0, len(stream), BATCH):
        with collector_paused():  # as the decide stage folds a batch
            state, out = step_many(state, stream[start : start + BATCH], rules)
        decisions.add(out)
    return time.perf_counter() - began, decisions.fingerprint()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    tune_gc_for_core_state()
    events = [_mixed(k, CITY, T0 + timedelta(seconds=20 * k)) for k in range(args.events)]
    backfill = [e for e in events if e.kind != "stock"] + [e for e in events if e.kind == "stock"]
    in_order, first = fold(events)
    print(f"  in order: {len(events):,} events in {in_order:.2f} s, decisions {first}")
    late, second = fold(backfill)
    print(f"stock last: {len(events):,} events in {late:.2f} s, decisions {second}")
    print(f"ratio stock last / in order: {late / in_order:.2f}")
    if first != second:
        raise SystemExit("the decisions differ: the core is not order-insensitive here")


if __name__ == "__main__":
    main()
