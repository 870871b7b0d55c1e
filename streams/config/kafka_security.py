"""How every Kafka client of tierflow authenticates: SASL/SCRAM-SHA-512, over plaintext on
the local stack's loopback listener or over TLS in production.

Two principals speak from tierflow's own processes: the worker (the pipeline) and the
admin (stack, topics, ACLs, agencies, publishing on behalf of agencies). Agencies use
their own principal from the librdkafka config ``tierflow agency add`` writes
(``tierflow publish --as ID --credentials DIR`` reads it: :func:`read_login`).
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import SecretStr

from streams.config.settings import Settings
from topics.errors import TierflowError


@dataclass(frozen=True)
class Login:
    """Another principal's SCRAM login (an agency's, from its ``.properties`` file)."""

    username: str
    password: SecretStr


Principal = Literal["worker", "admin"] | Login


def credentials(settings: Settings, principal: Principal) -> tuple[str, str]:
    """``(username, password)`` of ``principal``."""
    if isinstance(principal, Login):
        return principal.username, principal.password.get_secret_value()
    if principal == "admin":
        return settings.kafka_admin_username, settings.kafka_admin_password.get_secret_value()
    return settings.kafka_username, settings.kafka_password.get_secret_value()


def ssl_context(settings: Settings) -> ssl.SSLContext | None:
    """The TLS context for SASL_SSL (trusting ``kafka_ca_file`` when set), else None."""
    if settings.kafka_security_protocol != "SASL_SSL":
        return None
    ca = None if settings.kafka_ca_file is None else str(settings.kafka_ca_file)
    return ssl.create_default_context(cafile=ca)


def aiokafka_options(settings: Settings, principal: Principal) -> dict[str, Any]:
    """Keyword arguments for any aiokafka client (producer, consumer, admin) speaking as
    ``principal``, ``bootstrap_servers`` included."""
    username, password = credentials(settings, principal)
    return {
        "bootstrap_servers": settings.kafka_bootstrap,
        "security_protocol": settings.kafka_security_protocol,
        "sasl_mechanism": settings.kafka_sasl_mechanism,
        "sasl_plain_username": username,
        "sasl_plain_password": password,
        "ssl_context": ssl_context(settings),
    }


def librdkafka_properties(settings: Settings, username: str, password: str) -> dict[str, str]:
    """A librdkafka client config (``kcat -F``) for ``username``."""
    props = {
        "bootstrap.servers": settings.kafka_bootstrap,
        "security.protocol": settings.kafka_security_protocol.lower(),
        "sasl.mechanisms": settings.kafka_sasl_mechanism,
        "sasl.username": username,
        "sasl.password": password,
    }
    if settings.kafka_security_protocol == "SASL_SSL" and settings.kafka_ca_file is not None:
        props["ssl.ca.location"] = str(settings.kafka_ca_file)
    return props


def render_properties(props: dict[str, str]) -> str:
    """``key=value`` lines, as librdkafka and Java clients read them."""
    return "".join(f"{key}={value}\n" for key, value in props.items())


def parse_properties(text: str) -> dict[str, str]:
    """The ``key=value`` lines of :func:`render_properties` (blank and ``#`` lines skipped)."""
    props = {}
    for line in text.splitlines():
        key, eq, value = line.partition("=")
        if eq and not key.lstrip().startswith("#"):
            props[key.strip()] = value.strip()
    return props


def read_login(path: Path) -> Login:
    """The SCRAM login (``sasl.username``, ``sasl.password``) of a librdkafka config such as
    ``tierflow agency add`` writes; TierflowError naming the file when it has none."""
    try:
        props = parse_properties(path.read_text())
    except OSError as exc:
        raise TierflowError(
            f"cannot read {path}: {exc.strerror}; `tierflow agency add ID --out DIR` writes it"
        ) from exc
    username, password = props.get("sasl.username"), props.get("sasl.password")
    if not username or not password:
        raise TierflowError(f"{path}: no sasl.username and sasl.password (a kcat -F config)")
    return Login(username, SecretStr(password))
