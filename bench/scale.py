"""Scale out on the compose stack (issue 16 item 4): the same records decided by 1 and by 2
decide workers, side by side in one run, on the `cluster` profile (three KRaft brokers, RF 3,
min ISR 2) of `make deploy-images` images.

    .venv/bin/python -m bench.scale [--events 100000] [--keep]

For each worker count, under a topic prefix of its own (so both decide the very same
records from the beginning): the decide workers stopped, the fault test's mixed scenario
(tests/deploy: cholera, supply-squeeze, road-mci, chemical poisoning) published with
``tierflow publish --skip-invalid`` from the host; then N decide workers started
(``docker-compose up --scale worker=N``), and the time from their start until the
``<prefix>.decide-intake`` group has committed every input record. The landing is stopped
throughout: this measures the decide stage. Printed: both rates, their ratio, the time to
the first commit (start, rebalance, recovery), and a profile: each container's mean CPU
share over the run (``docker stats``, sampled), which says where the machine's cores went.

Needs dockerd, docker-compose and the images (`make deploy-images`); the stack is the fault
test's project (tests/deploy/compose.py: its ports and fresh secrets), removed afterwards
unless ``--keep``.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from tests.deploy.compose import PROJECT, ROOT, ComposeStack
from tests.deploy.test_compose_faults import SIM_CACHE, mixed_scenario, register_agencies
from topics.registry import INPUT_TOPICS

POLL_S = 0.5


@dataclass
class Run:
    workers: int
    records: int
    seconds: float
    first_commit_s: float
    cpu: dict[str, float] = field(default_factory=dict)  # container -> mean % of one core

    @property
    def per_second(self) -> float:
        return self.records / self.seconds


class CpuSampler:
    """``docker stats --no-stream`` of the project's containers, over and over, in a
    thread; the mean CPU % per container."""

    def __init__(self) -> None:
        self.samples: dict[str, list[float]] = defaultdict(list)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            done = subprocess.run(
                ["docker", "stats", "--no-stream", "--format", "{{.Name}} {{.CPUPerc}}"],
                capture_output=True, text=True, timeout=60, check=False,
            )  # fmt: skip
            for line in done.stdout.splitlines():
                name, _, cpu = line.partition(" ")
                if name.startswith(PROJECT) and cpu.endswith("%"):
                    self.samples[name.removeprefix(f"{PROJECT}_")].append(float(cpu[:-1]))

    def means(self) -> dict[str, float]:
        return {name: sum(s) / len(s) for name, s in sorted(self.samples.items()) if s}


async def _ends(settings: Settings) -> int:
    """Records in the input topics (their end offsets)."""
    consumer = AIOKafkaConsumer(**aiokafka_options(settings, "admin"))
    await consumer.start()
    try:
        tps = [
            TopicPartition(spec.name(settings.topic_prefix), p)
            for spec in INPUT_TOPICS
            for p in range(spec.partitions)
        ]
        return sum((await consumer.end_offsets(tps)).values())
    finally:
        await consumer.stop()


async def _committed(settings: Settings, group: str) -> int:
    """Records of the input topics ``group`` has committed."""
    admin = AIOKafkaAdminClient(**aiokafka_options(settings, "admin"))
    await admin.start()
    try:
        names = {spec.name(settings.topic_prefix) for spec in INPUT_TOPICS}
        committed = await admin.list_consumer_group_offsets(group)
        return sum(meta.offset for tp, meta in committed.items() if tp.topic in names)
    finally:
        await admin.close()


def _host(stack: ComposeStack, prefix: str, *argv: str) -> None:
    env = {**stack.host_env(), "TIERFLOW_TOPIC_PREFIX": prefix, "TIERFLOW_REPLICATION_FACTOR": "3"}
    done = subprocess.run(
        [sys.executable, "-m", "streams.cli", *argv],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise SystemExit(f"tierflow {' '.join(argv)}: {done.stdout[-2000:]}{done.stderr[-2000:]}")


def one_run(stack: ComposeStack, scenario: Path, workers: int) -> Run:
    """Publish the scenario under a fresh prefix, then time ``workers`` decide workers."""
    prefix = f"scale{workers}x{int(time.time())}"
    settings = stack.settings.model_copy(update={"topic_prefix": prefix})
    stack.compose("stop", "worker", "landing")
    _host(stack, prefix, "topics", "create")
    _host(stack, prefix, "publish", "--skip-invalid", str(scenario))
    records = asyncio.run(_ends(settings))
    stack.env["TIERFLOW_TOPIC_PREFIX"] = prefix
    group = f"{prefix}.decide-intake"
    with CpuSampler() as sampler:
        started = time.monotonic()
        stack.compose("up", "-d", "--no-deps", "--scale", f"worker={workers}", "worker")
        first_commit = None
        while True:
            done = asyncio.run(_committed(settings, group))
            now = time.monotonic() - started
            if done and first_commit is None:
                first_commit = now
            if done >= records:
                break
            if now > 1800:
                raise SystemExit(f"{workers} worker(s): {done}/{records} after 30 min")
            time.sleep(POLL_S)
        seconds = time.monotonic() - started
    stack.compose("stop", "worker")
    return Run(workers, records, seconds, first_commit or seconds, sampler.means())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="leave the compose stack up")
    args = parser.parse_args()

    stack = ComposeStack(Path(tempfile.mkdtemp(prefix="agencies-")))
    lines = mixed_scenario(args.events)
    register_agencies(stack.settings, lines)
    scenario = SIM_CACHE / "scale.jsonl"
    scenario.write_bytes(b"\n".join(lines) + b"\n")
    try:
        stack.up()
        runs = [one_run(stack, scenario, workers) for workers in (1, 2)]
    finally:
        if not args.keep:
            stack.down()
    print(f"compose cluster profile, {len(lines)} lines; the decide stage alone (landing off)")
    for run in runs:
        print(
            f"{run.workers} decide worker(s): {run.records} records in {run.seconds:.1f} s"
            f" = {run.per_second:,.0f} records/s (first commit after {run.first_commit_s:.1f} s)"
        )
        print("  mean CPU % of one core: " + ", ".join(f"{n} {c:.0f}" for n, c in run.cpu.items()))
    print(f"ratio 2 workers / 1 worker: {runs[1].per_second / runs[0].per_second:.2f}")


if __name__ == "__main__":
    main()
