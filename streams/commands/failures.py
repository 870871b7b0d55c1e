"""Errors a command cannot recover from, as one line that says what to do next.

Every command fails the same way: one ``error:`` line on stderr naming the next step, and
a non-zero exit, never a traceback. Commands raise our own errors (:class:`TierflowError`,
message already written for a person) or let the clients' errors through; :func:`explain`
turns the clients' errors about a server that is down, unreachable or refusing into that
line, and :func:`quiet_client_logs` keeps the clients' own log lines about the same
failure off the terminal (the worker keeps them: there they are the story).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from pydantic import ValidationError

from streams.config.settings import Settings, load_settings
from topics.errors import TierflowError

if TYPE_CHECKING:
    from clickhouse_connect.driver.exceptions import DatabaseError

EXIT_FAILED = 1
CLIENT_LOGGERS = ("aiokafka", "clickhouse_connect", "urllib3")

# ClickHouse error codes an operator can act on (ErrorCodes.cpp).
_UNKNOWN_DATABASE = 81
_UNKNOWN_TABLE = 60
_AUTHENTICATION_FAILED = 516
_ACCESS_DENIED = 497
_UNKNOWN_USER = 192
_USER_REFUSED = frozenset({_AUTHENTICATION_FAILED, _ACCESS_DENIED, _UNKNOWN_USER})


def explain(exc: BaseException) -> str | None:
    """The one line for ``exc``; None when it is no failure we know how to explain (a bug:
    its traceback is worth more than a guess)."""
    # the clients load slowly: imported when something failed, not for every `--help`
    from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
    from clickhouse_connect.driver.exceptions import DatabaseError, OperationalError

    if isinstance(exc, TierflowError):
        return str(exc)
    if isinstance(exc, ValidationError) and exc.title == Settings.__name__:
        first = exc.errors(include_url=False)[0]
        name = "_".join(str(part) for part in first["loc"]).upper()
        return f"setting TIERFLOW_{name}: {first['msg']} (fix the environment variable)"
    settings = load_settings()
    if isinstance(exc, OperationalError):
        return (
            f"ClickHouse at {settings.clickhouse_url} did not answer: start the stack "
            "(`tierflow stack up`) or check TIERFLOW_CLICKHOUSE_URL"
        )
    if isinstance(exc, DatabaseError):
        return _clickhouse_refused(exc, settings)
    if isinstance(exc, KafkaConnectionError | KafkaTimeoutError):
        return (
            f"Kafka at {settings.kafka_bootstrap} did not answer: start the stack "
            "(`tierflow stack up`) or check TIERFLOW_KAFKA_BOOTSTRAP"
        )
    if isinstance(exc, KafkaError):
        return f"Kafka at {settings.kafka_bootstrap} refused: {type(exc).__name__}: {exc}"
    return None


def refused_for_good(exc: BaseException) -> bool:
    """True when ClickHouse refused the user (wrong name or password, no grant): waiting
    does not change that, an operator must fix the settings."""
    from clickhouse_connect.driver.exceptions import DatabaseError

    if not isinstance(exc, DatabaseError):
        return False
    text = " ".join(str(exc).split())
    return exc.code in _USER_REFUSED or any(f"Code: {c}." in text for c in _USER_REFUSED)


def _clickhouse_refused(exc: DatabaseError, settings: Settings) -> str:
    text = " ".join(str(exc).split())
    if f"Code: {_UNKNOWN_DATABASE}." in text or f"Code: {_UNKNOWN_TABLE}." in text:
        return (
            f"ClickHouse has no such database or table ({_quoted_detail(text)}): migrate it "
            "with `tierflow db migrate --database NAME`, or check TIERFLOW_CLICKHOUSE_DATABASE"
        )
    if refused_for_good(exc):
        return (
            f"ClickHouse at {settings.clickhouse_url} refused the user ({_quoted_detail(text)}):"
            " check TIERFLOW_CLICKHOUSE_USER / _PASSWORD (or _READER_USER / _PASSWORD)"
        )
    return f"ClickHouse refused: {_quoted_detail(text)}"


def _quoted_detail(text: str) -> str:
    """The server's own sentence of a clickhouse-connect error (``DB::Exception: …``)."""
    _, found, detail = text.partition("DB::Exception: ")
    detail = detail if found else text
    return detail.split(" (version ")[0].rstrip(". ")


def quiet_client_logs() -> None:
    """Keep the Kafka and ClickHouse clients' own log lines (``Unable connect to …``,
    ``Unexpected Http Driver Exception``) off a command's terminal: its error line says
    it once."""
    for name in CLIENT_LOGGERS:
        logging.getLogger(name).setLevel(logging.CRITICAL)
