"""A jurisdiction's state as per-key changelog records, so a commit writes what changed.

Each case record, incident track, stock series, transfer, and each entry of the ledger's
``shown`` and ``emitted`` maps is its own record, keyed ``<jurisdiction>|<status>|<kind>|<id>``
(kinds: :data:`streams.core.state.TOUCHED_KINDS`); ``<jurisdiction>|<status>|n`` holds the
rest of a namespace (watermark, beds, tasks, acks, early acks, the ledger's sequence,
alerted ids and heaps) and ``<jurisdiction>|`` the jurisdiction's tick watermark and held
events. A key whose value is gone is written as ``None`` (a tombstone). In a compacted
topic the latest record per key is the state: :func:`decode_records` reads it back.

A stock series keeps every snapshot (a late one may land anywhere in it), so it is written
in segments of :data:`SEGMENT_ROWS` rows, keyed ``…|s|<series id>|<segment number>``, and
a commit writes the segments from the first row that changed since the state written
before (:func:`changed_records`'s ``before``). One record per series made every commit
re-encode and send the series' whole history (~1 MB at 10 000 snapshots), a cost that grew
with the emergency's length, up to the changelog's record limit (32 MiB, some 300 000
snapshots). A series written whole by the version before (its key ends with the series id)
is read as such; :func:`whole_series_keys` names those records, to be tombstoned when the
state is rewritten.

Tracks are written without what they derive from the case records (confirmation and
signal times, each facility's first signal): reading back rebuilds that from the cases
with the rulebook the state was folded with (a track's record stays small however many
cases it counts). What :func:`changed_records` writes is found from what each batch
reports it touched (``Namespace.touched``), never by scanning a namespace.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import orjson
from immutables import Map

from streams.core.cases import rebuild_from_cases
from streams.core.compact import dumps
from streams.core.compiled import compile_rulebook
from streams.core.persist import (
    StateDecodeError,
    _case_in,
    _case_out,
    _deep_tuple,
    _held_in,
    _series_in,
    _tuple,
    transfers_in,
)
from streams.core.series import Series
from streams.core.state import (
    TOUCHED_KINDS,
    CoreState,
    Namespace,
    Track,
    pack,
    unpack,
    whole,
)
from topics.codec import encode
from topics.vocabulary import Status

FORMAT = 4
SEP = "|"
# Rows of a stock series per record: a new snapshot makes a commit rewrite the segment it
# lands in (~25 kB when full), a late one the segments from its own on.
SEGMENT_ROWS = 256
# The columns of a series a record holds (consumption is summed again when read back).
_SERIES_COLUMNS = ("times", "eids", "on_hand", "received", "meta", "burn", "cover")
# kind -> status -> keys a batch (or several) touched
Touched = Mapping[Status, Mapping[str, Iterable[Any]]]


def head_key(jurisdiction: str) -> str:
    """The key of a jurisdiction's own record (every other key of it starts with it)."""
    return jurisdiction + SEP


def jurisdiction_of_key(key: str) -> str | None:
    """The jurisdiction a record key belongs to; None for a key of no jurisdiction (a
    whole state of the format before this one is keyed by the bare jurisdiction)."""
    jurisdiction, sep, _ = key.partition(SEP)
    return jurisdiction if sep else None


def changed_records(
    state: CoreState, touched: Touched, before: CoreState | None = None
) -> dict[str, bytes | None]:
    """The records of ``state`` that ``touched`` names (None: the key is gone), with the
    jurisdiction's record and the touched namespaces' own records. ``before``: the state
    whose records were written last (None: unknown), so that a touched stock series writes
    only its segments from the first row that differs from it."""
    j = state.jurisdiction
    held = [[t, event_id, encode(ev).decode()] for t, event_id, ev in state.held]
    out: dict[str, bytes | None] = {head_key(j): dumps([FORMAT, state.tick_wm, held])}
    for status, kinds in touched.items():
        ns = state.namespaces[status]
        prefix = f"{j}{SEP}{status}{SEP}"
        out[prefix + "n"] = dumps(_rest_out(ns))
        old = before.namespaces.get(status) if before is not None else None
        for kind, keys in kinds.items():
            if kind == "s":
                for key in keys:
                    written = old.stock.get(key) if old is not None else None
                    out.update(_series_records(prefix, key, ns.stock[key], written))
                continue
            value_of = _VALUE_OUT[kind]
            for key in keys:
                out[f"{prefix}{kind}{SEP}{_ident(kind, key)}"] = value_of(ns, key)
    return out


