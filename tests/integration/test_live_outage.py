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

from topics.settings import Settings

from .live_support import (
    assert_log_landed,
    live_settings,
    prepare,
    publish,
    publish_copies,
    running_worker,
    scrape,
    simulate,
    wait_landed,
)
from .tcp_gate import Gate

OUTAGE_S = 20.0
FLOOD = 60_000  # case records published during the outage (already-seen event ids)


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
        v for k, v in metrics.items()
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
    decide = f'group="{settings.topic_prefix}.decide"'
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
            published_at = time.monotonic() - began
            time.sleep(max(OUTAGE_S - (time.monotonic() - began), 0))
            during = scrape(settings.metrics_port)
        gate.open()
        reopened = time.monotonic()
        print(f"published in {published_at:.1f}s; rss before {before>>20} MiB,"
              f" samples {[s>>20 for s in rss.samples]}")
        print("landing lag", _metric(during, "tierflow_consumer_lag_records", landing),
              "cases", _metric(during, "tierflow_consumer_lag_records", landing, ".cases.v1\""),
              "decide", _metric(during, "tierflow_consumer_lag_records", decide, ".cases.v1\""))

        deadline = reopened + 60
        while time.monotonic() < deadline:
            now = scrape(settings.metrics_port)
            if (_metric(now, "tierflow_consumer_lag_records", landing) == 0
                    and _metric(now, "tierflow_sink_paused") == 0):
                break
            time.sleep(0.5)
        print(f"recovered in {time.monotonic() - reopened:.1f}s")
        print("decide", _metric(now, "tierflow_consumer_lag_records", decide, ".cases.v1\""))
        wait_landed(ch_admin, db, rejected=first.malformed + rest.malformed, proc=proc)
        assert_log_landed(ch_admin, settings)
