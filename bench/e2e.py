"""End to end: a live worker (``python -m streams.live``: intake, Faust decide agent, landing
into ClickHouse) against the ceiling (bench/ceiling.py: decoding and folding the same
records in one process, no Kafka, no landing) and raw aiokafka consumption, in one run.

    .venv/bin/python -m bench.e2e [--events 1000000] [--latency-s 30] [--warmup-s 5] [--split]
        [--deciders N] [--rate R] [--skip throughput|latency|recovery] [--hold] [--static]
        [--backlog]

1. **Throughput.** ``--events`` mixed events (bench/core.py's generator: 75 % cases,
   10 % stock, 8 % transfers, 7 % incident reports over 8 cities), encoded before the
   clock starts, published as fast as one producer can while the worker runs. Measured
   from the first publish to the moment both consumer groups have committed everything:
   the decide group every input record, the landing group every record of the topics it
   lands (committed only after the rows are durable in ClickHouse). Then, worker
   stopped, one plain aiokafka consumer reads the same input records (bench/raw_consume.py);
   the ratios to the ceiling (``ratio end to end / ceiling``) and to raw are printed. For
   the worker and the ceiling alike, the rate over the last 10 % of the records against the
   first 10 % (``ratio last 10% / first 10%``; the worker's from its decide stage's
   ``tierflow_records_consumed`` counter, polled), and the workers' peak RSS (``VmHWM``).
   ``--backlog`` publishes every record before the workers start, as a worker finds them
   after an outage: the clock then starts when every process has its partitions (polled
   every 0.1 s), so the publisher no longer shares the machine's CPU with the worker
   while it runs; the time from the workers' start, their boot included, is printed too.
2. **Recovery after SIGKILL.** The drained worker is killed (SIGKILL, every process),
   ``--events``/100 (at least 1 000) new events are published, and a new worker started:
   the time from its start to its partitions being assigned (the killed members hold them
   until their session times out), to the decide group's first new commit (state restored
   from the changelog, new records decided), and to every new record committed.
3. **Decision latency at half capacity.** A fresh worker and topics; half the end-to-end
   rate the throughput phase reached (so it measures latency, not a queue; ``--rate`` when
   the throughput phase is skipped) for ``--latency-s`` seconds, every 20th a *probe*: a
   case reported 3 h after it occurred, which the core answers with a ``reporting_late``
   alert whose ``subject_id`` is the probe's event id. The scenario's ``reported_at`` lies
   in the past, so the figure is ``decided_at`` of that alert (the worker's wall clock when
   the decide batch holding the probe began) minus the wall clock just before the probe was
   handed to the producer; also the alert record's Kafka timestamp (when the worker
   produced it) minus the same. The rate is offered ``--warmup-s`` seconds longer, first:
   the probes of those first seconds (a worker just started on topics just made: leaders
   and metadata still settling, the first commits) are reported on a line of their own,
   not in the p50/p99 of the steady state the phase is for. (bench/e2e_latency.py.)

The worker decides with the default rulebook holding nothing ahead of the clock
(``bench.live_bench.holding_nothing``; ``--hold``: the default as it is): the streams lie
in the past, so the worker runs on the event clock, and a catch-up reading hours of event
time per batch would hold most events behind its newest tick, raising and retracting an
``event_held`` alert for each, which a wall-clock worker never does for past events and
the ceiling (no ticks) never does either.

``--static`` makes the throughput phase's workers static group members (one
``group.instance.id`` per process), so the recovery phase's restart is what a supervisor's
restart in place is, not a new member waiting out the killed one's session.

``--split`` runs the worker as two processes, one deciding and one landing
(``TIERFLOW_WORKER_STAGES``), so that the landing has the second core. ``--deciders N``
runs N deciding processes (each deciding and landing, or beside the one landing with
``--split``): they share the decide group's partitions, as workers added to a deployment
do, and each prints where its time went. Publishing starts once every process has its
partitions.

Needs the local stack (``tierflow stack up``). Works under a throw-away topic prefix and
database per phase; ``--keep`` leaves them (dropped otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from pathlib import Path

from bench.ceiling import Curve, ceiling
from bench.cpu_share import CpuShare, stack_pids
from bench.e2e_latency import latency
from bench.live_bench import (
    ROOT,
    Drained,
    Keyed,
    Layout,
    Workers,
    committed,
    decide_time,
    holding_nothing,
    mixed,
    publish,
    wait_drained,
)
from bench.namespaces import drop, fresh
from bench.raw_consume import RawRate, raw_consume
from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings, load_settings
from streams.ops.runtime import tune_gc_for_core_state
from streams.stages.topology import TopicNames

# --- the phases -------------------------------------------------------------------------


def _ceiling(records: list[Keyed]) -> float:
    """Decode and fold ``records`` in this process (bench/ceiling.py); its rate."""
    print(f"  ceiling: decoding and folding the same {len(records):,} records, no Kafka …")
    run = ceiling([r.value for r in records])
    print("  " + run.curve.describe("ceiling"))
    print(f"  ceiling decisions {run.decisions}, states {run.states}")
    return run.curve.rate()


def throughput(
    base: Settings, events: int, max_s: float, log: Path, *, keep: bool, layout: Layout,
    recover: bool, env: dict[str, str], instance: str | None, backlog: bool,
) -> float:  # fmt: skip
    """Runs the throughput phase (then the recovery phase unless not ``recover``); returns
    the end-to-end rate. With ``backlog``, every record is published before the workers
    start and the clock starts when they have their partitions."""
    settings = fresh(base, "tput")
    print(f"throughput: encoding {events:,} mixed events …", flush=True)
    records = mixed(settings, events)
    ceiling_rate = _ceiling(records)
    started: float | None = None
    if backlog:
        print("  publishing them all before the worker starts (a backlog) …", flush=True)
        began, _ = asyncio.run(publish(aiokafka_options(settings, "admin"), records))
        started = time.time()
        print(f"  published in {started - began:.1f} s; starting the worker", flush=True)
    worker = Workers.start(settings, log, layout, instance=instance, **env)
    curve = Curve()
    try:
        worker.ready(poll=0.1)
        cpu = CpuShare({**worker.pids(), **stack_pids(settings.stack_home)}).start()
        if started is None:
            print("  worker ready; publishing as fast as possible", flush=True)
            first, _ = asyncio.run(publish(aiokafka_options(settings, "admin"), records))
            published = time.time()
            print(
                f"  published in {published - first:.1f} s ({events / (published - first):,.0f}/s)"
            )
        else:
            first = time.time()
            print(
                f"  worker has its partitions {first - started:.1f} s after its start; catching up"
            )

        def sample() -> None:
            curve.add(time.time() - first, worker.consumed())

        drained = asyncio.run(
            wait_drained(settings, timeout=max_s - (time.time() - first), sample=sample)
        )
        sample()
        print("  " + cpu.describe(time.time() - first))
        print(f"  worker peak RSS: {worker.peak_rss()}")
        for name, decider in worker.deciders():
            print(f"  {name}: " + decide_time(decider.metrics(), time.time() - first))
        e2e = _report(
            settings, events, first=first, drained=drained, curve=curve,
            ceiling_rate=ceiling_rate,
        )  # fmt: skip
        if started is not None and drained.landed is not None:
            whole = drained.landed - started
            print(
                f"  from the workers' start (their boot and assignment included): {whole:.1f} s;"
                f" ratio {events / whole / ceiling_rate:.3f}"
            )
        if recover and drained.landed is not None:
            recovery(settings, worker, log, events, env=env, instance=instance)
    finally:
        worker.stop()
    if not keep:
        drop(settings)
    return e2e


def _report(
    settings: Settings, events: int, *, first: float, drained: Drained, curve: Curve,
    ceiling_rate: float,
) -> float:  # fmt: skip
    """Prints the throughput phase's figures (raw consumption measured now); returns the
    end-to-end rate."""
    if drained.landed is None:
        elapsed = time.time() - first
        rate = (events - drained.decide_lag) / elapsed
        print(
            f"  NOT drained within {elapsed:.0f} s: {events - drained.decide_lag:,} of {events:,}"
            f" decided = {rate:,.0f} events/s sustained (decide stage; landing kept up)"
        )
        done = decided = time.time()
        e2e = rate
    else:
        done, decided = drained.landed, drained.decided or drained.landed
        e2e = events / (done - first)
    raw: RawRate = asyncio.run(
        raw_consume(aiokafka_options(settings, "admin"), TopicNames(settings.topic_prefix).inputs)
    )
    if drained.landed is not None:
        print(
            f"  decide stage done (every input committed): {decided - first:.1f} s"
            f" = {events / (decided - first):,.0f} events/s"
        )
        print(
            f"  end to end (first publish → every record decided and landed):"
            f" {done - first:.1f} s = {e2e:,.0f} events/s"
        )
    print("  " + curve.describe("decide stage (consumed counter)"))
    print(
        f"  raw aiokafka consumption of the same {raw.records:,} records: {raw.seconds:.2f} s"
        f" = {raw.per_second:,.0f} records/s"
    )
    print(f"  ratio end to end / raw: {e2e / raw.per_second:.3f}")
    print(f"  ratio end to end / ceiling: {e2e / ceiling_rate:.3f}  (target >= 0.5)")
    return e2e


def recovery(
    settings: Settings, workers: Workers, log: Path, events: int, *,
    env: dict[str, str], instance: str | None,
) -> None:  # fmt: skip
    """SIGKILL the drained ``workers``, publish new events, start new workers (replacing
    ``workers``' members; static members with the killed ones' ids when ``instance``):
    time to the decide group's first new commit."""
    group = f"{settings.topic_prefix}.decide-intake"
    extra = max(events // 100, 1_000)
    more = mixed(settings, extra, start=events)
    workers.kill()
    before = asyncio.run(committed(settings, group))
    asyncio.run(publish(aiokafka_options(settings, "admin"), more))
    began = time.monotonic()
    workers.members = Workers.start(settings, log, workers.layout, instance=instance, **env).members
    assigned: float | None = None  # both stages' partitions (the landing's may come last)
    first: float | None = None
    while time.monotonic() - began < 600:
        if assigned is None and workers.assigned():
            assigned = time.monotonic() - began
        now_committed = asyncio.run(committed(settings, group))
        if now_committed > before and first is None:
            first = time.monotonic() - began
        if now_committed >= before + extra and assigned is not None:
            break
        time.sleep(0.25)
    all_in = time.monotonic() - began
    if first is None or assigned is None:
        print(f"recovery after SIGKILL: no new commit or no assignment within {all_in:.0f} s")
        return
    print(
        f"recovery after SIGKILL ({events:,} events of state, {extra:,} new events): "
        f"first new commit {first:.1f} s after the new worker started (partitions assigned "
        f"after {assigned:.1f} s), all new decided and committed {all_in:.1f} s  "
        f"(target < 10 s to the first commit)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument(
        "--rate",
        type=float,
        help="offered rate of the latency phase (default: half the end-to-end rate the "
        "throughput phase reached; 5 000/s when it is skipped)",
    )
    parser.add_argument("--latency-s", type=float, default=30)
    parser.add_argument(
        "--warmup-s",
        type=float,
        default=5,
        help="offer the latency phase's rate this long first, before the measured seconds, "
        "and report those probes apart: a worker just started on fresh topics (leaders, "
        "metadata, the first commits) is not the steady state the figure is for",
    )
    parser.add_argument(
        "--max-s",
        type=float,
        default=420,
        help="stop the throughput phase after this long and report the rate so far",
    )
    parser.add_argument(
        "--skip", action="append", default=[], choices=["throughput", "recovery", "latency"]
    )
    parser.add_argument("--keep", action="store_true", help="keep topics' databases")
    parser.add_argument(
        "--hold",
        action="store_true",
        help="the default rulebook as it is: hold events ahead of the event clock "
        "(default: hold nothing, as a wall-clock worker never holds past events)",
    )
    parser.add_argument(
        "--split", action="store_true", help="decide and land in two processes (two cores)"
    )
    parser.add_argument(
        "--deciders",
        type=int,
        default=1,
        help="this many worker processes deciding (sharing the decide group's partitions)",
    )
    parser.add_argument(
        "--backlog",
        action="store_true",
        help="publish every record before the worker starts and time its catch-up from "
        "its partitions' assignment (no publisher sharing the machine while it runs)",
    )
    parser.add_argument(
        "--static",
        action="store_true",
        help="the throughput phase's workers are static group members (group.instance.id), "
        "as a supervised deployment's are: a restart takes the killed member's partitions "
        "back without waiting for its session to time out",
    )
    args = parser.parse_args()
    layout = Layout(args.split, args.deciders)
    base = load_settings()
    log = ROOT / "var" / "bench-e2e-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"worker log: {log}")
    tune_gc_for_core_state()  # the ceiling folds as the shells do
    env = {} if args.hold else holding_nothing()
    print(
        "worker rulebook: "
        + (
            "the default (holds events ahead of the clock)"
            if args.hold
            else "the default, holding nothing (--hold: as it is)"
        )
    )
    e2e: float | None = None
    if "throughput" not in args.skip:
        e2e = throughput(
            base, args.events, args.max_s, log, keep=args.keep, layout=layout,
            recover="recovery" not in args.skip, env=env,
            instance="bench-e2e" if args.static else None, backlog=args.backlog,
        )  # fmt: skip
    if "latency" not in args.skip:
        if args.rate is not None:
            rate, why = args.rate, "--rate"
        elif e2e is not None:
            rate, why = e2e / 2, f"half the throughput phase's {e2e:,.0f}/s"
        else:
            rate, why = 5_000, "the default: throughput phase skipped"
        latency(
            base, rate, why, args.latency_s, log, keep=args.keep, layout=layout, env=env,
            warmup=args.warmup_s,
        )  # fmt: skip


if __name__ == "__main__":
    main()