def whole_series_keys(records: Iterable[str]) -> list[str]:
    """Of a jurisdiction's record keys, those of stock series written whole (the version
    before segments): a rewrite of the state tombstones them."""
    return [
        key
        for key in records
        if key.split(SEP, 3)[2:3] == ["s"] and key.endswith("]")  # ends with the series id
    ]


def _series_records(
    prefix: str, key: tuple[str, str], series: Series, written: Series | None
) -> Iterator[tuple[str, bytes]]:
    """The segments of ``series`` from the first row that differs from ``written``'s."""
    first = _first_changed_row(series, written)
    if first == series.n:  # touched, not changed
        return
    stem = f"{prefix}s{SEP}{_ident('s', key)}{SEP}"
    for start in range(first - first % SEGMENT_ROWS, series.n, SEGMENT_ROWS):
        end = min(start + SEGMENT_ROWS, series.n)
        columns = [getattr(series, name)[start:end] for name in _SERIES_COLUMNS]
        yield f"{stem}{start // SEGMENT_ROWS}", dumps([list(key), start, *columns])


def _first_changed_row(series: Series, written: Series | None) -> int:
    """The first row of ``series`` that ``written`` (an older version) does not hold alike.
    Versions that still share their columns agree on every row the older one sees (a
    version writes only rows it appended: :class:`streams.core.series.Series`); others
    are compared a segment at a time."""
    if written is None:
        return 0
    if series.times is written.times and series.burn is written.burn:
        return written.n
    for start in range(0, min(series.n, written.n), SEGMENT_ROWS):
        end, old_end = min(start + SEGMENT_ROWS, series.n), min(start + SEGMENT_ROWS, written.n)
        for name in _SERIES_COLUMNS:
            if getattr(series, name)[start:end] != getattr(written, name)[start:old_end]:
                return start
    return min(series.n, written.n)


def all_records(state: CoreState) -> dict[str, bytes | None]:
    """Every record of ``state`` (a first write, or a rewrite from an older format)."""
    touched = {
        status: {kind: list(_KEYS_OF[kind](ns)) for kind in TOUCHED_KINDS}
        for status, ns in state.namespaces.items()
    }
    return changed_records(state, touched)


def decode_records(jurisdiction: str, records: Mapping[str, bytes], rulebook: Any) -> CoreState:
    """The state whose latest records are ``records`` (key -> value, no tombstones), folded
    with ``rulebook``; :class:`StateDecodeError` for anything else."""
    state = CoreState(jurisdiction)
    spaces: dict[str, dict[str, list[Any]]] = {}
    try:
        for key, blob in records.items():
            parts = key.split(SEP, 3)
            if parts[0] != jurisdiction:
                raise ValueError(f"record {key!r} is not of jurisdiction {jurisdiction}")
            if parts[1] == "":
                fmt, state.tick_wm, held = orjson.loads(blob)
                if fmt != FORMAT:
                    raise ValueError(f"state record format {fmt!r}, expected {FORMAT}")
                state.held = tuple((t, eid, _held_in(ev)) for t, eid, ev in held)
                continue
            kinds = spaces.setdefault(parts[1], {})
            kinds.setdefault(parts[2], []).append((parts[3] if len(parts) > 3 else "", blob))
        comp = compile_rulebook(rulebook)
        for status, kinds in sorted(spaces.items()):
            ns = _namespace_in(status, kinds)
            rebuild_from_cases(ns, comp)
            state.namespaces[ns.status] = ns
    except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
        raise StateDecodeError(f"not the records of a core state: {exc}") from exc
    return state


def _ident(kind: str, key: Any) -> str:
    return orjson.dumps(list(key)).decode() if kind == "s" else str(key)


def _track_out(track: Track) -> list[Any]:
    """A track without what its cases derive (:func:`rebuild_from_cases`)."""
    return [
        track.key,
        track.disease,
        track.category,
        track.name_key,
        track.reports,
        sorted(track.warning_at.items()),
        track.timeline,
        track.opened_at,
        track.updated_at,
        track.latest,
        sorted(track.counters.items()),
        track.decls,
        track.pending,
        track.decl_due,
    ]


def _track_in(row: list[Any]) -> Track:
    (key, disease, category, name_key, reports, warning_at, timeline, *rest) = row
    opened, updated, latest, counters, decls, pending, decl_due = rest
    track = Track(key, disease)
    track.category, track.name_key = category, _tuple(name_key)
    track.reports = [tuple(r) for r in reports]
    track.report_t = [r[0] for r in reports]
    track.warning_at = dict(warning_at)
    track.timeline = [(t, rank, tuple(ids), evidence) for t, rank, ids, evidence in timeline]
    track.opened_at, track.updated_at, track.latest = opened, updated, _tuple(latest)
    track.counters = dict(counters)
    track.decls = [tuple(d) for d in decls]
    track.pending, track.decl_due = pending, decl_due
    return track


