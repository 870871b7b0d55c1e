"""SASL_SSL (production's protocol) on a stack of the test's own: a CA the test makes with
openssl signs the broker's certificate; aiokafka and kcat trust that CA (the
``kafka_ca_file`` setting) and authenticate with SCRAM over TLS."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaConnectionError

from streams.config.kafka_security import aiokafka_options
from streams.config.settings import Settings
from streams.ops.stack import stack_down, stack_up
from tests.integration import kcat
from tests.integration.test_stack import _private_settings

pytestmark = pytest.mark.integration


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca_and_broker_pem(folder: Path) -> tuple[Path, Path]:
    """A CA (``ca.pem``) and the broker's key + certificate for 127.0.0.1 signed by it
    (``broker.pem``)."""
    ca_key, ca = folder / "ca.key", folder / "ca.pem"
    key, csr, cert = folder / "broker.key", folder / "broker.csr", folder / "broker.crt"
    san = folder / "san.cnf"
    san.write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key),
             "-out", str(ca), "-days", "2", "-subj", "/CN=tierflow test CA")  # fmt: skip
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr),
             "-subj", "/CN=127.0.0.1")  # fmt: skip
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key),
             "-CAcreateserial", "-out", str(cert), "-days", "2", "-extfile", str(san))  # fmt: skip
    pem = folder / "broker.pem"
    pem.write_text(key.read_text() + cert.read_text())
    return ca, pem


@pytest.fixture(scope="module")
def tls_stack(tmp_path_factory: pytest.TempPathFactory, settings: Settings) -> Iterator[Settings]:
    home = tmp_path_factory.mktemp("tls").resolve()
    ca, pem = make_ca_and_broker_pem(home)
    private = _private_settings(home / "stack", settings).model_copy(
        update={
            "kafka_security_protocol": "SASL_SSL",
            "kafka_ca_file": ca,
            "kafka_ssl_keystore": pem,
        }
    )
    try:
        stack_up(private)
        yield private
    finally:
        stack_down(private)


async def _subscribe(settings: Settings) -> set[str]:
    consumer = AIOKafkaConsumer(**aiokafka_options(settings, "admin"))
    try:
        await consumer.start()
        return set(await consumer.topics())
    finally:
        await consumer.stop()


def test_clients_speak_scram_over_tls_trusting_the_ca(tls_stack: Settings, tmp_path: Path) -> None:
    assert isinstance(asyncio.run(_subscribe(tls_stack)), set)
    if kcat.available():
        listed = kcat.run(["-L", *kcat.as_admin(tls_stack), "-m", "10"])
        assert listed.returncode == 0, listed.stderr.decode()
        assert b"sasl_ssl://" in listed.stdout + listed.stderr or b"1 brokers" in listed.stdout
    # a client that does not trust the CA is refused the handshake
    other_ca, _ = make_ca_and_broker_pem(tmp_path)
    with pytest.raises(KafkaConnectionError):
        asyncio.run(_subscribe(tls_stack.model_copy(update={"kafka_ca_file": other_ca})))
