"""What a stock snapshot costs the core as a city's sites grow (issue 14: cost that stays
flat), side by side in one run:

    .venv/bin/python -m bench.sites [--sites 10,100,1000,3000] [--days 6]

For each count, one city's ``--sites`` depots report gowns and N95 respirators (both in
the default rulebook's stockpile catalogue) and 20 hospitals their isolation beds, once a
day at 08:00, for ``--days`` days: the history is folded first, then the next day's
reports are timed, folded in batches of 500 as the decide stage does. Prints the CPU
microseconds per snapshot of that last day at each count and the ratio largest / smallest
(target: flat within 1.3x). CPU seconds of this process, cyclic collector off while timed.
"""

from __future__ import annotations

import argparse
import gc
import time
from datetime import datetime, timedelta, timezone
from typing import Any

from streams.core import default_rulebook, initial_state, step_many
from streams.ops.runtime import tune_gc_for_core_state
from tests.folding import snapshot

T0 = datetime(2026, 3, 2, 8, tzinfo=timezone(timedelta(hours=8)))
HOSPITALS = 20
BATCH = 500


def day_of(sites: int, day: int) -> list[Any]:
    """Every report of ``day``: the depots' gowns and respirators, the hospitals' beds."""
    at = T0 + timedelta(days=day)
    out = [snapshot(at, f"H{h:03d}", "bed.isolation", 10.0, 40.0) for h in range(HOSPITALS)]
    for s in range(sites):
        left = 1000.0 - 30 * day - (s % 7)
        out += [
            snapshot(at, f"D{s:05d}", "ppe.gown", left),
            snapshot(at, f"D{s:05d}", "ppe.n95", left / 2),
        ]
    return out


def per_snapshot_us(sites: int, days: int) -> float:
    """CPU microseconds per snapshot of the last day, the days before folded first."""
    rules = default_rulebook()
    state = initial_state("5101")
    for day in range(days):
        state, _ = step_many(state, day_of(sites, day), rules)
    last = day_of(sites, days)
    gc.collect()
    gc.disable()
    try:
        began = time.process_time()
        for lo in range(0, len(last), BATCH):
            state, _ = step_many(state, last[lo : lo + BATCH], rules)
        spent = time.process_time() - began
    finally:
        gc.enable()
    return spent / len(last) * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sites", default="10,100,1000,3000")
    parser.add_argument("--days", type=int, default=6)
    args = parser.parse_args()
    tune_gc_for_core_state()
    counts = [int(s) for s in args.sites.split(",")]
    costs = {}
    for sites in counts:
        costs[sites] = per_snapshot_us(sites, args.days)
        print(f"{sites:>6} sites: {costs[sites]:8.1f} µs CPU per snapshot", flush=True)
    print(
        f"ratio {counts[-1]} / {counts[0]} sites: {costs[counts[-1]] / costs[counts[0]]:.2f}"
        "  (target <= 1.3)"
    )


if __name__ == "__main__":
    main()