def _rest_out(ns: Namespace) -> list[Any]:
    return [
        ns.event_wm,
        sorted(ns.beds.items()),
        sorted(ns.tasks.items()),
        sorted(ns.acks.items()),
        sorted(ns.early_acks.items()),
        ns.seq,
        sorted(ns.alerted),
        sorted(ns.due_heap),
        sorted(ns.eta_heap),
        ns.next_due,
    ]


def _dumps_or_none(value: Any) -> bytes | None:
    return None if value is None else dumps(value)


def _case_value(ns: Namespace, key: Any) -> bytes | None:
    rec = ns.cases.get(key)
    return None if rec is None else dumps(_case_out(unpack(rec)))


def _transfer_value(ns: Namespace, key: Any) -> bytes | None:
    rec = whole(ns.transfers).get(key)
    return None if rec is None else dumps(unpack(rec))


def _track_value(ns: Namespace, key: Any) -> bytes | None:
    track = ns.tracks.get(key)
    return None if track is None else dumps(_track_out(track))


_VALUE_OUT: dict[str, Callable[[Namespace, Any], bytes | None]] = {
    "c": _case_value,
    "t": _track_value,
    "x": _transfer_value,
    "w": lambda ns, key: _dumps_or_none(whole(ns.shown).get(key)),
    "e": lambda ns, key: _dumps_or_none(whole(ns.emitted).get(key)),
}
_KEYS_OF: dict[str, Callable[[Namespace], Iterable[Any]]] = {
    "c": lambda ns: ns.cases.keys(),
    "t": lambda ns: ns.tracks.keys(),
    "s": lambda ns: ns.stock.keys(),
    "x": lambda ns: whole(ns.transfers).keys(),
    "w": lambda ns: whole(ns.shown).keys(),
    "e": lambda ns: whole(ns.emitted).keys(),
}


def _series_read(rows: Iterable[tuple[str, Any]]) -> Iterator[tuple[tuple[str, str], Series]]:
    """The stock series of a namespace's ``s`` records: segments joined in order, or a
    series written whole; where both are there, the segments (written since)."""
    whole_rows: dict[str, Any] = {}
    segments: dict[str, list[Any]] = {}
    for ident, row in rows:
        series_id, sep, number = ident.rpartition(SEP)
        if sep and number.isdigit():
            segments.setdefault(series_id, []).append(row)
        else:
            whole_rows[ident] = row
    for series_id, parts in segments.items():
        parts.sort(key=lambda part: part[1])
        joined: list[Any] = [parts[0][0], *([] for _ in _SERIES_COLUMNS)]
        for part in parts:
            if part[1] != len(joined[1]) or part[0] != joined[0]:
                raise ValueError(f"stock series {series_id}: segment at row {part[1]} is not next")
            for column, values in zip(joined[1:], part[2:], strict=True):
                column.extend(values)
        whole_rows[series_id] = joined
    return (_series_in(row) for row in whole_rows.values())


def _namespace_in(status: str, kinds: dict[str, list[Any]]) -> Namespace:
    def rows(kind: str) -> Iterable[tuple[str, Any]]:
        return ((ident, orjson.loads(blob)) for ident, blob in kinds.get(kind, ()))

    ((_, rest),) = rows("n")
    event_wm, beds, tasks, acks, early_acks, seq, alerted, due_heap, eta_heap, next_due = rest
    ns = Namespace(status)  # type: ignore[arg-type]  # a status the state was written with
    ns.event_wm = event_wm
    ns.tracks = {track.key: track for track in (_track_in(row) for _, row in rows("t"))}
    ns.cases = Map((cid, pack(_case_in(row))) for cid, row in rows("c"))
    ns.stock = dict(sorted(_series_read(rows("s"))))
    ns.tracks = dict(sorted(ns.tracks.items()))
    ns.beds = {item: tuple(sites) for item, sites in beds}
    transfers_in(ns, rows("x"))
    ns.tasks = {tid: (tuple(task[0]), *task[1:]) for tid, task in tasks}
    ns.acks = dict(acks)
    ns.early_acks = {tid: tuple(map(tuple, kept)) for tid, kept in early_acks}
    ns.seq, ns.alerted, ns.next_due = seq, set(alerted), next_due
    ns.shown = Map((k, _deep_tuple(v)) for k, v in rows("w"))
    ns.emitted = Map(rows("e"))
    ns.due_heap = [tuple(h) for h in due_heap]
    ns.eta_heap = [tuple(h) for h in eta_heap]
    return ns
