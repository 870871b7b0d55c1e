"""Debian's Prometheus, started by the test on loopback with the repo's scrape config
(deploy/prometheus/prometheus.yml) pointed at a running worker, answers a PromQL query
with the number of records that worker consumed."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.ops.record_signer import register_keys
from tests.integration.kafka_helpers import run_cli, settings_env

REPO_CONFIG = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "prometheus.yml"
JOB = "tierflow-workers"
PROMETHEUS = shutil.which("prometheus")

pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="Debian's `prometheus` is not installed (apt-get install prometheus)",
)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _event(n: int, kind: str, agency: str, agency_type: str, **payload: Any) -> dict[str, Any]:
    return {
        "event_id": f"pm-{kind}-{n}",
        "kind": kind,
        "status": "Actual",
        "source": {"agency_id": agency, "agency_type": agency_type},
        "occurred_at": f"2026-03-02T09:{n:02d}:00+08:00",
        "reported_at": f"2026-03-02T09:{n:02d}:30+08:00",
        "region": "510104",
        **payload,
    }


# 3 stock reports from one hospital and 2 incident reports from 120 dispatch.
EVENTS = [
    _event(
        n,
        "stock",
        "hosp-a",
        "health",
        site_id="hosp-a",
        site_type="hospital",
        item="bed.icu",
        on_hand=10 - n,
        baseline=20,
    )
    for n in range(3)
] + [
    _event(
        n,
        "incident",
        "EM-5101-pm",  # (not the scenarios' 120-5101: that agency is registered as health)
        "emergency",
        incident_id="pm-inc-1",
        category="mass_casualty",
        casualties={"total": 3 + n},
    )
    for n in range(2)
]


def scrape_config(metrics_port: int) -> dict[str, Any]:
    """The repo's config with the worker job's service discovery (Docker DNS) replaced by
    the loopback worker, scraping every second so the test is quick."""
    config: dict[str, Any] = yaml.safe_load(REPO_CONFIG.read_text())
    job = next(j for j in config["scrape_configs"] if j["job_name"] == JOB)
    del job["dns_sd_configs"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{metrics_port}"]}]
    config["global"]["scrape_interval"] = "1s"
    config["scrape_configs"] = [job]
    return config


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def worker(
    stack: Settings, unique_name: Callable[..., str], ch_admin: Client, tmp_path: Path
) -> Iterator[tuple[Settings, int, Path]]:
    """A `tierflow worker` on its own topic prefix and database, with the test's events
    published; yields its settings, metrics port and log file."""
    name = unique_name("pm")
    settings = stack.model_copy(update={"topic_prefix": name, "clickhouse_database": name})
    port = free_port()
    run_cli(["topics", "create"], settings)
    run_cli(["db", "migrate"], settings)
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    register_keys(
        settings, {(e["source"]["agency_id"], e["source"]["agency_type"]) for e in EVENTS}
    )
    run_cli(["publish", str(events)], settings)
    env = {
        **os.environ,
        **settings_env(settings),
        "TIERFLOW_METRICS_PORT": str(port),
        "TIERFLOW_METRICS_HOST": "127.0.0.1",
        "TIERFLOW_STACK_HOME": str(tmp_path / "stack"),
        "TIERFLOW_AGENCY_REGISTRY_PATH": str(settings.agency_registry().resolve()),
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "streams.live"],
            cwd=tmp_path,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        yield settings, port, log
    finally:
        stop(process)
        for database in (name, f"{name}_exercise"):
            ch_admin.command(f"DROP DATABASE IF EXISTS {database}")


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[Callable[[int], str]]:
    """Start Prometheus on loopback scraping the given metrics port; returns its URL."""
    started: list[subprocess.Popen[bytes]] = []

    def start(metrics_port: int) -> str:
        assert PROMETHEUS is not None
        config = tmp_path / "prometheus.yml"
        config.write_text(yaml.safe_dump(scrape_config(metrics_port)))
        port = free_port()
        with (tmp_path / "prometheus.log").open("wb") as log:
            started.append(
                subprocess.Popen(
                    [
                        PROMETHEUS,
                        f"--config.file={config}",
                        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                        f"--web.listen-address=127.0.0.1:{port}",
                    ],
                    cwd=tmp_path,
                    stdout=subprocess.DEVNULL,
                    stderr=log,
                )
            )
        return f"http://127.0.0.1:{port}"

    yield start
    for process in started:
        stop(process)


def query(base: str, promql: str) -> list[dict[str, Any]]:
    url = f"{base}/api/v1/query?{urllib.parse.urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=5) as response:
        body = json.load(response)
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


def wait_for(
    base: str, promql: str, expected: dict[str, float], deadline_s: float, log: Path
) -> None:
    """Poll ``promql`` until its series (by their one grouping label, or "" ) equal
    ``expected``."""
    seen: dict[str, float] = {}
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        try:
            seen = {
                next(iter(s["metric"].values()), ""): float(s["value"][1])
                for s in query(base, promql)
            }
        except OSError:
            seen = {}  # Prometheus still starting
        if seen == expected:
            return
        time.sleep(1)
    tail = log.read_text(errors="replace")[-3000:]
    raise AssertionError(f"{promql} = {seen}, expected {expected}; worker log:\n{tail}")


def test_promql_returns_the_workers_consumed_count(
    worker: tuple[Settings, int, Path], prometheus: Callable[[int], str]
) -> None:
    settings, metrics_port, log = worker
    base = prometheus(metrics_port)
    wait_for(base, f'sum(tierflow_records_consumed_total{{job="{JOB}"}})', {"": 5.0}, 120, log)
    prefix = settings.topic_prefix
    wait_for(
        base,
        f'sum by (topic) (tierflow_records_consumed_total{{job="{JOB}"}})',
        {f"{prefix}.stock.v1": 3.0, f"{prefix}.incidents.v1": 2.0},
        10,
        log,
    )
    assert query(base, f'up{{job="{JOB}"}}')[0]["value"][1] == "1"
