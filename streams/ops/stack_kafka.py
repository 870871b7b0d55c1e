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
from aiokafka.conn import create_conn
from aiokafka.errors import KafkaError, SaslAuthenticationFailed

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from streams.ops.stack_proc import StackError

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
    """The broker's ``server.properties``: combined broker+controller on loopback, clients
    authenticated with SASL/SCRAM-SHA-512 (``BROKER``, SASL_PLAINTEXT) and authorised by
    ACLs (StandardAuthorizer, nothing allowed without an ACL, ``admin`` a super user).

    The controller listener speaks SASL/PLAIN with the admin alone: SCRAM credentials live
    in the metadata log the controller serves, so they cannot authenticate the controller
    itself."""
    port, ctrl = settings.kafka_port, settings.kafka_controller_port
    protocol = settings.kafka_security_protocol
    admin = settings.kafka_admin_username
    password = settings.kafka_admin_password.get_secret_value()
    scram = (
        "org.apache.kafka.common.security.scram.ScramLoginModule required"
        f' username="{admin}" password="{password}";'
    )
    plain = (
        "org.apache.kafka.common.security.plain.PlainLoginModule required"
        f' username="{admin}" password="{password}" user_{admin}="{password}";'
    )
    return "\n".join(
        [
            "process.roles=broker,controller",
            "node.id=1",
            f"controller.quorum.voters=1@127.0.0.1:{ctrl}",
            f"listeners=BROKER://127.0.0.1:{port},CONTROLLER://127.0.0.1:{ctrl}",
            f"advertised.listeners=BROKER://127.0.0.1:{port}",
            "controller.listener.names=CONTROLLER",
            "inter.broker.listener.name=BROKER",
            f"listener.security.protocol.map=BROKER:{protocol},CONTROLLER:SASL_PLAINTEXT",
            "sasl.enabled.mechanisms=SCRAM-SHA-512",
            "sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512",
            f"listener.name.broker.scram-sha-512.sasl.jaas.config={scram}",
            "sasl.mechanism.controller.protocol=PLAIN",
            "listener.name.controller.sasl.enabled.mechanisms=PLAIN",
            f"listener.name.controller.plain.sasl.jaas.config={plain}",
            "authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "allow.everyone.if.no.acl.found=false",
            f"super.users=User:{admin}",
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
            *_tls_lines(settings),
            "",
        ]
    )


def _tls_lines(settings: Settings) -> list[str]:
    """The broker's TLS settings when it serves SASL_SSL: PEM key store (and trust store,
    the CA clients are given)."""
    if settings.kafka_security_protocol != "SASL_SSL":
        return []
    if settings.kafka_ssl_keystore is None or settings.kafka_ca_file is None:
        raise StackError(
            "SASL_SSL on the local stack needs TIERFLOW_KAFKA_SSL_KEYSTORE (the broker's PEM"
            " key and certificate) and TIERFLOW_KAFKA_CA_FILE (the CA that signed it)"
        )
    return [
        "ssl.keystore.type=PEM",
        f"ssl.keystore.location={settings.kafka_ssl_keystore.resolve()}",
        "ssl.truststore.type=PEM",
        f"ssl.truststore.location={settings.kafka_ca_file.resolve()}",
    ]


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


# What the broker logs once it serves (after loading every partition's log).
STARTED_LINE = "Kafka Server started"

# Written beside meta.properties by a format that created the SCRAM principals: storage
# formatted before authentication existed has no credentials to log in with.
SCRAM_MARKER = "tierflow-scram"


def scram_argument(username: str, password: str) -> str:
    """One ``--add-scram`` value of ``kafka-storage format`` (and ConfigCommand's
    ``--add-config``) for ``username``."""
    return f"SCRAM-SHA-512=[name={username},password={password}]"


def format_storage(settings: Settings, properties: Path, data_dir: Path) -> bool:
    """Format the KRaft storage once, with the admin's and the worker's SCRAM credentials;
    True when it formatted (a no-op afterwards)."""
    if (data_dir / "meta.properties").is_file():
        if not (data_dir / SCRAM_MARKER).is_file():
            raise StackError(
                f"Kafka storage in {data_dir} predates SASL authentication: stop the stack"
                f" and remove {data_dir} (its topics are lost), then `tierflow stack up`"
            )
        return False
    users = [
        (settings.kafka_admin_username, settings.kafka_admin_password.get_secret_value()),
        (settings.kafka_username, settings.kafka_password.get_secret_value()),
    ]
    scram = [arg for user in users for arg in ("--add-scram", scram_argument(*user))]
    argv = java_argv(
        settings, "kafka.tools.StorageTool", "format",
        "-t", new_cluster_id(), "-c", str(properties), *scram,
    )  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or ["no output"]
        raise StackError(f"formatting Kafka storage in {data_dir} failed: {last[0]}")
    (data_dir / SCRAM_MARKER).write_text("SCRAM-SHA-512\n")
    return True


def answers_metadata(settings: Settings, timeout: float = 5.0) -> bool:
    """Whether the local broker answers the admin's metadata request naming at least one
    broker; StackError when it refuses the admin's login (waiting does not change that)."""
    try:  # don't let aiokafka log connection errors while the broker is still starting
        socket.create_connection(("127.0.0.1", settings.kafka_port), timeout=1).close()
    except OSError:
        return False
    if asyncio.run(_metadata(settings, timeout)):
        return True
    if asyncio.run(_login_refused(settings, timeout)):
        raise StackError(
            f"Kafka at 127.0.0.1:{settings.kafka_port} refuses the login of"
            f" {settings.kafka_admin_username!r}: TIERFLOW_KAFKA_ADMIN_PASSWORD is not the"
            " password its storage was formatted with, or the storage holds a SCRAM"
            " deletion (an `agency revoke` before this release) that Kafka 4.3 replays"
            " wrongly (README, Known limits); stop the stack and remove"
            f" {settings.stack_home.resolve() / 'kafka'} (its topics are lost)"
        )
    return False


async def _metadata(settings: Settings, timeout: float) -> bool:
    options = aiokafka_options(settings, "admin")
    options["bootstrap_servers"] = f"127.0.0.1:{settings.kafka_port}"
    client = AIOKafkaClient(**options, request_timeout_ms=int(timeout * 1000))
    try:
        await asyncio.wait_for(client.bootstrap(), timeout)
        return bool(client.cluster.brokers())
    except (KafkaError, OSError, TimeoutError):
        return False
    finally:
        await client.close()


async def _login_refused(settings: Settings, timeout: float) -> bool:
    """Whether the broker answers but refuses the admin's SASL login (the client's
    bootstrap folds that into "unable to bootstrap", so ask one connection)."""
    options = aiokafka_options(settings, "admin")
    del options["bootstrap_servers"]
    try:
        conn = await asyncio.wait_for(
            create_conn("127.0.0.1", settings.kafka_port, **options), timeout
        )
    except SaslAuthenticationFailed:
        return True
    except (KafkaError, OSError, TimeoutError):
        return False
    conn.close()
    return False
