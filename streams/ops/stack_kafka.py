"""Kafka for the local stack: jars from Maven Central, KRaft storage, one broker+controller.

The jars come from ``deploy/local/pom.xml`` (``mvn dependency:copy-dependencies``) into
``settings.kafka_cache``; a marker holding the pom's hash says the cache is complete, so an
interrupted download or an edited pom fetches again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import shutil
import socket
import subprocess
import uuid
from pathlib import Path

from aiokafka import AIOKafkaClient
from aiokafka.errors import KafkaError

from streams.ops.stack_proc import StackError
from topics.settings import Settings

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "local"
POM = DEPLOY_DIR / "pom.xml"
LOG4J2_CONFIG = DEPLOY_DIR / "log4j2.properties"
# 512 MB ran out of heap (broker fenced, clients timing out) after a day of test and bench
# runs had left ~2 700 topics behind; every test prefix adds ~15 topics of 6 partitions.
KAFKA_HEAP = "-Xmx1536m"


def require_tool(name: str, why: str) -> str:
    """The path of executable ``name`` or a one-line StackError saying what to install."""
    path = shutil.which(name)
    if path is None:
        raise StackError(f"`{name}` not found on PATH: {why}")
    return path


def lib_dir(settings: Settings) -> Path:
    """Where the Kafka jars live."""
    return settings.kafka_cache.resolve() / "lib"


def ensure_jars(settings: Settings) -> bool:
    """Fetch the Kafka jars unless the cache already holds them for this pom; True when it
    fetched."""
    if not POM.is_file():
        raise StackError(f"{POM} is missing: run tierflow from a checkout of the repository")
    pom_hash = hashlib.sha256(POM.read_bytes()).hexdigest()
    lib = lib_dir(settings)
    marker = lib / ".complete"
    if marker.is_file() and marker.read_text().strip() == pom_hash:
        return False
    mvn = require_tool("mvn", "Maven is needed once to fetch Kafka (apt-get install maven)")
    if lib.exists():
        shutil.rmtree(lib)
    lib.mkdir(parents=True)
    cmd = [
        mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
        f"-DoutputDirectory={lib}", "-DincludeScope=runtime",
    ]  # fmt: skip
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise StackError(f"fetching Kafka with Maven failed ({done.returncode}): {last[0]}")
    marker.write_text(pom_hash + "\n")
    return True


def server_properties(settings: Settings, data_dir: Path) -> str:
    """The broker's ``server.properties``: combined broker+controller on loopback."""
    port, ctrl = settings.kafka_port, settings.kafka_controller_port
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{ctrl}",
            f"listeners=PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{ctrl}",
            f"advertised.listeners=PLAINTEXT://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=PLAINTEXT",
            "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            f"log.dirs={data_dir}",
            "num.partitions=1",
            # `tierflow topics create` owns the topics (partitions, retention): a publish
            # to a missing topic must fail, not create a 1-partition one nobody planned.
            "auto.create.topics.enable=false",
            "offsets.topic.replication.factor=1",
            "share.coordinator.state.topic.replication.factor=1",
            "share.coordinator.state.topic.min.isr=1",
            "transaction.state.log.replication.factor=1",
            "transaction.state.log.min.isr=1",
            # Single broker: consumer groups need not wait for members that never come.
            "group.initial.rebalance.delay.ms=0",
            "",
        ]
    )


def new_cluster_id() -> str:
    """A Kafka cluster id: a random UUID, URL-safe base64 without padding (22 chars), not
    starting with ``-`` (Kafka's own rule, so it never reads as a command-line flag)."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


def java_argv(settings: Settings, main_class: str, *args: str) -> list[str]:
    """``java`` running ``main_class`` of the cached Kafka jars."""
    java = require_tool("java", "a Java 17+ runtime runs Kafka (apt-get install default-jre)")
    return [
        java, KAFKA_HEAP, "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={LOG4J2_CONFIG}",
        "-cp", f"{lib_dir(settings)}/*", main_class, *args,
    ]  # fmt: skip


def format_storage(settings: Settings, properties: Path, data_dir: Path) -> bool:
    """Format the KRaft storage once; True when it formatted (a no-op afterwards)."""
    if (data_dir / "meta.properties").is_file():
        return False
    argv = java_argv(
        settings, "kafka.tools.StorageTool", "format",
        "-t", new_cluster_id(), "-c", str(properties),
    )  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise StackError(f"formatting Kafka storage in {data_dir} failed: {last[0]}")
    return True


def answers_metadata(port: int, timeout: float = 5.0) -> bool:
    """Whether the broker on loopback ``port`` answers a metadata request naming at least
    one broker."""
    try:  # don't let aiokafka log connection errors while the broker is still starting
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except OSError:
        return False
    return asyncio.run(_metadata(f"127.0.0.1:{port}", timeout))


async def _metadata(bootstrap: str, timeout: float) -> bool:
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return bool(client.cluster.brokers())
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await client.close()
