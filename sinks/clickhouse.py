"""The ClickHouse store behind :class:`sinks.writer.Sink`: synchronous inserts with an
``insert_deduplication_token`` per batch."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import ClickHouseError, OperationalError

from sinks.access import login_for
from sinks.client import connect
from sinks.errors import SinkError, SinkUnavailable
from sinks.tables import TableSpec
from sinks.writer import BatchObserver, Columns, Sink, SinkPolicy
from topics.settings import Settings

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

# async_insert defaults to 1 on the chdb-served engine: a buffered async insert is neither
# durable on return nor deduplicated by our token, so every insert here is synchronous.
INSERT_SETTINGS = {"async_insert": 0, "insert_deduplicate": 1}


class ClickHouseStore:
    """Inserts batches into ``database`` on the server of ``settings``, as the writer (a
    review database: the reviewer). The client is made on first use (the server may be
    down when the worker starts)."""

    def __init__(self, settings: Settings, database: str | None = None) -> None:
        self._settings = settings
        self.database = database or settings.clickhouse_database
        self._client: Client | None = None
        self._types: dict[str, list[str]] = {}

    def insert(self, spec: TableSpec, columns: Columns, token: str) -> None:
        """Insert ``columns`` synchronously with ``token`` as insert_deduplication_token."""
        try:
            client = self._connected()
            client.insert(
                spec.name,
                columns,
                column_oriented=True,
                column_names=list(spec.column_names),
                column_type_names=self._column_types(client, spec),
                settings={**INSERT_SETTINGS, "insert_deduplication_token": token},
            )
        except OperationalError as exc:
            raise SinkUnavailable(f"cannot reach ClickHouse: {exc}") from exc
        except ClickHouseError as exc:
            if getattr(exc, "code", None) in RETRYABLE_CODES:
                raise SinkUnavailable(f"ClickHouse is busy: {exc}") from exc
            raise SinkError(f"insert into {self.database}.{spec.name} failed: {exc}") from exc

    def _connected(self) -> Client:
        if self._client is None:
            login = login_for(self.database, ddl=False)
            self._client = connect(self._settings, self.database, login=login)
        return self._client

    def _column_types(self, client: Client, spec: TableSpec) -> list[str]:
        # Types come from the server once per table; the names must match the row mapping.
        if spec.name not in self._types:
            found = client.query(
                "SELECT name, type FROM system.columns"
                " WHERE database = currentDatabase() AND table = {t:String} ORDER BY position",
                parameters={"t": spec.name},
            ).result_rows
            names = tuple(str(name) for name, _ in found)
            if names != spec.column_names:
                raise SinkError(
                    f"{self.database}.{spec.name} has columns {list(names)}, rows have "
                    f"{list(spec.column_names)}: run `tierflow db migrate` on {self.database}"
                )
            self._types[spec.name] = [str(kind) for _, kind in found]
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
