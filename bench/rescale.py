"""Decide workers joining and leaving a busy group: does every record still get decided and
landed, with no worker stalled in a rebalance?

    .venv/bin/python -m bench.rescale [--events 300000] [--change join|leave|restart]
        [--after-s 8]

The mixed stream of bench/e2e.py is published as fast as one producer can to a split
worker (deciders and one landing, static members). ``--after-s`` seconds into the
publishing: ``join`` starts a second decider beside the one running (a scale-out);
``leave`` stops one of two with SIGTERM (a scale-in); ``restart`` stops one of two and
starts it again ``--after-s`` later under its static id (a rolling restart). Prints when
the decide group and then the landing group had committed every record, the longest wait
for Faust's table recovery the workers logged, and their stall exits and errors: a worker
waited out its stall watchdog there once when a second decider joined (BENCHMARKS.md,
twenty-first session). Needs the local stack; works under a throw-away
prefix and database, dropped after.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import time

from bench.live_bench import (
    ROOT,
    Keyed,
    Layout,
    Worker,
    Workers,
    holding_nothing,
    mixed,
    publish,
    wait_drained,
)
from bench.namespaces import drop, fresh
from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings, load_settings

INSTANCE = "rescale"
LOG = ROOT / "var" / "bench-rescale-worker.log"
# What the workers' log says when a worker waits in a rebalance (every 10 s of a wait, the
# seconds so far; a joining worker waits for its first assignment too) or gives up.
RECOVERY_WAIT = re.compile(r"waiting (\d+)s for Faust's table recovery")
SIGNS = {"stall exits": "decide stage stalled", "errors": " ERROR "}


async def _change(
    settings: Settings, workers: Workers, records: list[Keyed], change: str, after_s: float
) -> None:
    """Publish ``records`` while ``change`` happens ``after_s`` seconds in."""
    env = holding_nothing()
    publishing = asyncio.ensure_future(publish(aiokafka_options(settings, "admin"), records))
    await asyncio.sleep(after_s)
    second = f"{INSTANCE}-decide2"
    port = settings.metrics_port + len(workers.members)
    if change == "join":
        workers.members.append(
            Worker.start(settings, LOG, "decide", port, TIERFLOW_WORKER_INSTANCE_ID=second, **env)
        )
        print(f"+{after_s:g} s: a second decider joined", flush=True)
    else:
        leaving = workers.members.pop(1)  # decide2 (the layout's order: deciders, landing)
        began = time.monotonic()
        leaving.stop()
        print(f"+{after_s:g} s: decide2 stopped with SIGTERM ({time.monotonic() - began:.1f} s)")
        if change == "restart":
            await asyncio.sleep(after_s)
            workers.members.append(
                Worker.start(
                    settings, LOG, "decide", port, TIERFLOW_WORKER_INSTANCE_ID=second, **env
                )
            )
            print(f"+{2 * after_s:g} s: decide2 started again", flush=True)
    await publishing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--change", choices=["join", "leave", "restart"], default="join")
    parser.add_argument("--after-s", type=float, default=8.0)
    args = parser.parse_args()
    settings = fresh(load_settings(), "rescale")
    records = mixed(settings, args.events)
    LOG.unlink(missing_ok=True)
    deciders = 1 if args.change == "join" else 2
    workers = Workers.start(
        settings, LOG, Layout(split=True, deciders=deciders), instance=INSTANCE, **holding_nothing()
    )
    try:
        workers.ready()
        began = time.time()
        asyncio.run(_change(settings, workers, records, args.change, args.after_s))
        drained = asyncio.run(wait_drained(settings, timeout=600))
    finally:
        workers.stop()
    if drained.decided is None or drained.landed is None:
        print(f"NOT drained within 600 s: decide lag {drained.decide_lag:,}")
    else:
        print(
            f"{args.events:,} events ({args.change}): every record decided after "
            f"{drained.decided - began:.1f} s, landed after {drained.landed - began:.1f} s"
        )
    text = LOG.read_text(errors="replace")
    waited = max((int(s) for s in RECOVERY_WAIT.findall(text)), default=0)
    print(
        f"workers' log: longest wait for Faust's table recovery {waited} s (logged every 10 s), "
        + ", ".join(f"{name} {text.count(sign)}" for name, sign in SIGNS.items())
    )
    drop(settings)


if __name__ == "__main__":
    main()
