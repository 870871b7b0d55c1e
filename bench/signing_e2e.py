"""End-to-end cost of signature verification: the same mixed records through the live
worker as deployed (signed records, every one verified) and through the same worker with
verification off (unsigned records, bench/unsigned_worker.py), alternated in one run.

    .venv/bin/python -m bench.signing_e2e [--events 100000] [--rounds 2] [--split]

Each round runs both variants on fresh topics and a fresh database, in the opposite order
to the round before, so a drift of the machine's speed falls on both. A variant's rate is
its events over first publish → every record decided and landed (bench/e2e.py's
throughput phase without its ceiling and raw read), and the CPU time the worker processes
spent per event (user + system, from /proc: steadier than wall time on a shared machine).
Prints each run, the median of each variant, ``ratio signed / unsigned`` of the rates
(1.0 = verification costs nothing end to end) and ``ratio CPU per event signed /
unsigned``.
Needs the local stack (``tierflow stack up``).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from bench.live_bench import ROOT, Workers, mixed, publish, wait_drained
from bench.namespaces import drop, fresh
from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings, load_settings
from streams.ops.runtime import tune_gc_for_core_state

_MODULE = {True: "streams.live", False: "bench.unsigned_worker"}


@dataclass(frozen=True)
class Run:
    rate: float  # events/s, first publish → everything landed
    cpu_us: float  # the worker processes' CPU time per event


def _cpu_seconds(workers: Workers) -> float:
    """User + system CPU time of the worker processes so far (/proc/PID/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for worker in workers.members:
        fields = Path(f"/proc/{worker.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / ticks


def run_once(base: Settings, events: int, signed: bool, log: Path, split: bool) -> Run:
    """One throughput run of ``events`` records."""
    settings = fresh(base, "signed" if signed else "unsigned")
    records = mixed(settings, events, signed=signed)
    workers = Workers.start(settings, log, split, _MODULE[signed])
    try:
        workers.ready()
        idle_cpu = _cpu_seconds(workers)
        first, _ = asyncio.run(publish(aiokafka_options(settings, "admin"), records))
        drained = asyncio.run(wait_drained(settings, timeout=900))
        if drained.landed is None:
            raise SystemExit(f"{'signed' if signed else 'unsigned'} run not drained in 900 s")
        cpu = _cpu_seconds(workers) - idle_cpu
        return Run(events / (drained.landed - first), cpu / events * 1e6)
    finally:
        workers.stop()
        drop(settings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument(
        "--split", action="store_true", help="decide and land in two processes (two cores)"
    )
    args = parser.parse_args()
    base = load_settings()
    log = ROOT / "var" / "bench-signing-e2e-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"worker log: {log}")
    tune_gc_for_core_state()
    runs: dict[bool, list[Run]] = {True: [], False: []}
    for round_no in range(args.rounds):
        order = (False, True) if round_no % 2 == 0 else (True, False)
        for signed in order:
            began = time.monotonic()
            run = run_once(base, args.events, signed, log, args.split)
            runs[signed].append(run)
            name = "signed, verified" if signed else "unsigned, not verified"
            print(
                f"round {round_no + 1} {name:>22}: {run.rate:,.0f} events/s,"
                f" worker CPU {run.cpu_us:,.1f} µs/event"
                f"  ({time.monotonic() - began:.0f} s with setup)",
                flush=True,
            )
    rate = {s: statistics.median(r.rate for r in runs[s]) for s in runs}
    cpu = {s: statistics.median(r.cpu_us for r in runs[s]) for s in runs}
    print(
        f"median signed {rate[True]:,.0f} events/s ({cpu[True]:,.1f} µs CPU/event),"
        f" unsigned {rate[False]:,.0f} events/s ({cpu[False]:,.1f} µs CPU/event)"
    )
    print(f"ratio signed / unsigned: {rate[True] / rate[False]:.3f}")
    print(f"ratio CPU per event signed / unsigned: {cpu[True] / cpu[False]:.3f}")


if __name__ == "__main__":
    main()
