"""The ClickHouse store behind :class:`sinks.writer.Sink`: synchronous inserts with an
``insert_deduplication_token`` per batch."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from clickhouse_connect.datatypes.registry import get_from_name
from clickhouse_connect.datatypes.temporal import DateTime64
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, DataError, OperationalError

from sinks.access import login_for
from sinks.client import connect
from sinks.errors import SinkError, SinkRejected, SinkUnavailable
from sinks.tables import TableSpec
from sinks.writer import BatchObserver, Columns, Sink, SinkPolicy
from streams.config.settings import Settings

# Server errors that go away by themselves: overload, timeouts, a node restarting.
RETRYABLE_CODES = frozenset(
    {
        3,  # UNEXPECTED_END_OF_FILE
        159,  # TIMEOUT_EXCEEDED
        202,  # TOO_MANY_SIMULTANEOUS_QUERIES
        209,  # SOCKET_TIMEOUT
        210,  # NETWORK_ERROR
        241,  # MEMORY_LIMIT_EXCEEDED
        242,  # TABLE_IS_READ_ONLY
        252,  # TOO_MANY_PARTS
    }
)

# Server errors about the rows themselves (ErrorCodes.cpp): sending them again fails again.
REJECTED_CODES = frozenset(
    {
        6,  # CANNOT_PARSE_TEXT
        8,  # THERE_IS_NO_COLUMN
        10,  # NOT_FOUND_COLUMN_IN_BLOCK
        16,  # NO_SUCH_COLUMN_IN_TABLE
        26,  # CANNOT_PARSE_QUOTED_STRING
        27,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
        38,  # CANNOT_PARSE_DATE
        41,  # CANNOT_PARSE_DATETIME
        53,  # TYPE_MISMATCH
        69,  # ARGUMENT_OUT_OF_BOUND
        70,  # CANNOT_CONVERT_TYPE
        72,  # CANNOT_PARSE_NUMBER
        117,  # INCORRECT_DATA
        131,  # TOO_LARGE_STRING_SIZE
        190,  # SIZES_OF_ARRAYS_DONT_MATCH
        321,  # VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE
        349,  # CANNOT_INSERT_NULL_IN_ORDINARY_COLUMN
        469,  # VIOLATED_CONSTRAINT
    }
)

# async_insert defaults to 1 on the chdb-served engine: a buffered async insert is neither
# durable on return nor deduplicated by our token, so every insert here is synchronous.
INSERT_SETTINGS = {"async_insert": 0, "insert_deduplicate": 1}

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def millisecond_ticks(values: Sequence[datetime | None]) -> list[int | None]:
    """The ``DateTime64(3)`` ticks clickhouse-connect would send for these aware
    datetimes (milliseconds since the epoch, floored); None stays None."""
    # clickhouse-connect spends a float timestamp, floor() and arithmetic on every value;
    # the fields of a timedelta give the same UTC second exactly, for less. Its millisecond
    # is the local one: the same as the UTC one unless an offset has a fraction of a second.
    return [
        None
        if v is None
        else ((d := v - _EPOCH).days * 86_400 + d.seconds) * 1000 + v.microsecond // 1000
        for v in values
    ]


def _takes_milliseconds(type_name: str) -> bool:
    kind = get_from_name(type_name)
    return isinstance(kind, DateTime64) and kind.scale == 3


def _with_ticks(columns: Columns, at: frozenset[int]) -> list[Sequence[Any]]:
    # clickhouse-connect sends a DateTime64 column of ints as they are (no per-value
    # Python); None values still make its null map.
    return [millisecond_ticks(c) if i in at else c for i, c in enumerate(columns)]


class ClickHouseStore:
    """Inserts batches into ``database`` on the server of ``settings``, as the writer (a
    review database: the reviewer). The client is made on first use (the server may be
    down when the worker starts)."""

    def __init__(self, settings: Settings, database: str | None = None) -> None:
        self._settings = settings
        self.database = database or settings.clickhouse_database
        self._client: Client | None = None
        # Per table: the server's column types, and which columns take millisecond ticks.
        self._types: dict[str, tuple[list[str], frozenset[int]]] = {}

    def insert(self, spec: TableSpec, columns: Columns, token: str) -> None:
        """Insert ``columns`` synchronously with ``token`` as insert_deduplication_token."""
        where = f"{self.database}.{spec.name}"
        try:
            client = self._connected()
            types, ticks_at = self._column_types(client, spec)
        except OperationalError as exc:
            raise SinkUnavailable(f"cannot reach ClickHouse: {exc}") from exc
        except ClickHouseError as exc:
            raise SinkError(f"cannot read the columns of {where}: {exc}") from exc
        try:
            client.insert(
                spec.name,
                _with_ticks(columns, ticks_at),
                column_oriented=True,
                column_names=list(spec.column_names),
                column_type_names=types,
                settings={**INSERT_SETTINGS, "insert_deduplication_token": token},
            )
        except OperationalError as exc:
            raise SinkUnavailable(f"cannot reach ClickHouse: {exc}") from exc
        except DataError as exc:
            if exc.code is None or exc.code in REJECTED_CODES:  # None: refused by the client
                raise SinkRejected(f"{where} refused the rows: {exc}") from exc
            raise SinkError(f"insert into {where} failed: {exc}") from exc
        except ClickHouseError as exc:
            code = getattr(exc, "code", None)
            if code in RETRYABLE_CODES:
                raise SinkUnavailable(f"ClickHouse is busy: {exc}") from exc
            if code in REJECTED_CODES:
                raise SinkRejected(f"{where} refused the rows: {exc}") from exc
            raise SinkError(f"insert into {where} failed: {exc}") from exc
        except (ValueError, TypeError, OverflowError) as exc:
            # The client turns values into the column types before sending: a value that
            # does not fit its type fails here, never reaching the server.
            raise SinkRejected(f"{where} refused the rows: {exc}") from exc

    def _connected(self) -> Client:
        if self._client is None:
            login = login_for(self.database, ddl=False)
            self._client = connect(self._settings, self.database, login=login)
        return self._client

    def _column_types(self, client: Client, spec: TableSpec) -> tuple[list[str], frozenset[int]]:
        # Types come from the server once per table; the names must match the row mapping.
        if spec.name not in self._types:
            found = client.query(
                "SELECT name, type FROM system.columns"
                " WHERE database = currentDatabase() AND table = {t:String} ORDER BY position",
                parameters={"t": spec.name},
            ).result_rows
            names = tuple(str(name) for name, _ in found)
            if names != spec.column_names:
                raise SinkRejected(
                    f"{self.database}.{spec.name} has columns {list(names)}, rows have "
                    f"{list(spec.column_names)}: run `tierflow db migrate` on {self.database}"
                )
            types = [str(kind) for _, kind in found]
            ticks_at = frozenset(i for i, kind in enumerate(types) if _takes_milliseconds(kind))
            self._types[spec.name] = types, ticks_at
        return self._types[spec.name]


class ClickHouseSink(Sink):
    """A :class:`Sink` landing in ClickHouse (``database``: default the settings')."""

    def __init__(
        self,
        settings: Settings,
        database: str | None = None,
        policy: SinkPolicy | None = None,
        *,
        on_batch: BatchObserver | None = None,
    ) -> None:
        super().__init__(ClickHouseStore(settings, database), policy, on_batch=on_batch)
