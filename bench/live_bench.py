"""What the live benches share (bench/e2e.py, bench/peers.py, bench/recovery.py,
bench/signing_e2e.py): the mixed records they publish, signed as the worker requires; the
worker processes and their metrics; publishing, and waiting until both consumer groups
have committed everything; a throw-away topic prefix and database per run."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.core import CITIES, EMERGENCY, HEALTH, T0, _mixed
from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from streams.ops.record_signer import RecordSigner, register_keys
from streams.stages.topology import TopicNames
from topics.codec import encode
from topics.registry import TOPIC_FOR_KIND
from topics.signing import sign_headers

ROOT = Path(__file__).resolve().parents[1]
PROBE_EVERY = 20
PROBE_DELAY = timedelta(hours=3)  # over the 2 h reporting limit: one reporting_late alert


_SENDERS = [(s.agency_id, s.agency_type) for s in (HEALTH, EMERGENCY)]


@dataclass(frozen=True)
class Keyed:
    key: bytes
    value: bytes
    topic: str
    event_id: str | None = None  # set on probes
    headers: list[tuple[str, bytes]] | None = None  # its agency's signature


def mixed(
    settings: Settings, count: int, probes: bool = False, start: int = 0, signed: bool = True
) -> list[Keyed]:
    """``count`` encoded events (the stream's from ``start`` on), cities interleaved, 20 s
    of event time apart per city, each signed by its agency (registered once), as the
    worker requires; unsigned when not ``signed`` (for a worker that verifies nothing:
    bench/signing_e2e.py)."""
    topic = {kind: spec.name(settings.topic_prefix) for kind, spec in TOPIC_FOR_KIND.items()}
    register_keys(settings, _SENDERS)
    signer = RecordSigner.from_registry(settings)
    out = []
    for n in range(start, start + count):
        city = CITIES[n % len(CITIES)]
        k = n // len(CITIES)
        event = _mixed(k, city, T0 + timedelta(seconds=20 * k))
        event = event.model_copy(update={"event_id": f"{event.event_id}-{city}"})
        probe = probes and n % PROBE_EVERY == 0
        if probe:
            event = event.model_copy(
                update={"event_id": f"probe-{n}", "reported_at": event.occurred_at + PROBE_DELAY}
            )
        value = encode(event)
        headers = None
        if signed:
            kid, secret = signer.keys[event.source.agency_id]
            headers = sign_headers(kid, secret, value)
        probe_id = event.event_id if probe else None
        out.append(Keyed(city.encode(), value, topic[event.kind], probe_id, headers))
    return out


# --- the worker --------------------------------------------------------------------------


def holding_nothing() -> dict[str, str]:
    """The worker's environment for the default rulebook with ``ahead_of_clock_minutes:
    null``. A catch-up on the event clock (the benches' streams lie in the past) reads
    hours of event time per batch, ahead of the newest tick the worker wrote: the default
    holds most of its events, each raising and retracting an ``event_held`` alert, which a
    worker on the wall clock never does for events of the past."""
    book = yaml.safe_load((ROOT / "streams" / "rulebooks" / "default.yaml").read_text())
    book["input_checks"]["ahead_of_clock_minutes"] = None
    path = ROOT / "var" / "bench-rulebook-holding-nothing.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(book, allow_unicode=True, sort_keys=False))
    return {"TIERFLOW_RULEBOOK_PATH": str(path)}


@dataclass
class Worker:
    """One worker process (``stages``: all, decide or land) and its metrics port; ``module``
    is what ``python -m`` runs (the live worker unless a bench swaps in a variant)."""

    settings: Settings
    proc: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(
        cls,
        settings: Settings,
        log: Path,
        stages: str,
        port: int,
        module: str = "streams.live",
        **more_env: str,
    ) -> Worker:
        env = {
            **os.environ,
            "TIERFLOW_KAFKA_BOOTSTRAP": settings.kafka_bootstrap,
            "TIERFLOW_CLICKHOUSE_URL": settings.clickhouse_url,
            "TIERFLOW_TOPIC_PREFIX": settings.topic_prefix,
            "TIERFLOW_CLICKHOUSE_DATABASE": settings.clickhouse_database,
            "TIERFLOW_METRICS_PORT": str(port),
            "TIERFLOW_TICK_CLOCK": "event",
            "TIERFLOW_STACK_HOME": str(ROOT / "var" / "bench-workers"),
            "TIERFLOW_WORKER_STAGES": stages,
            "TIERFLOW_AGENCY_REGISTRY_PATH": str(settings.agency_registry().resolve()),
            **more_env,
        }
        handle = log.open("ab")
        proc = subprocess.Popen(
            [sys.executable, "-m", module], env=env, cwd=ROOT, stdout=handle,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        return cls(settings, proc, port)

    def metrics(self) -> str:
        if self.proc.poll() is not None:
            raise SystemExit(f"worker exited {self.proc.returncode}")
        try:
            url = f"http://127.0.0.1:{self.port}/metrics"
            with urllib.request.urlopen(url, timeout=2) as response:
                return str(response.read().decode())
        except OSError:
            return ""

    def peak_rss(self) -> int:
        """The process's peak resident set so far (``VmHWM``), bytes."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        return 0

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def consumed_in(metrics: str) -> int:
    """Input records the decide stage has decoded: its counter in a ``/metrics`` text,
    summed over labels."""
    return int(_metric(metrics, "tierflow_records_consumed_total"))


def _metric(metrics: str, name: str) -> float:
    """A metric's value in a ``/metrics`` text, summed over labels (0 when absent)."""
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith((name + " ", name + "{"))
    )


def decide_time(metrics: str, seconds: float) -> str:
    """Where the decide stage's ``seconds`` went, from its histograms in a ``/metrics``
    text: deciding batches (decode, core, encode, handing the outputs to the producer),
    commits (the states flushed, which the intake waits for; their transactions are sent
    beside the next batches), the journal (each batch's entries written and committed
    before it is decided), and the rest (reading, acknowledgements, waiting); and the
    records it produced per record consumed."""
    batches = _metric(metrics, "tierflow_decide_batch_seconds_count")
    deciding = _metric(metrics, "tierflow_decide_batch_seconds_sum")
    committing = _metric(metrics, "tierflow_decide_commit_seconds_sum")
    commits = _metric(metrics, "tierflow_decide_commit_seconds_count")
    flushing = _metric(metrics, "tierflow_state_flush_seconds_sum")
    trims = _metric(metrics, "tierflow_memory_trim_seconds_sum")
    journaling = _metric(metrics, "tierflow_decide_journal_seconds_sum")
    writes = _metric(metrics, "tierflow_decide_journal_seconds_count")
    consumed = _metric(metrics, "tierflow_records_consumed_total")
    produced = _metric(metrics, "tierflow_outputs_total")
    rest = seconds - deciding - flushing - journaling
    return (
        f"decide stage's {seconds:.0f} s: {batches:,.0f} batches decided in {deciding:.1f} s, "
        f"{commits:,.0f} commits (states flushed in {flushing:.1f} s; sent beside the "
        f"batches, {committing:.1f} s from start to committed; free memory given back in "
        f"{trims:.2f} s), the journal {journaling:.1f} s ({writes:,.0f} writes), the rest "
        f"{rest:.1f} s (reading, waiting); {produced / max(consumed, 1):.2f} outputs per "
        "record consumed"
    )


@dataclass(frozen=True)
class Layout:
    """How a bench runs the worker: ``deciders`` processes each deciding and landing, or
    (``split``) that many deciding beside one landing. Several deciders share the decide
    group's partitions, as workers on more cores would."""

    split: bool = False
    deciders: int = 1

    def stages(self) -> list[str]:
        return [*["decide"] * self.deciders, "land"] if self.split else ["all"] * self.deciders

    def names(self) -> list[str]:
        """Each process's name: its stage ("worker" for all of them), numbered when
        there are several."""
        named = [{"all": "worker"}.get(stage, stage) for stage in self.stages()]
        return [
            f"{name}{named[:i].count(name) + 1}" if named.count(name) > 1 else name
            for i, name in enumerate(named)
        ]


# The consumer groups each stage reads in: a stage has its partitions once its lag gauge
# of each exists.
_GROUPS = {"decide": ("decide-intake",), "land": ("landing",), "all": ("decide-intake", "landing")}


@dataclass
class Workers:
    """The processes of a :class:`Layout`; with ``instance``, each a static group member
    (``TIERFLOW_WORKER_INSTANCE_ID``: ``instance`` and the process's name)."""

    layout: Layout
    members: list[Worker]

    @classmethod
    def start(
        cls,
        settings: Settings,
        log: Path,
        layout: Layout,
        module: str = "streams.live",
        instance: str | None = None,
        **more_env: str,
    ) -> Workers:
        members = []
        for i, (stage, name) in enumerate(zip(layout.stages(), layout.names(), strict=True)):
            static = (
                {} if instance is None else {"TIERFLOW_WORKER_INSTANCE_ID": f"{instance}-{name}"}
            )
            port = settings.metrics_port + i
            members.append(Worker.start(settings, log, stage, port, module, **more_env, **static))
        return cls(layout, members)

    def assigned(self) -> bool:
        """Whether every process has its partitions (its groups' lag gauges exist)."""
        prefix = self.members[0].settings.topic_prefix
        return all(
            f'group="{prefix}.{group}"' in worker.metrics()
            for worker, stage in zip(self.members, self.layout.stages(), strict=True)
            for group in _GROUPS[stage]
        )

    def ready(self, timeout: float = 90, poll: float = 0.5) -> None:
        """Wait until :meth:`assigned` (asked every ``poll`` s)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.assigned():
                return
            time.sleep(poll)
        raise SystemExit("worker not ready")

    def deciders(self) -> list[tuple[str, Worker]]:
        """The processes that decide, by name."""
        return [
            (name, worker)
            for name, worker, stage in zip(
                self.layout.names(), self.members, self.layout.stages(), strict=True
            )
            if stage != "land"
        ]

    def consumed(self) -> int:
        return consumed_in(self.metrics())

    def metrics(self) -> str:
        """Every member's ``/metrics`` text, together."""
        return "".join(worker.metrics() for worker in self.members)

    def pids(self) -> dict[str, int]:
        """The processes by name (:meth:`Layout.names`)."""
        names = self.layout.names()
        return {name: w.proc.pid for name, w in zip(names, self.members, strict=True)}

    def peak_rss(self) -> str:
        return " + ".join(f"{w.peak_rss() / 2**20:,.0f} MiB" for w in self.members)

    def kill(self) -> None:
        for worker in self.members:
            worker.proc.kill()
            worker.proc.wait()

    def stop(self) -> None:
        for worker in self.members:
            worker.stop()


# --- Kafka ------------------------------------------------------------------------------


async def publish(
    kafka: dict[str, Any], records: list[Keyed], rate: float | None = None
) -> tuple[float, dict[str, float]]:
    """Send ``records`` (paced at ``rate``/s in 10 ms slices, or as fast as possible);
    returns the wall time of the first send and each probe's wall time at send."""
    producer = AIOKafkaProducer(**kafka, acks="all", linger_ms=5, max_batch_size=1 << 20)
    await producer.start()
    sent_at: dict[str, float] = {}
    try:
        first = time.time()
        began = time.monotonic()
        chunk = max(int(rate / 100), 1) if rate else 5_000
        for start in range(0, len(records), chunk):
            if rate:
                due = began + start / rate
                await asyncio.sleep(max(due - time.monotonic(), 0))
            sends = []
            for r in records[start : start + chunk]:
                if r.event_id is not None:
                    sent_at[r.event_id] = time.time()
                sends.append(await producer.send(r.topic, r.value, key=r.key, headers=r.headers))
            if not rate:
                await asyncio.gather(*sends)
        await producer.flush()
        return first, sent_at
    finally:
        await producer.stop()


async def _lag(admin: AIOKafkaAdminClient, ends: Any, group: str, topics: set[str]) -> int:
    committed = await admin.list_consumer_group_offsets(group)
    lag = 0
    for tp, end in ends.items():
        if tp.topic in topics:
            done = committed.get(tp)
            lag += end - (done.offset if done is not None and done.offset >= 0 else 0)
    return lag


@dataclass(frozen=True)
class Drained:
    """When the decide group, then the landing group, had committed everything (None: not
    within the time limit), and the decide group's lag when polling stopped."""

    decided: float | None
    landed: float | None
    decide_lag: int


async def wait_drained(
    settings: Settings, timeout: float, sample: Callable[[], None] | None = None
) -> Drained:
    """Poll until the decide group has committed every input record and then the landing
    group every record of its topics, or until ``timeout`` s have passed; ``sample`` is
    called at every poll."""
    names = TopicNames(settings.topic_prefix)
    prefix = settings.topic_prefix
    admin = AIOKafkaAdminClient(**aiokafka_options(settings, "admin"))
    probe = AIOKafkaConsumer(**aiokafka_options(settings, "admin"))
    await admin.start()
    await probe.start()
    try:
        await probe._client.force_metadata_update()
        everything = {*names.inputs, *names.landing_sources}
        tps = [
            TopicPartition(t, p)
            for t in sorted(everything)
            for p in sorted(probe.partitions_for_topic(t) or ())
        ]
        deadline = time.monotonic() + timeout
        last = 0.0
        decided: float | None = None
        decide = -1
        while time.monotonic() < deadline:
            if sample is not None:
                sample()
            ends = await probe.end_offsets(tps)
            decide = await _lag(admin, ends, f"{prefix}.decide-intake", set(names.inputs))
            landing = await _lag(admin, ends, f"{prefix}.landing", set(names.landing_sources))
            if decide == 0 and decided is None:
                decided = time.time()
            if decided is not None and landing == 0:
                return Drained(decided, time.time(), 0)
            if time.monotonic() - last > 15:
                print(f"    … lag: decide {decide:,}, landing {landing:,}", flush=True)
                last = time.monotonic()
            await asyncio.sleep(0.25)
        return Drained(decided, None, decide)
    finally:
        await probe.stop()
        await admin.close()


async def committed(settings: Settings, group: str) -> int:
    admin = AIOKafkaAdminClient(**aiokafka_options(settings, "admin"))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return sum(max(meta.offset, 0) for meta in offsets.values())
    finally:
        await admin.close()
