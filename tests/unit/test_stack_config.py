"""The files `stack up` writes: ClickHouse users/config, Kafka properties, cluster ids."""

from __future__ import annotations

import base64
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from pydantic import SecretStr

from streams.config.settings import Settings
from streams.ops.stack_clickhouse import config_xml, users_xml
from streams.ops.stack_kafka import ensure_jars, java_argv, new_cluster_id, server_properties
from streams.ops.stack_proc import StackError

# `printf PASSWORD | sha256sum`, computed outside the code under test.
SHA_TIERFLOW = "5aaebaa1b89a449641594c37172f978df4ca70476d5a6c09e20a51d99da8b6be"
SHA_AWKWARD = "08aa3a867086640ba5bdae5adbc7d12db05bf60333c5e678cd6e078596788cc1"


def _settings(**overrides: object) -> Settings:
    return Settings(
        kafka_port=31092,
        kafka_controller_port=31093,
        clickhouse_http_port=31123,
        clickhouse_tcp_port=31000,
        **overrides,  # type: ignore[arg-type]
    )


def test_users_store_password_hashes_never_the_passwords() -> None:
    s = _settings(
        clickhouse_password=SecretStr("tierflow"),
        clickhouse_reader_password=SecretStr("s3cr&t<x>"),
    )
    text = users_xml(s)
    assert "s3cr&t<x>" not in text and "s3cr&amp;t" not in text
    users = ET.fromstring(text).find("users")
    assert users is not None
    writer, reader = users.find("tierflow"), users.find("grafana")
    assert writer is not None and reader is not None
    assert writer.findtext("password_sha256_hex") == SHA_TIERFLOW
    assert writer.findtext("access_management") is None  # no user may manage access
    assert [q.text for q in writer.findall("grants/query")] == ["GRANT tierflow_write"]
    assert reader.findtext("password_sha256_hex") == SHA_AWKWARD
    assert reader.findtext("profile") == "tierflow_command_view"


def test_reader_profile_is_readonly_2_and_default_may_only_open_listeners() -> None:
    root = ET.fromstring(users_xml(_settings()))
    assert root.findtext("profiles/tierflow_command_view/readonly") == "2"
    default = root.find("users/default")
    assert default is not None
    assert default.findtext("password") in ("", None)  # the engine's own session needs it
    grants = [q.text for q in default.findall("grants/query")]
    assert grants == ["GRANT SYSTEM LISTEN ON *.*"]
    for user in root.findall("users/*"):
        assert sorted(ip.text or "" for ip in user.findall("networks/ip")) == ["127.0.0.1", "::1"]


def test_clickhouse_listens_on_loopback_on_the_configured_ports() -> None:
    root = ET.fromstring(config_xml(_settings()))
    assert root.findtext("listen_host") == "127.0.0.1"
    assert root.findtext("http_port") == "31123"
    assert root.findtext("tcp_port") == "31000"
    assert root.findtext("users_config") == "users.xml"
    rules = "access_control_improvements/select_from_system_db_requires_grant"
    assert root.findtext(rules) == "true"


def test_kafka_properties_single_kraft_node_on_loopback(tmp_path: Path) -> None:
    text = server_properties(_settings(), tmp_path / "data")
    props = dict(line.split("=", 1) for line in text.splitlines() if line)
    assert props["process.roles"] == "broker,controller"
    assert props["controller.quorum.voters"] == "1@127.0.0.1:31093"
    assert props["listeners"] == "BROKER://127.0.0.1:31092,CONTROLLER://127.0.0.1:31093"
    assert props["advertised.listeners"] == "BROKER://127.0.0.1:31092"
    assert props["listener.security.protocol.map"] == (
        "BROKER:SASL_PLAINTEXT,CONTROLLER:SASL_PLAINTEXT"
    )
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["super.users"] == "User:admin"
    assert props["authorizer.class.name"].endswith("StandardAuthorizer")
    assert props["log.dirs"] == str(tmp_path / "data")
    assert props["offsets.topic.replication.factor"] == "1"
    assert props["transaction.state.log.replication.factor"] == "1"
    assert props["auto.create.topics.enable"] == "false"  # `tierflow topics create` owns them


def test_cluster_ids_are_kafka_shaped_and_distinct() -> None:
    ids = [new_cluster_id() for _ in range(500)]
    assert len(set(ids)) == len(ids)
    for cid in ids:
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cid)
        assert not cid.startswith("-")
        assert len(base64.urlsafe_b64decode(cid + "==")) == 16


def test_clients_follow_the_stack_ports_unless_addresses_are_set() -> None:
    s = _settings()
    assert s.kafka_bootstrap == "127.0.0.1:31092"
    assert s.clickhouse_url == "http://127.0.0.1:31123"
    remote = _settings(kafka_bootstrap="kafka:9092", clickhouse_url="http://ch:8123")
    assert (remote.kafka_bootstrap, remote.clickhouse_url) == ("kafka:9092", "http://ch:8123")


def test_missing_tools_are_named_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no java, no mvn
    s = _settings(kafka_cache=tmp_path / "cache")
    with pytest.raises(StackError, match=r"^`mvn` not found on PATH: .*maven") as mvn:
        ensure_jars(s)
    with pytest.raises(StackError, match=r"^`java` not found on PATH") as java:
        java_argv(s, "kafka.Kafka")
    assert "\n" not in str(mvn.value) + str(java.value)
