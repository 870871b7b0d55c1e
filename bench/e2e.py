"""End to end: a live worker (``python -m streams.live``: intake, Faust decide agent, landing
into ClickHouse) against the ceiling (bench/ceiling.py: decoding and folding the same
records in one process, no Kafka, no landing) and raw aiokafka consumption, in one run.

    .venv/bin/python -m bench.e2e [--events 1000000] [--latency-s 30] [--split]
        [--rate R] [--skip throughput|latency|recovery]

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
   produced it) minus the same.

``--split`` runs the worker as two processes, one deciding and one landing
(``TIERFLOW_WORKER_STAGES``), so that the landing has the second core.

Needs the local stack (``tierflow stack up``). Works under a throw-away topic prefix and
database per phase; ``--keep`` leaves them (dropped otherwise).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient

from bench.ceiling import Curve, ceiling
from bench.core import CITIES, EMERGENCY, HEALTH, T0, _mixed
from bench.raw_consume import RawRate, raw_consume
from sinks.client import connect
from sinks.namespaces import migrate_namespaces, namespace_databases
from streams.ops.kafka import create_topics
from streams.ops.record_signer import RecordSigner, register_keys
from streams.ops.runtime import tune_gc_for_core_state
from streams.stages.topology import LIVE_TOPICS, TopicNames
from topics.codec import encode
from topics.kafka_security import aiokafka_options
from topics.registry import ALERTS, ALL_TOPICS, TOPIC_FOR_KIND
from topics.settings import Settings, load_settings
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


@dataclass
class Worker:
    """One worker process (``stages``: all, decide or land) and its metrics port; ``module``
    is what ``python -m`` runs (the live worker unless a bench swaps in a variant)."""

    settings: Settings
    proc: subprocess.Popen[bytes]
    port: int

    @classmethod
    def start(
        cls, settings: Settings, log: Path, stages: str, port: int, module: str = "streams.live"
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
    return int(
        sum(
            float(line.rsplit(" ", 1)[1])
            for line in metrics.splitlines()
            if line.startswith("tierflow_records_consumed_total")
        )
    )


@dataclass
class Workers:
    """One worker deciding and landing, or (``split``) one deciding and one landing."""

    members: list[Worker]

    @classmethod
    def start(
        cls, settings: Settings, log: Path, split: bool, module: str = "streams.live"
    ) -> Workers:
        if not split:
            return cls([Worker.start(settings, log, "all", settings.metrics_port, module)])
        return cls(
            [
                Worker.start(settings, log, "decide", settings.metrics_port, module),
                Worker.start(settings, log, "land", settings.metrics_port + 1, module),
            ]
        )

    def ready(self, timeout: float = 90) -> None:
        """Both stages have their partitions (their lag gauges exist)."""
        prefix = self.members[0].settings.topic_prefix
        wanted = (f'group="{prefix}.decide-intake"', f'group="{prefix}.landing"')
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = "".join(worker.metrics() for worker in self.members)
            if all(w in text for w in wanted):
                return
            time.sleep(0.5)
        raise SystemExit("worker not ready")

    def consumed(self) -> int:
        return consumed_in("".join(worker.metrics() for worker in self.members))

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


async def alerts_of(settings: Settings) -> Iterator[tuple[dict[str, Any], int]]:
    """(alert, Kafka timestamp ms) of every record of the alerts topic."""
    consumer = AIOKafkaConsumer(**aiokafka_options(settings, "admin"), auto_offset_reset="earliest")
    await consumer.start()
    try:
        topic = ALERTS.name(settings.topic_prefix)
        await consumer._client.force_metadata_update()
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[tuple[dict[str, Any], int]] = []
        while [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
            for got in (await consumer.getmany(timeout_ms=1000)).values():
                out.extend((orjson.loads(r.value), r.timestamp) for r in got)
        return iter(out)
    finally:
        await consumer.stop()


# --- the phases -------------------------------------------------------------------------


def fresh(base: Settings, tag: str) -> Settings:
    name = f"tierflow_bench_{tag}_{uuid.uuid4().hex[:8]}"
    port = 19_600 + os.getpid() % 300
    settings = base.model_copy(
        update={"topic_prefix": name, "clickhouse_database": name, "metrics_port": port}
    )
    asyncio.run(create_topics(settings, (*ALL_TOPICS, *LIVE_TOPICS)))
    migrate_namespaces(settings, name)  # the workers' user runs no DDL
    return settings


def drop(settings: Settings) -> None:
    admin = connect(settings, "", login="migrator")
    try:
        for db in namespace_databases(settings.clickhouse_database).values():
            admin.command(f"DROP DATABASE IF EXISTS {db}")
    finally:
        admin.close()


def _ceiling(records: list[Keyed]) -> float:
    """Decode and fold ``records`` in this process (bench/ceiling.py); its rate."""
    print(f"  ceiling: decoding and folding the same {len(records):,} records, no Kafka …")
    run = ceiling([r.value for r in records])
    print("  " + run.curve.describe("ceiling"))
    print(f"  ceiling decisions {run.decisions}, states {run.states}")
    return run.curve.rate()


def throughput(
    base: Settings, events: int, max_s: float, log: Path, *, keep: bool, split: bool,
    recover: bool,
) -> float:  # fmt: skip
    """Runs the throughput phase (then the recovery phase unless not ``recover``); returns
    the end-to-end rate."""
    settings = fresh(base, "tput")
    print(f"throughput: encoding {events:,} mixed events …", flush=True)
    records = mixed(settings, events)
    ceiling_rate = _ceiling(records)
    worker = Workers.start(settings, log, split)
    curve = Curve()
    try:
        worker.ready()
        print("  worker ready; publishing as fast as possible", flush=True)
        first, _ = asyncio.run(publish(aiokafka_options(settings, "admin"), records))
        published = time.time()
        print(f"  published in {published - first:.1f} s ({events / (published - first):,.0f}/s)")

        def sample() -> None:
            curve.add(time.time() - first, worker.consumed())

        drained = asyncio.run(
            wait_drained(settings, timeout=max_s - (time.time() - first), sample=sample)
        )
        sample()
        print(f"  worker peak RSS: {worker.peak_rss()}")
        e2e = _report(
            settings, events, first=first, drained=drained, curve=curve,
            ceiling_rate=ceiling_rate,
        )  # fmt: skip
        if recover and drained.landed is not None:
            recovery(settings, worker, log, events, split)
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


async def committed(settings: Settings, group: str) -> int:
    admin = AIOKafkaAdminClient(**aiokafka_options(settings, "admin"))
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return sum(max(meta.offset, 0) for meta in offsets.values())
    finally:
        await admin.close()


def recovery(settings: Settings, workers: Workers, log: Path, events: int, split: bool) -> None:
    """SIGKILL the drained ``workers``, publish new events, start new workers (replacing
    ``workers``' members): time to the decide group's first new commit."""
    group = f"{settings.topic_prefix}.decide-intake"
    extra = max(events // 100, 1_000)
    more = mixed(settings, extra, start=events)
    workers.kill()
    before = asyncio.run(committed(settings, group))
    asyncio.run(publish(aiokafka_options(settings, "admin"), more))
    began = time.monotonic()
    workers.members = Workers.start(settings, log, split).members
    workers.ready()
    assigned = time.monotonic() - began
    first: float | None = None
    while time.monotonic() - began < 300:
        now_committed = asyncio.run(committed(settings, group))
        if now_committed > before and first is None:
            first = time.monotonic() - began
        if now_committed >= before + extra:
            break
        time.sleep(0.25)
    all_in = time.monotonic() - began
    if first is None:
        print(f"recovery after SIGKILL: no new commit within {all_in:.0f} s")
        return
    print(
        f"recovery after SIGKILL ({events:,} events of state, {extra:,} new events): "
        f"first new commit {first:.1f} s after the new worker started (partitions assigned "
        f"after {assigned:.1f} s), all new decided and committed {all_in:.1f} s  "
        f"(target < 10 s to the first commit)"
    )


def latency(
    base: Settings, rate: float, why: str, seconds: float, log: Path, *, keep: bool, split: bool
) -> None:
    settings = fresh(base, "lat")
    count = int(rate * seconds)
    records = mixed(settings, count, probes=True)
    worker = Workers.start(settings, log, split)
    try:
        worker.ready()
        print(
            f"latency: {count:,} events offered at {rate:,.0f}/s ({why}), every "
            f"{PROBE_EVERY}th a probe"
        )
        first, sent_at = asyncio.run(publish(aiokafka_options(settings, "admin"), records, rate))
        offered = count / (time.time() - first)
        if asyncio.run(wait_drained(settings, timeout=600)).landed is None:
            print("  not drained within 600 s: latencies below are of the probes decided")
    finally:
        worker.stop()
    decided, emitted = [], []
    for alert, timestamp_ms in asyncio.run(alerts_of(settings)):
        at = sent_at.get(alert["subject_id"])
        if alert["alert_kind"] == "reporting_late" and at is not None:
            decided.append(datetime.fromisoformat(alert["decided_at"]).timestamp() - at)
            emitted.append(timestamp_ms / 1000 - at)
    print(f"  achieved offered rate {offered:,.0f}/s; {len(decided):,} of {len(sent_at):,} probes")
    for label, values in (("decided_at", decided), ("alert produced", emitted)):
        q = statistics.quantiles(values, n=100)
        print(
            f"  {label} − publish wall time: p50 {q[49] * 1000:,.0f} ms, "
            f"p99 {q[98] * 1000:,.0f} ms, max {max(values) * 1000:,.0f} ms"
        )
    if not keep:
        drop(settings)


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
        "--split", action="store_true", help="decide and land in two processes (two cores)"
    )
    args = parser.parse_args()
    base = load_settings()
    log = ROOT / "var" / "bench-e2e-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    print(f"worker log: {log}")
    tune_gc_for_core_state()  # the ceiling folds as the shells do
    e2e: float | None = None
    if "throughput" not in args.skip:
        e2e = throughput(
            base, args.events, args.max_s, log, keep=args.keep, split=args.split,
            recover="recovery" not in args.skip,
        )  # fmt: skip
    if "latency" not in args.skip:
        if args.rate is not None:
            rate, why = args.rate, "--rate"
        elif e2e is not None:
            rate, why = e2e / 2, f"half the throughput phase's {e2e:,.0f}/s"
        else:
            rate, why = 5_000, "the default: throughput phase skipped"
        latency(base, rate, why, args.latency_s, log, keep=args.keep, split=args.split)


if __name__ == "__main__":
    main()
