"""ClickHouse for the local stack: the chdb server's config, its readiness and its stop.

``config.xml`` and ``users.xml`` are written into the stack home at ``stack up`` from the
settings, so passwords never sit in the repository; users.xml stores only their SHA-256.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.error
import urllib.request
from xml.sax.saxutils import escape

from pydantic import SecretStr

from topics.settings import Settings

# Ends the server's blocking query (streams/ops/chserver.py), which ends its process; the
# KILL statement's own text also matches the LIKE, hence the second condition.
STOP_SQL = "KILL QUERY WHERE query LIKE '%sleepEachRow%' AND query NOT LIKE '%KILL QUERY%'"

_LOOPBACK = "<networks><ip>127.0.0.1</ip><ip>::1</ip></networks>"


def config_xml(settings: Settings) -> str:
    """The server's ``config.xml``: loopback listeners on the configured ports."""
    return (
        "<clickhouse>\n"
        "  <listen_host>127.0.0.1</listen_host>\n"
        f"  <http_port>{settings.clickhouse_http_port}</http_port>\n"
        f"  <tcp_port>{settings.clickhouse_tcp_port}</tcp_port>\n"
        "  <users_config>users.xml</users_config>\n"
        "</clickhouse>\n"
    )


def _sha256(secret: SecretStr) -> str:
    return hashlib.sha256(secret.get_secret_value().encode()).hexdigest()


def users_xml(settings: Settings) -> str:
    """The server's ``users.xml``.

    ``default`` stays passwordless because the engine's own session logs in with it, so it
    may only open the listeners; the writer (full rights) and the read-only reader
    (``readonly=2``: SELECT and per-query settings, no writes) have passwords.
    """
    writer = escape(settings.clickhouse_user)
    reader = escape(settings.clickhouse_reader_user)
    return f"""<clickhouse>
  <profiles>
    <default/>
    <readonly><readonly>2</readonly></readonly>
  </profiles>
  <users>
    <default>
      <password></password>
      {_LOOPBACK}
      <profile>default</profile>
      <quota>default</quota>
      <grants><query>GRANT SYSTEM LISTEN ON *.*</query></grants>
    </default>
    <{writer}>
      <password_sha256_hex>{_sha256(settings.clickhouse_password)}</password_sha256_hex>
      {_LOOPBACK}
      <profile>default</profile>
      <quota>default</quota>
      <access_management>1</access_management>
    </{writer}>
    <{reader}>
      <password_sha256_hex>{_sha256(settings.clickhouse_reader_password)}</password_sha256_hex>
      {_LOOPBACK}
      <profile>readonly</profile>
      <quota>default</quota>
    </{reader}>
  </users>
  <quotas><default/></quotas>
</clickhouse>
"""


def pings(port: int) -> bool:
    """Whether the server on loopback ``port`` answers ``/ping`` with ``Ok.``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as resp:
            return bool(resp.read().startswith(b"Ok."))
    except (OSError, urllib.error.URLError):
        return False


def request_stop(settings: Settings) -> bool:
    """Ask the server to end its serving query (as the writer, who may kill any query);
    True when the server accepted the request."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{settings.clickhouse_http_port}/",
        data=STOP_SQL.encode(),
        headers={"Authorization": "Basic " + _basic_auth(settings), "Connection": "close"},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as resp:
            resp.read()
            return True
    except (OSError, urllib.error.URLError):
        return False


def _basic_auth(settings: Settings) -> str:
    pair = f"{settings.clickhouse_user}:{settings.clickhouse_password.get_secret_value()}"
    return base64.b64encode(pair.encode()).decode()
