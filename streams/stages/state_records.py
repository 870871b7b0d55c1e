"""Core states as per-key changelog records (:mod:`streams.core.changelog`) in a mapping
of bytes: what the decide stage's store does without the transport (the live worker puts a
Faust table's local copy under it, :mod:`streams.live.state_store`; tests and benches a
dict)."""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, Iterator, MutableMapping
from typing import Any

from streams.core import CoreState, decode_state
from streams.core.changelog import (
    all_records,
    changed_records,
    decode_records,
    head_key,
    jurisdiction_of_key,
    whole_series_keys,
)
from streams.core.state import TOUCHED_KINDS
from streams.stages.topology import partition_for
from topics.vocabulary import Status

# murmur2 in Python, asked once per record written: remembered per jurisdiction
_partition_of = functools.cache(partition_for)


class RecordStore:
    """:class:`streams.stages.decide.CoreStateStore` over per-key records
    (:mod:`streams.core.changelog`) in ``data`` (key bytes -> value bytes; a Faust table's
    local copy, or a dict), the changelog's records as a claim read them back.
    :meth:`changed` notes what a batch touched; :meth:`flush` encodes those records alone
    (for :meth:`take_unsent`), so a commit costs what changed, not what exists.

    A jurisdiction is in memory once: its records leave ``data`` when it is first read
    (grouping ``data`` by jurisdiction once) or written, and from then on the store holds
    its state as of the last :meth:`flush` instead, which is what :meth:`get` returns
    until :meth:`reloaded`. States are never mutated and share what a batch did not touch
    with the states before them, so that costs what changed since the flush, where the
    records and their grouping cost ~70 % as much again as the decoded states
    (``bench.decide_memory``: 66 + 22 MiB beside 129 MiB at 600 k events). A whole
    state of the format before (keyed by the bare jurisdiction,
    :func:`streams.core.decode_state`) is read as such, and rewritten as records (its old
    key tombstoned) the first time it changes; so is a state whose stock series were
    written whole, before they were written in segments. A flush writes a touched series'
    segments from the first row that differs from the state held (what the last flush
    wrote, or what was read)."""

    def __init__(self, data: MutableMapping[bytes, bytes], rulebook: Any) -> None:
        self.data = data
        self.rulebook = rulebook
        self._index: dict[str, dict[str, bytes]] | None = None
        self._touched: dict[str, dict[Status, dict[str, set[Any]]]] = {}
        self._changed: dict[str, CoreState] = {}
        self._flushed: dict[str, CoreState] = {}  # read or written: its records left data
        # read with records of an older layout: rewrite every record, tombstone these keys
        self._stale: dict[str, list[str]] = {}
        self._unsent: dict[bytes, bytes | None] = {}

    def _by_jurisdiction(self) -> dict[str, dict[str, bytes]]:
        if self._index is None:
            self._index = {}
            for raw, value in self.data.items():
                key = raw.decode()
                self._index.setdefault(jurisdiction_of_key(key) or key, {})[key] = value
        return self._index

    def get(self, jurisdiction: str) -> CoreState | None:
        held = self._flushed.get(jurisdiction)
        if held is not None:
            return held
        records = self._by_jurisdiction().get(jurisdiction)
        if not records:
            return None
        if head_key(jurisdiction) not in records:  # only a whole state of the older format
            state = decode_state(records[jurisdiction])
            self._stale[jurisdiction] = [jurisdiction]
        else:
            per_key = {k: v for k, v in records.items() if k != jurisdiction}
            state = decode_records(jurisdiction, per_key, self.rulebook)
            stale = whole_series_keys(per_key)
            if stale:
                self._stale[jurisdiction] = stale
        self._hold(jurisdiction, state)
        return state

    def _hold(self, jurisdiction: str, state: CoreState) -> None:
        """Keep ``state`` as the jurisdiction's, its records out of ``data``."""
        self._flushed[jurisdiction] = state
        for key in self._by_jurisdiction().pop(jurisdiction, {}):
            del self.data[key.encode()]

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
        """Encode the records of every state changed since the last call (for
        :meth:`take_unsent`), and hold those states; returns how many."""
        for jurisdiction, state in self._changed.items():
            stale = self._stale.pop(jurisdiction, None)
            if stale is not None:
                records = all_records(state)
                records.update(dict.fromkeys(stale))  # tombstones
            else:
                touched = self._touched.get(jurisdiction, {})
                records = changed_records(state, touched, self._flushed.get(jurisdiction))
            for key, value in records.items():
                self._unsent[key.encode()] = value
            self._hold(jurisdiction, state)
        flushed = len(self._changed)
        self._changed.clear()
        self._touched.clear()
        return flushed

    def forget(self) -> None:
        """Drop what was noted and not flushed."""
        self._changed.clear()
        self._touched.clear()

    def reloaded(self) -> None:
        """``data`` holds the changelog's records anew (a claim read them back): drop the
        states held and the grouping, and what was noted and not flushed."""
        self._flushed.clear()
        self._stale.clear()
        self._index = None
        self.forget()

    def jurisdictions(self) -> Iterator[str]:
        return iter([*self._by_jurisdiction(), *self._flushed])

    def drop_partitions(self, partitions: Collection[int]) -> None:
        """Forget every jurisdiction on ``partitions``, its records and its state held:
        records a commit could not send (another worker owns the partition now) must not
        outlive it here, or a later commit (which sends only what changed) would leave the
        changelog without them while this worker has them."""
        for raw in [raw for raw in self.data if _partition_of(_jurisdiction(raw)) in partitions]:
            del self.data[raw]
        for jurisdiction in [j for j in self._flushed if _partition_of(j) in partitions]:
            del self._flushed[jurisdiction]
            self._stale.pop(jurisdiction, None)
        self._index = None
        self.forget()

    def take_unsent(self) -> dict[int, dict[bytes, bytes | None]]:
        """The records written since the last call (None: a tombstone), by changelog
        partition: the partition of their jurisdiction."""
        unsent, self._unsent = self._unsent, {}
        out: dict[int, dict[bytes, bytes | None]] = {}
        for raw, value in unsent.items():
            out.setdefault(_partition_of(_jurisdiction(raw)), {})[raw] = value
        return out


def apply_records(
    into: MutableMapping[bytes, bytes], records: Iterable[tuple[bytes, bytes | None]]
) -> None:
    """Apply changelog records (key, value) to ``into`` in their order, as a compacted
    changelog keeps them: a value is set, a tombstone (None) deletes its key."""
    for key, value in records:
        if value is None:
            into.pop(key, None)
        else:
            into[key] = value


def _jurisdiction(raw: bytes) -> str:
    """The jurisdiction a record key belongs to (a bare key: a whole state's)."""
    key = raw.decode()
    return jurisdiction_of_key(key) or key
