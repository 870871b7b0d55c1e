"""The compose stack under test: docker-compose with the images of `make deploy-images`
(deploy/images/local.env), fresh secrets, host ports of its own, the cluster profile."""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import subprocess
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from pydantic import SecretStr

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
PROJECT = "tierflow-deploy-test"
LOGS = ROOT / "var" / "deploy-test" / "logs"
# Host ports away from the local stacks' (each engineer's and CI's), and below the
# kernel's ephemeral range (32768–60999): a client's outgoing connection there took 39000
# from the stack twice on this machine.
PORTS = {
    "KAFKA_HOST_PORT": 27092,
    "KAFKA_2_HOST_PORT": 27093,
    "KAFKA_3_HOST_PORT": 27094,
    "CLICKHOUSE_HOST_HTTP_PORT": 27123,
    "CLICKHOUSE_HOST_TCP_PORT": 27000,
    "PROMETHEUS_HOST_PORT": 27090,
}
SECRET_VARIABLES = (
    "TIERFLOW_CLICKHOUSE_PASSWORD",
    "TIERFLOW_CLICKHOUSE_READER_PASSWORD",
    "TIERFLOW_CLICKHOUSE_MIGRATOR_PASSWORD",
    "TIERFLOW_CLICKHOUSE_REVIEWER_PASSWORD",
    "TIERFLOW_PSEUDONYM_KEY",
    "GRAFANA_ADMIN_PASSWORD",
    "TIERFLOW_KAFKA_ADMIN_PASSWORD",
    "TIERFLOW_KAFKA_PASSWORD",
)
NODES = {1: "kafka", 2: "kafka-2", 3: "kafka-3"}  # KAFKA_NODE_ID → service


def _env_file(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines())
    return {k: v for k, v in (p for p in pairs if len(p) == 2) if not k.startswith("#")}


