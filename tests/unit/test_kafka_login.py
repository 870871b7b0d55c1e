"""An agency's Kafka login read from the librdkafka config `tierflow agency add` writes
(`tierflow publish --as ID --credentials DIR`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from streams.config.kafka_security import aiokafka_options, read_login
from streams.config.settings import Settings
from topics.errors import TierflowError


def test_the_login_of_a_properties_file_is_what_the_client_speaks_as(tmp_path: Path) -> None:
    path = tmp_path / "cdc.properties"
    path.write_text("bootstrap.servers=x:1\nsasl.username=cdc\nsasl.password=s3=cr3t\n")
    login = read_login(path)
    assert (login.username, login.password.get_secret_value()) == ("cdc", "s3=cr3t")
    assert "s3=cr3t" not in repr(login)
    options = aiokafka_options(Settings(), login)
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("cdc", "s3=cr3t")


def test_a_file_without_a_login_is_named(tmp_path: Path) -> None:
    path = tmp_path / "cdc.properties"
    path.write_text("bootstrap.servers=x:1\n")
    with pytest.raises(TierflowError, match=r"cdc\.properties: no sasl\.username"):
        read_login(path)
    with pytest.raises(TierflowError, match=r"cannot read .*absent\.properties"):
        read_login(tmp_path / "absent.properties")
