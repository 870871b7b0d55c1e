"""Development secrets never leave the local stack (issue 12, item 7): with Kafka or
ClickHouse off loopback, a secret still at its (public) development default is refused by
the settings check, by every CLI command and by the worker, in one line naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import SecretStr
from typer.testing import CliRunner

from streams.cli import app
from streams.config.settings import (
    DEV_SECRETS,
    EXIT_DEV_SECRET,
    WORKER_SECRETS,
    DevSecretError,
    Settings,
    refuse_dev_secrets,
    remote_servers,
)

ROOT = Path(__file__).resolve().parents[2]
# Values a production operator would set, none of them a default.
OWN = {name: SecretStr(f"own-{name}") for name in DEV_SECRETS}


def _settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ({"kafka_bootstrap": "kafka.example:9092"}, "Kafka at kafka.example:9092"),
        ({"kafka_bootstrap": "127.0.0.1:9092,10.0.0.7:9092"}, "Kafka at 10.0.0.7:9092"),
        ({"clickhouse_url": "https://ch.example:8443"}, "ClickHouse at https://ch.example:8443"),
        ({"clickhouse_url": "http://192.168.1.5:8123"}, "ClickHouse at http://192.168.1.5:8123"),
    ],
)
def test_a_remote_server_with_a_development_secret_is_refused(
    address: dict[str, str], expected: str
) -> None:
    settings = _settings(**address)
    with pytest.raises(DevSecretError) as refused:
        refuse_dev_secrets(settings)
    message = str(refused.value)
    assert message.startswith(f"TIERFLOW_{DEV_SECRETS[0].upper()} is the development default")
    assert expected in message and "\n" not in message


@pytest.mark.parametrize("name", DEV_SECRETS)
def test_each_secret_left_at_its_default_is_named(name: str) -> None:
    others = {k: v for k, v in OWN.items() if k != name}
    settings = _settings(kafka_bootstrap="kafka.example:9092", **others)
    with pytest.raises(DevSecretError, match=rf"^TIERFLOW_{name.upper()} is the development"):
        refuse_dev_secrets(settings)


def test_own_secrets_run_anywhere_and_defaults_run_on_loopback() -> None:
    refuse_dev_secrets(
        _settings(kafka_bootstrap="kafka.example:9092", clickhouse_url="http://ch:8123", **OWN)
    )
    for local in (
        {"kafka_bootstrap": "localhost:9092", "clickhouse_url": "http://localhost:8123"},
        {"kafka_bootstrap": "[::1]:9092,127.0.0.2:9093", "clickhouse_url": "http://[::1]:8123"},
        {},  # the stack's own ports
    ):
        settings = _settings(**local)
        assert remote_servers(settings) == []
        refuse_dev_secrets(settings)


def test_a_worker_needs_no_kafka_admin_login() -> None:
    # `tierflow topics create` makes the live topics; the compose workers have no admin login
    mine = {k: v for k, v in OWN.items() if k != "kafka_admin_password"}
    settings = _settings(kafka_bootstrap="kafka.example:9092", **mine)
    with pytest.raises(DevSecretError, match="TIERFLOW_KAFKA_ADMIN_PASSWORD"):
        refuse_dev_secrets(settings)
    refuse_dev_secrets(settings, WORKER_SECRETS)
    assert set(DEV_SECRETS) - set(WORKER_SECRETS) == {"kafka_admin_password"}


def test_a_name_that_only_resolves_to_loopback_is_still_remote() -> None:
    # Names are not resolved: a hosts-file alias must not let development secrets out.
    assert remote_servers(_settings(kafka_bootstrap="kafka:9092")) == ["Kafka at kafka:9092"]


def test_every_cli_command_refuses_in_one_line() -> None:
    env = {"TIERFLOW_CLICKHOUSE_URL": "http://ch.example:8123"}
    for args in (["rules", "check", "x.yaml"], ["db", "migrate"], ["stack", "status"]):
        result = CliRunner().invoke(app, args, env=env)
        assert result.exit_code == EXIT_DEV_SECRET, (args, result.output)
        assert result.stderr.splitlines() == [
            "tierflow: TIERFLOW_CLICKHOUSE_PASSWORD is the development default; set a secret"
            " of your own before using ClickHouse at http://ch.example:8123 (not loopback)"
        ]


def test_the_worker_refuses_before_it_starts() -> None:
    env = {"PATH": "/usr/bin:/bin", "TIERFLOW_KAFKA_BOOTSTRAP": "kafka.example:9092"}
    env |= {f"TIERFLOW_{k.upper()}": v.get_secret_value() for k, v in OWN.items()}
    env["TIERFLOW_PSEUDONYM_KEY"] = "change-me-in-production"  # the default, spelled out
    done = subprocess.run(
        [sys.executable, "-m", "streams.live"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == EXIT_DEV_SECRET, done.stderr
    assert done.stderr.splitlines() == [
        "tierflow worker: TIERFLOW_PSEUDONYM_KEY is the development default; set a secret"
        " of your own before using Kafka at kafka.example:9092 (not loopback)"
    ]
