"""The compose file's Kafka brokers start as the local stack's do: deploy/kafka/start.sh
(run against stub Kafka tools) writes the same SASL, listener and ACL settings, formats
storage with the admin's and the worker's SCRAM credentials, refuses to start without a
secret; the compose clients authenticate, and only ``init`` holds the admin's password."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.unit.test_deploy_files import DEPLOY, compose_file

START = DEPLOY / "kafka/start.sh"
_SECURITY_KEYS = (
    "sasl.enabled.mechanisms",
    "sasl.mechanism.inter.broker.protocol",
    "sasl.mechanism.controller.protocol",
    "listener.name.controller.sasl.enabled.mechanisms",
    "inter.broker.listener.name",
    "controller.listener.names",
    "authorizer.class.name",
    "allow.everyone.if.no.acl.found",
    "super.users",
    "auto.create.topics.enable",
)


def _properties(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if "=" in line)


def _run_start(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    """deploy/kafka/start.sh against stub Kafka tools that record what they were given."""
    home, data = tmp_path / "kafka", tmp_path / "data"
    (home / "bin").mkdir(parents=True, exist_ok=True)
    data.mkdir(exist_ok=True)
    stubs = {
        "kafka-storage.sh": (
            f'printf "%s\\n" "$@" > {tmp_path}/format.args; touch {data}/meta.properties'
        ),
        "kafka-server-start.sh": f'cp "$1" {tmp_path}/started.properties',
    }
    for name, body in stubs.items():
        (home / "bin" / name).write_text(f"#!/bin/sh\n{body}\n")
        (home / "bin" / name).chmod(0o755)
    compose_env = compose_file()["x-kafka-env"]
    values = {
        "PATH": "/usr/bin:/bin",
        "KAFKA_HOME": str(home),
        "KAFKA_DATA_DIR": str(data),
        "KAFKA_CONF_DIR": str(tmp_path / "conf"),
        "KAFKA_NODE_ID": "1",
        "CLUSTER_ID": "YAGt3i_mUmKMsUjUs1qrTA",
        "KAFKA_VOTERS": "1@kafka:9093",
        "KAFKA_ADVERTISED_LISTENERS": "BROKER://kafka:9092,EXTERNAL://localhost:29092",
        "KAFKA_ADMIN_USERNAME": compose_env["KAFKA_ADMIN_USERNAME"],
        "KAFKA_ADMIN_PASSWORD": "admin-secret",
        "KAFKA_WORKER_USERNAME": compose_env["KAFKA_WORKER_USERNAME"],
        "KAFKA_WORKER_PASSWORD": "worker-secret",
        **env,
    }
    return subprocess.run(
        ["sh", str(START)], capture_output=True, text=True, env=values, check=False, timeout=30
    )


def test_compose_brokers_are_secured_as_the_local_stack(tmp_path: Path) -> None:
    from streams.config.settings import Settings
    from streams.ops.stack_kafka import server_properties

    done = _run_start(tmp_path)
    assert done.returncode == 0, done.stderr
    started = _properties((tmp_path / "started.properties").read_text())
    local = _properties(server_properties(Settings(), tmp_path / "local"))
    assert {k: started.get(k) for k in _SECURITY_KEYS} == {k: local[k] for k in _SECURITY_KEYS}
    assert started["allow.everyone.if.no.acl.found"] == "false"
    assert started["super.users"] == "User:admin"
    protocols = dict(p.split(":") for p in started["listener.security.protocol.map"].split(","))
    assert protocols == {"BROKER": "SASL_PLAINTEXT", "EXTERNAL": "SASL_PLAINTEXT",
                         "CONTROLLER": "SASL_PLAINTEXT"}  # fmt: skip
    for listener in ("broker", "external"):
        jaas = started[f"listener.name.{listener}.scram-sha-512.sasl.jaas.config"]
        assert 'username="admin" password="admin-secret"' in jaas
    # SCRAM credentials of the admin and the worker are created when storage is formatted
    args = (tmp_path / "format.args").read_text().splitlines()
    assert "SCRAM-SHA-512=[name=admin,password=admin-secret]" in args
    assert "SCRAM-SHA-512=[name=worker,password=worker-secret]" in args
    assert oct((tmp_path / "conf/server.properties").stat().st_mode & 0o777) == "0o600"


def test_compose_brokers_serve_sasl_ssl_with_the_mounted_pem_files(tmp_path: Path) -> None:
    done = _run_start(tmp_path, KAFKA_SECURITY_PROTOCOL="SASL_SSL")
    assert done.returncode == 0, done.stderr
    started = _properties((tmp_path / "started.properties").read_text())
    assert set(started["listener.security.protocol.map"].split(",")) == {
        "BROKER:SASL_SSL", "EXTERNAL:SASL_SSL", "CONTROLLER:SASL_SSL"
    }  # fmt: skip
    assert started["ssl.keystore.location"] == "/etc/kafka/tls/node.pem"
    assert started["ssl.truststore.location"] == "/etc/kafka/tls/ca.pem"
    health = _properties((tmp_path / "conf/admin.properties").read_text())
    assert health["security.protocol"] == "SASL_SSL"


@pytest.mark.parametrize("missing", ["KAFKA_ADMIN_PASSWORD", "KAFKA_WORKER_PASSWORD"])
def test_compose_brokers_refuse_to_start_without_a_secret(tmp_path: Path, missing: str) -> None:
    done = _run_start(tmp_path, **{missing: ""})
    assert done.returncode != 0
    assert not (tmp_path / "started.properties").exists()


def test_compose_clients_authenticate_and_only_topic_creators_hold_the_admin_password() -> None:
    compose = compose_file()
    services = compose["services"]
    tierflow_env = compose["x-tierflow-env"]
    assert (
        tierflow_env["TIERFLOW_KAFKA_USERNAME"] == compose["x-kafka-env"]["KAFKA_WORKER_USERNAME"]
    )
    assert "TIERFLOW_KAFKA_PASSWORD" in tierflow_env
    assert "TIERFLOW_KAFKA_SECURITY_PROTOCOL" in tierflow_env
    for name in ("kafka", "kafka-2", "kafka-3"):
        assert services[name]["entrypoint"][-1] == "/etc/kafka/tierflow/start.sh"
        assert "./kafka:/etc/kafka/tierflow:ro" in services[name]["volumes"]
        assert "--command-config" in services[name]["healthcheck"]["test"][-1]
        assert services[name]["environment"]["KAFKA_ADVERTISED_LISTENERS"].startswith("BROKER://")
    holders = [
        n
        for n, s in services.items()
        if "TIERFLOW_KAFKA_ADMIN_PASSWORD" in s.get("environment", {})
    ]
    # init creates the registry's and the live shell's topics and grants the worker its
    # ACLs; the workers speak as the worker principal alone
    assert holders == ["init"]
