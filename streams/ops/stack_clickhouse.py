"""ClickHouse for the local stack: the chdb server's config, its readiness and its stop.

``config.xml`` and ``users.xml`` are written into the stack home at ``stack up`` from the
settings, so passwords never sit in the repository; users.xml stores only their SHA-256.
The users and their grants are :mod:`sinks.access`'s.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request

from sinks.access import ACCESS_CONFIG, credentials
from sinks.access import users_xml as access_users_xml
from streams.config.settings import Settings

# Ends the server's blocking query (streams/ops/chserver.py), which ends its process; the
# KILL statement's own text also matches the LIKE, hence the second condition.
STOP_SQL = "KILL QUERY WHERE query LIKE '%sleepEachRow%' AND query NOT LIKE '%KILL QUERY%'"


def config_xml(settings: Settings) -> str:
    """The server's ``config.xml``: loopback listeners on the configured ports, and the
    access rules that make ``system`` tables need a grant (:mod:`sinks.access`)."""
    return (
        "<clickhouse>\n"
        "  <listen_host>127.0.0.1</listen_host>\n"
        f"  <http_port>{settings.clickhouse_http_port}</http_port>\n"
        f"  <tcp_port>{settings.clickhouse_tcp_port}</tcp_port>\n"
        "  <users_config>users.xml</users_config>\n"
        f"{ACCESS_CONFIG}"
        "</clickhouse>\n"
    )


def users_xml(settings: Settings) -> str:
    """The server's ``users.xml``: :mod:`sinks.access`'s users and roles, on loopback,
    passwords stored as SHA-256."""
    return access_users_xml(settings, "local")


def pings(port: int) -> bool:
    """Whether the server on loopback ``port`` answers ``/ping`` with ``Ok.``."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/ping", timeout=2) as resp:
            return bool(resp.read().startswith(b"Ok."))
    except (OSError, urllib.error.URLError):
        return False


def request_stop(settings: Settings) -> bool:
    """Ask the server to end its serving query (as the migrator, who may kill any query
    on the local stack); True when the server accepted the request."""
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
    user, password = credentials(settings, "migrator")
    pair = f"{user}:{password.get_secret_value()}"
    return base64.b64encode(pair.encode()).decode()
