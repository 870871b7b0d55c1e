"""The in-memory twin of the ClickHouse store, for tests and offline replays: same
deduplication by token (the last ``DEDUP_WINDOW`` tokens per table, like
``non_replicated_deduplication_window``) and the same replacing by key and version when
read with ``final``."""

from __future__ import annotations

from collections import defaultdict, deque
from collections.abc import Callable, Sequence
from typing import Any

from sinks.errors import SinkUnavailable
from sinks.tables import TableSpec, table
from sinks.writer import BatchObserver, Columns, Sink, SinkPolicy

DEDUP_WINDOW = 1000  # the tables' non_replicated_deduplication_window


def _sort_key(values: Sequence[Any]) -> tuple[tuple[bool, Any], ...]:
    # NULLs last, as ClickHouse orders them.
    return tuple((v is None, 0 if v is None else v) for v in values)


class MemoryStore:
    """Rows per table in insertion order. Set ``reachable`` False to play an outage."""

    def __init__(self) -> None:
        self.reachable = True
        self._rows: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
        self._recent: dict[str, deque[str]] = defaultdict(lambda: deque(maxlen=DEDUP_WINDOW))

    def insert(self, spec: TableSpec, columns: Columns, token: str) -> None:
        """Keep the rows unless ``token`` is among the table's recent tokens."""
        if not self.reachable:
            raise SinkUnavailable("in-memory store is set unreachable")
        recent = self._recent[spec.name]
        if token in recent:
            return
        recent.append(token)
        self._rows[spec.name].extend(zip(*columns, strict=True))

    def fetch(self, spec: TableSpec, *, final: bool = True) -> list[dict[str, Any]]:
        """The table's rows as dicts ordered by key; ``final``: one row per key, the one
        with the highest version (the last inserted among equals)."""
        names = spec.column_names
        key_at = [names.index(k) for k in spec.key]
        version_at = len(names) - 1
        rows = self._rows[spec.name]
        if final:
            kept: dict[tuple[Any, ...], tuple[Any, ...]] = {}
            for row in rows:
                key = tuple(row[i] for i in key_at)
                if key not in kept or row[version_at] >= kept[key][version_at]:
                    kept[key] = row
            rows = list(kept.values())
        ordered = sorted(rows, key=lambda r: _sort_key([r[i] for i in key_at]))
        return [dict(zip(names, row, strict=True)) for row in ordered]


class InMemorySink(Sink):
    """A :class:`Sink` over a :class:`MemoryStore` (``store``: share one, as restarted
    workers share a database), read back with :meth:`rows`."""

    def __init__(
        self,
        policy: SinkPolicy | None = None,
        *,
        store: MemoryStore | None = None,
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] | None = None,
        on_batch: BatchObserver | None = None,
    ) -> None:
        self.memory = store or MemoryStore()
        super().__init__(self.memory, policy, clock=clock, sleep=sleep, on_batch=on_batch)

    def rows(self, table_name: str, *, final: bool = True) -> list[dict[str, Any]]:
        """What a ``SELECT * FROM table [FINAL] ORDER BY key`` would return."""
        return self.memory.fetch(table(table_name), final=final)