class ComposeStack:
    """One compose project; ``settings`` are the host side's (Kafka and ClickHouse through
    the published ports, the same secrets and agency registry as the containers)."""

    def __init__(self, agency_dir: Path) -> None:
        agency_dir.chmod(0o755)  # the containers' user reads the registry
        self.agency_dir = agency_dir
        self.secrets = {name: secrets.token_urlsafe(18) for name in SECRET_VARIABLES}
        self.env = {
            **os.environ,
            **_env_file(DEPLOY / "images" / "local.env"),
            **{name: str(port) for name, port in PORTS.items()},
            **self.secrets,
            "TIERFLOW_AGENCY_DIR": str(agency_dir),
            "TIERFLOW_TICK_CLOCK": "event",  # the scenario's time, as the offline answer's
        }
        self.settings = Settings(
            kafka_bootstrap=",".join(
                f"127.0.0.1:{PORTS[p]}"
                for p in ("KAFKA_HOST_PORT", "KAFKA_2_HOST_PORT", "KAFKA_3_HOST_PORT")
            ),
            kafka_admin_password=SecretStr(self.secrets["TIERFLOW_KAFKA_ADMIN_PASSWORD"]),
            kafka_password=SecretStr(self.secrets["TIERFLOW_KAFKA_PASSWORD"]),
            clickhouse_url=f"http://127.0.0.1:{PORTS['CLICKHOUSE_HOST_HTTP_PORT']}",
            clickhouse_password=SecretStr(self.secrets["TIERFLOW_CLICKHOUSE_PASSWORD"]),
            clickhouse_migrator_password=SecretStr(
                self.secrets["TIERFLOW_CLICKHOUSE_MIGRATOR_PASSWORD"]
            ),
            pseudonym_key=SecretStr(self.secrets["TIERFLOW_PSEUDONYM_KEY"]),
            agency_registry_path=agency_dir / "agencies.json",
            replication_factor=3,
            topic_prefix="tierflow",
            clickhouse_database="tierflow",
        )

    def host_env(self) -> dict[str, str]:
        """The environment of a host-side tierflow command talking to this stack."""
        s = self.settings
        return {
            **os.environ,
            "TIERFLOW_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
            "TIERFLOW_KAFKA_ADMIN_PASSWORD": s.kafka_admin_password.get_secret_value(),
            "TIERFLOW_KAFKA_PASSWORD": s.kafka_password.get_secret_value(),
            "TIERFLOW_AGENCY_REGISTRY_PATH": str(s.agency_registry()),
            "TIERFLOW_PSEUDONYM_KEY": s.pseudonym_key.get_secret_value(),
            "TIERFLOW_CLICKHOUSE_URL": s.clickhouse_url,
        }

    def compose(self, *args: str, check: bool = True, timeout: float = 300) -> str:
        argv = [
            "docker-compose", "-p", PROJECT, "-f", str(DEPLOY / "docker-compose.yml"),
            "--env-file", str(DEPLOY / "cluster.env"), *args,
        ]  # fmt: skip
        done = subprocess.run(
            argv, env=self.env, capture_output=True, text=True, timeout=timeout, check=False
        )
        if check and done.returncode != 0:
            raise AssertionError(f"{' '.join(args)} exited {done.returncode}: {done.stderr}")
        return done.stdout

    @staticmethod
    def container(service: str, index: int = 1) -> str:
        return f"{PROJECT}_{service}_{index}"  # Compose 1.29's naming

    @staticmethod
    def docker(*args: str, timeout: float = 120) -> str:
        done = subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)}: {done.stderr}")
        return done.stdout

    def up(self) -> None:
        for image in ("KAFKA_IMAGE", "CLICKHOUSE_IMAGE", "PROMETHEUS_IMAGE", "TIERFLOW_IMAGE"):
            probe = subprocess.run(
                ["docker", "image", "inspect", self.env[image]], capture_output=True, check=False
            )
            assert probe.returncode == 0, f"{self.env[image]} missing: `make deploy-images`"
        self.compose("down", "-v", "--remove-orphans", check=False)  # a previous run's
        # init waits for the first broker; it retries topics until all three serve them.
        self.compose("up", "-d", timeout=600)

    def down(self) -> None:
        LOGS.mkdir(parents=True, exist_ok=True)
        for name in self.docker("ps", "-a", "--format", "{{.Names}}").split():
            if name.startswith(PROJECT):
                done = subprocess.run(
                    ["docker", "logs", "--tail", "3000", name],
                    capture_output=True, timeout=60, check=False,
                )  # fmt: skip
                (LOGS / f"{name}.log").write_bytes(done.stdout + done.stderr)
        self.compose("down", "-v", "--remove-orphans", check=False)

    def kafka_tool(self, node: int, tool: str, *args: str) -> str:
        """A Kafka admin script run inside node ``node`` as the admin."""
        return self.docker(
            "exec", self.container(NODES[node]), f"/opt/kafka/bin/{tool}",
            "--bootstrap-server", "localhost:9092",
            "--command-config", "/tmp/tierflow-kafka/admin.properties", *args,
        )  # fmt: skip

    def active_controller(self, ask: int) -> int:
        """The node id of the KRaft quorum's leader (the active controller), asked of
        node ``ask``."""
        status = self.kafka_tool(ask, "kafka-metadata-quorum.sh", "describe", "--status")
        found = re.search(r"LeaderId:\s+(\d+)", status)
        assert found, status
        return int(found.group(1))

    def group_lags(self) -> dict[str, int]:
        """Every consumer group's lag, summed over its committed partitions, asked from
        the host (a kafka-consumer-groups JVM every few seconds cost the loaded machine
        more than the workers)."""
        return asyncio.run(_group_lags(self.settings))

    def firing(self, alert: str) -> bool:
        """Whether Prometheus has ``alert`` firing."""
        query = urllib.parse.urlencode(
            {"query": f'ALERTS{{alertname="{alert}",alertstate="firing"}}'}
        )
        url = f"http://127.0.0.1:{PORTS['PROMETHEUS_HOST_PORT']}/api/v1/query?{query}"
        with urllib.request.urlopen(url, timeout=5) as response:
            answer: dict[str, Any] = json.loads(response.read())
        return bool(answer["data"]["result"])

    def wait_alert(self, alert: str, *, firing: bool, timeout: float) -> float:
        """Seconds until ``alert`` is firing (or, ``firing=False``, no longer is)."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            try:
                if self.firing(alert) == firing:
                    return time.monotonic() - start
            except OSError:
                pass
            time.sleep(2)
        state = "fire" if firing else "clear"
        raise AssertionError(f"{alert} did not {state} within {timeout:.0f}s")


async def _group_lags(settings: Settings) -> dict[str, int]:
    admin = AIOKafkaAdminClient(**aiokafka_options(settings, "admin"))
    consumer = AIOKafkaConsumer(**aiokafka_options(settings, "admin"))
    await admin.start()
    await consumer.start()
    try:
        lags: dict[str, int] = {}
        for group, *_ in await admin.list_consumer_groups():
            offsets = await admin.list_consumer_group_offsets(group)
            ends = await consumer.end_offsets(list(offsets))
            lags[group] = sum(
                max(0, ends[tp] - meta.offset) for tp, meta in offsets.items() if meta.offset >= 0
            )
        return lags
    finally:
        await consumer.stop()
        await admin.close()
