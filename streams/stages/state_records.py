"""Core states as per-key changelog records (:mod:`streams.core.changelog`) in a mapping
of bytes: what the decide stage's store does without the transport (the live worker puts a
Faust table's local copy under it, :mod:`streams.live.state_store`; tests and benches a
dict)."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterator, MutableMapping
from typing import Any

from streams.core import CoreState, decode_state
from streams.core.changelog import (
    all_records,
    changed_records,
    decode_records,
    head_key,
    jurisdiction_of_key,
)
from streams.core.state import TOUCHED_KINDS
from streams.stages.topology import partition_for
from topics.vocabulary import Status

# murmur2 in Python, asked once per record written: remembered per jurisdiction
_partition_of = functools.cache(partition_for)


class RecordStore:
    """:class:`streams.stages.decide.CoreStateStore` over per-key records
    (:mod:`streams.core.changelog`) in ``data`` (key bytes -> value bytes; a Faust table's
    local copy, or a dict). :meth:`changed` notes what a batch touched; :meth:`flush`
    encodes those records alone, so a commit costs what changed, not what exists. Reading
    a jurisdiction back groups ``data`` by jurisdiction once (after each :meth:`forget`:
    a rebalance refilled ``data``). A whole state of the format before (keyed by the bare
    jurisdiction, :func:`streams.core.decode_state`) is read as such, and rewritten as
    records (its old key tombstoned) the first time it changes."""

    def __init__(self, data: MutableMapping[bytes, bytes], rulebook: Any) -> None:
        self.data = data
        self.rulebook = rulebook
        self._index: dict[str, dict[str, bytes]] | None = None
        self._touched: dict[str, dict[Status, dict[str, set[Any]]]] = {}
        self._changed: dict[str, CoreState] = {}
        self._whole: set[str] = set()  # read from the older format: rewrite every record
        self._unsent: dict[bytes, bytes | None] = {}

    def _by_jurisdiction(self) -> dict[str, dict[str, bytes]]:
        if self._index is None:
            self._index = {}
            for raw, value in self.data.items():
                key = raw.decode()
                self._index.setdefault(jurisdiction_of_key(key) or key, {})[key] = value
        return self._index

    def get(self, jurisdiction: str) -> CoreState | None:
        records = self._by_jurisdiction().get(jurisdiction)
        if not records:
            return None
        if head_key(jurisdiction) not in records:  # only a whole state of the older format
            self._whole.add(jurisdiction)
            return decode_state(records[jurisdiction])
        per_key = {k: v for k, v in records.items() if k != jurisdiction}
        return decode_records(jurisdiction, per_key, self.rulebook)

    def changed(self, jurisdiction: str, before: CoreState, after: CoreState) -> None:
        """Note what the batch that turned ``before`` into ``after`` touched."""
        touched = self._touched.setdefault(jurisdiction, {})
        for status, ns in after.namespaces.items():
            if ns is before.namespaces.get(status):
                continue
            kinds = touched.setdefault(status, {kind: set() for kind in TOUCHED_KINDS})
            for kind, keys in ns.touched.items():
                if keys:
                    kinds[kind] |= keys
        self._changed[jurisdiction] = after

    def flush(self) -> int:
        """Write the records of every state changed since the last call; returns how many
        states."""
        index = self._index
        for jurisdiction, state in self._changed.items():
            if jurisdiction in self._whole:
                records = all_records(state)
                records[jurisdiction] = None  # the whole state of the older format
                self._whole.discard(jurisdiction)
            else:
                records = changed_records(state, self._touched.get(jurisdiction, {}))
            mine = None if index is None else index.setdefault(jurisdiction, {})
            for key, value in records.items():
                raw = key.encode()
                self._unsent[raw] = value
                if value is None:
                    self.data.pop(raw, None)
                    if mine is not None:
                        mine.pop(key, None)
                else:
                    self.data[raw] = value
                    if mine is not None:
                        mine[key] = value
        flushed = len(self._changed)
        self._changed.clear()
        self._touched.clear()
        return flushed

    def forget(self) -> None:
        """Drop what was noted and not flushed, and the grouping of ``data``."""
        self._changed.clear()
        self._touched.clear()
        self._whole.clear()
        self._index = None

    def jurisdictions(self) -> Iterator[str]:
        return iter(list(self._by_jurisdiction()))

    def drop_partitions(self, partitions: Collection[int]) -> None:
        """Remove from ``data`` every record of a jurisdiction on ``partitions``: records a
        commit could not send (another worker owns the partition now) must not outlive it
        in the local copy, or a later commit (which sends only what changed) would leave
        the changelog without them while this copy has them."""
        for raw in [raw for raw in self.data if _partition_of(_jurisdiction(raw)) in partitions]:
            del self.data[raw]
        self.forget()

    def take_unsent(self) -> dict[int, dict[bytes, bytes | None]]:
        """The records written since the last call (None: a tombstone), by changelog
        partition: the partition of their jurisdiction."""
        unsent, self._unsent = self._unsent, {}
        out: dict[int, dict[bytes, bytes | None]] = {}
        for raw, value in unsent.items():
            out.setdefault(_partition_of(_jurisdiction(raw)), {})[raw] = value
        return out


def _jurisdiction(raw: bytes) -> str:
    """The jurisdiction a record key belongs to (a bare key: a whole state's)."""
    key = raw.decode()
    return jurisdiction_of_key(key) or key
