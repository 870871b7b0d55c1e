"""Outage: ClickHouse unreachable for ~20 s while records keep coming, then back. The
worker reaches ClickHouse through a gate the test closes (the shared server stays up).
Landing pauses, memory stays bounded while the backlog grows, and once ClickHouse answers
again the lag drains and every record of the log is a row: nothing lost."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psutil
import pytest
from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings

from .live_support import (
    live_settings,
    prepare,
    publish,
    publish_copies,
    running_worker,
    scrape,
    simulate,
    wait_landed,
)
from .offline_answer import assert_log_landed
from .tcp_gate import Gate

OUTAGE_S = 20.0
# Case records published during the outage: event ids the core has already seen, so the
# decide stage's state does not grow, but each one is a row the landing stage owes (it
# lands them from the decided log, where the decide stage writes every record it accepts).
FLOOD = 120_000
# RSS may grow by at most this much during the outage: the decide stage's buffers as it
# reads the flood and the one batch the landing holds while it retries, gathered for up to
# WORKER_LANDING_LINGER_S (1 s), up to 20 000 records. Measured: 123 MiB (~20 MiB with a
# flood of 60 000 when the landing landed each fetch and so paused on a small batch). A
# landing stage that kept fetching instead of pausing grew by 266 MiB (planted: its pause
# and seek taken out); the sink would accept up to 200 000 buffered rows.
RSS_GROWTH_BOUND = 192 << 20
RECOVERY_S = 30.0
INPUTS = (".cases.v1", ".incidents.v1", ".transfers.v1", ".stock.v1")


@pytest.fixture
def gate(stack: Settings) -> Iterator[Gate]:
    url = urlsplit(stack.clickhouse_url)
    gate = Gate((url.hostname or "127.0.0.1", url.port or 8123))
    gate.open()
    yield gate
    gate.close()


class RssSampler:
    """The worker's resident set size, sampled every 0.2 s in a thread until stopped."""

    def __init__(self, pid: int) -> None:
        self.process = psutil.Process(pid)
        self.samples: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.samples.append(self.process.memory_info().rss)
            self._stop.wait(0.2)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _metric(metrics: dict[str, float], name: str, *labels: str) -> float:
    return sum(
        v
        for k, v in metrics.items()
        if k.split("{")[0] == name and all(label in k for label in labels)
    )


def test_clickhouse_outage_pauses_landing_bounded_and_loses_nothing(
    stack: Settings,
    ch_admin: Client,
    gate: Gate,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    settings = live_settings(
        stack, unique_name("outage"), clickhouse_url=f"http://127.0.0.1:{gate.port}"
    )
    db, landing = settings.clickhouse_database, f'group="{settings.topic_prefix}.landing"'
    decide = f'group="{settings.topic_prefix}.decide-intake"'
    lines, _truth = simulate("cholera", 5, tmp_path / "cholera.jsonl")
    half = len(lines) // 2
    prepare(settings)
    first = publish(settings, lines[:half])

    with running_worker(settings, tmp_path / "worker.log") as proc:
        wait_landed(ch_admin, db, rejected=first.malformed, proc=proc)
        worker = psutil.Process(proc.pid)
        before = worker.memory_info().rss

        gate.close()
        began = time.monotonic()
        with RssSampler(proc.pid) as rss:
            rest = publish(settings, lines[half:])
            publish_copies(settings, lines, FLOOD)
            time.sleep(max(OUTAGE_S - (time.monotonic() - began), 0))
            # the lag gauges are refreshed every few seconds, later on a busy machine:
            # the outage lasts until they have seen the flood (or a bound)
            until = time.monotonic() + OUTAGE_S
            during = scrape(settings.metrics_port)
            while time.monotonic() < until and (
                _metric(during, "tierflow_consumer_lag_records", landing, '.decided.v1"') < FLOOD
            ):
                time.sleep(0.5)
                during = scrape(settings.metrics_port)
        gate.open()
        reopened = time.monotonic()

        # The outage was seen: landing paused and retried, its backlog counted in the lag.
        assert _metric(during, "tierflow_sink_paused") == 1
        assert _metric(during, "tierflow_sink_retries_total") > 0
        assert _metric(during, "tierflow_consumer_lag_records", landing, '.decided.v1"') >= FLOOD
        growth = max(rss.samples) - before
        assert len(rss.samples) > 50
        assert growth < RSS_GROWTH_BOUND, f"RSS grew {growth >> 20} MiB during the outage"

        # Lag recovers: landing drains its backlog, the decide stage its inputs.
        while True:
            now = scrape(settings.metrics_port)
            lags = [
                _metric(now, "tierflow_consumer_lag_records", landing),
                *(_metric(now, "tierflow_consumer_lag_records", decide, f'{t}"') for t in INPUTS),
            ]
            if not any(lags) and _metric(now, "tierflow_sink_paused") == 0:
                break
            assert time.monotonic() - reopened < RECOVERY_S, f"lag still {lags}"
            time.sleep(0.5)
        landed = wait_landed(ch_admin, db, rejected=first.malformed + rest.malformed, proc=proc)

    assert_log_landed(ch_admin, settings)
    cases = {e.event_id for e in (*first.events, *rest.events) if e.kind == "case"}
    assert landed["cases"] == len(cases)
