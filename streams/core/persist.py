"""State to bytes and back (Faust changelog tables, resume), and the state's fingerprint.

The encoding is compact JSON (orjson) of plain lists, with every mapping written in key
order, so equal states encode to equal bytes. ``state_fingerprint`` encodes only the
semantic part — what the events determine — leaving out the ledger of what was already
emitted (sequence numbers, alert ids, due-time heaps, scheduling hints), which depends on
arrival order by nature. Order-insensitivity and idempotence are stated on it.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from typing import Any

import orjson
from immutables import Map
from pydantic import BaseModel

from streams.core.compact import dumps
from streams.core.series import Series
from streams.core.state import (
    NO_SIGNAL,
    CaseRecord,
    CoreState,
    Namespace,
    Packed,
    Track,
    pack,
    unpack,
    whole,
)
from streams.core.transfers import index_ask
from topics.codec import decode, encode
from topics.errors import TierflowError
from topics.outputs import Rejection

FORMAT = 3
# Format 1 had no count of emitted copies: its outputs count as never emitted.
# Format 2 had no held events (streams.core.held), no acks of unknown tasks (tasks.py)
# and no declarations: its tracks have none (and no declaration deadline).
_READABLE = frozenset({1, 2, FORMAT})


class StateDecodeError(TierflowError):
    """Bytes that are not an encoded core state."""


def _tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def _deep_tuple(value: Any) -> Any:
    return tuple(_deep_tuple(v) for v in value) if isinstance(value, list) else value


def _track_out(track: Track) -> list[Any]:
    return [
        track.key,
        track.disease,
        track.category,
        track.name_key,
        track.times.tolist(),
        sorted((county, ts.tolist()) for county, ts in track.by_county.items()),
        track.reports,
        sorted((trigger, ts.tolist()) for trigger, ts in track.signals.items()),
        sorted((k, sorted(v.items())) for k, v in track.facility_first.items()),
        sorted(track.warning_at.items()),
        track.timeline,
        track.opened_at,
        track.updated_at,
        track.latest,
        sorted(track.counters.items()),
        track.decls,
    ]


def _track_in(row: list[Any]) -> Track:
    (
        key,
        disease,
        category,
        name_key,
        times,
        by_county,
        reports,
        signals,
        firsts,
        warning_at,
        timeline,
        opened,
        updated,
        latest,
        counters,
        *decls,
    ) = row
    track = Track(key, disease)
    track.category = category
    track.name_key = _tuple(name_key)
    track.times = array("q", times)
    track.by_county = {county: array("q", ts) for county, ts in by_county}
    track.reports = [tuple(r) for r in reports]
    track.report_t = [r[0] for r in reports]
    track.signals = {trigger: array("q", ts) for trigger, ts in signals}
    track.facility_first = {k: dict(v) for k, v in firsts}
    track.warning_at = dict(warning_at)
    track.timeline = [(t, rank, tuple(ids), evidence) for t, rank, ids, evidence in timeline]
    track.opened_at, track.updated_at, track.latest = opened, updated, _tuple(latest)
    track.counters = dict(counters)
    track.decls = [tuple(d) for d in decls[0]] if decls else []
    return track


def _series_out(key: tuple[str, str], s: Series) -> list[Any]:
    columns = (s.times, s.eids, s.on_hand, s.received, s.meta, s.burn, s.cover)
    return [list(key), *(column[: s.n] for column in columns)]


def _series_in(row: list[Any]) -> tuple[tuple[str, str], Series]:
    key, times, eids, on_hand, received, meta, burn, cover = row
    s = Series()
    s.times, s.eids, s.on_hand, s.received = times, eids, on_hand, received
    # a snapshot's meta written before convertible existed has three fields
    s.meta = [(*m, None) if len(m) == 3 else tuple(m) for m in meta]
    s.burn, s.cover = burn, cover
    s.cons = [0.0] * len(times)
    for j in range(1, len(times)):
        s.cons[j] = s.cons[j - 1] + on_hand[j - 1] + received[j] - on_hand[j]
    s.n = len(times)
    return (key[0], key[1]), s


def _case_out(rec: CaseRecord) -> list[Any]:
    """A case record as written: (confirmed_at, latest key, latest, signal key, signal)."""
    signal = rec[8] is not None
    return [
        rec[0],
        rec[1:3],
        rec[3:8],
        rec[8:10] if signal else None,
        (rec[10], *rec[11:]) if signal else None,
    ]


def _case_in(row: list[Any]) -> CaseRecord:
    conf, lkey, latest, skey, sig = row
    if skey is None:
        return (conf, *lkey, *latest, *NO_SIGNAL)
    return (conf, *lkey, *latest, *skey, *sig)


def _semantic(ns: Namespace) -> list[Any]:
    return [
        ns.status,
        ns.event_wm,
        [_track_out(ns.tracks[k]) for k in sorted(ns.tracks)],
        sorted((cid, _case_out(unpack(rec))) for cid, rec in ns.cases.items()),
        [_series_out(k, ns.stock[k]) for k in sorted(ns.stock)],
        sorted(ns.beds.items()),
        sorted((tid, unpack(rec)) for tid, rec in whole(ns.transfers).items()),
        sorted(ns.tasks.items()),
        sorted(ns.acks.items()),
        sorted(ns.early_acks.items()),
    ]


def _ledger(ns: Namespace) -> list[Any]:
    return [
        ns.seq,
        sorted(ns.alerted),
        sorted(whole(ns.shown).items()),
        sorted(ns.due_heap),
        sorted(ns.eta_heap),
        ns.next_due,
        sorted((k, t.pending, t.decl_due) for k, t in ns.tracks.items()),
        sorted(whole(ns.emitted).items()),
    ]


def encode_state(state: CoreState) -> bytes:
    """Compact, deterministic bytes of ``state`` (everything, ledger included)."""
    spaces = [[_semantic(ns), _ledger(ns)] for _, ns in sorted(state.namespaces.items())]
    held = [[t, event_id, encode(ev).decode()] for t, event_id, ev in state.held]
    return dumps([FORMAT, state.jurisdiction, state.tick_wm, spaces, held])


def state_fingerprint(state: CoreState) -> bytes:
    """Bytes of what the events determine (no ledger): equal for any order of the same
    events and ticks, and unchanged by repeating any of them."""
    spaces = [_semantic(ns) for _, ns in sorted(state.namespaces.items())]
    return dumps([state.jurisdiction, state.tick_wm, spaces])


def decode_state(data: bytes) -> CoreState:
    """The state ``encode_state`` wrote; :class:`StateDecodeError` for anything else."""
    try:
        fmt, jurisdiction, tick_wm, spaces, *held = orjson.loads(data)
        if fmt not in _READABLE:
            raise StateDecodeError(f"state format {fmt!r}, expected {FORMAT}")
        state = CoreState(jurisdiction)
        state.tick_wm = tick_wm
        state.held = tuple((t, eid, _held_in(blob)) for t, eid, blob in (held[0] if held else ()))
        for semantic, ledger in spaces:
            ns = _namespace_in(semantic, ledger)
            state.namespaces[ns.status] = ns
    except (orjson.JSONDecodeError, ValueError, TypeError, KeyError) as exc:
        raise StateDecodeError(f"not an encoded core state: {exc}") from exc
    return state


def _held_in(blob: str) -> BaseModel:
    event = decode(blob.encode())
    if isinstance(event, Rejection):
        raise ValueError(f"a held event that does not decode: {event.reason}")
    return event


def transfers_in(ns: Namespace, rows: Iterable[tuple[str, list[Any]]]) -> None:
    """Fill the transfers of ``ns`` (a namespace being read back) from their written rows,
    and the request index they derive."""
    transfers = ns.transfers = Map[str, Packed]().mutate()
    asks = ns.asks = Map[tuple[str, int], tuple[tuple[int, str], ...]]().mutate()
    for tid, (reached, lkey, latest, requests) in sorted(rows):
        rec = (tuple(_tuple(k) for k in reached), tuple(lkey), tuple(latest), _deep_tuple(requests))
        transfers[tid] = pack(rec)
        for t, _, _, item, _ in rec[3]:
            index_ask(ns, item, t, tid)
    ns.transfers, ns.asks = transfers.finish(), asks.finish()


def _namespace_in(semantic: list[Any], ledger: list[Any]) -> Namespace:
    status, event_wm, tracks, cases, stock, beds, transfers, tasks, acks, *early = semantic
    seq, alerted, shown, due_heap, eta_heap, next_due, pending, *emitted = ledger
    ns = Namespace(status)
    ns.event_wm = event_wm
    ns.tracks = {row[0]: _track_in(row) for row in tracks}
    ns.cases = Map((cid, pack(_case_in(row))) for cid, row in cases)
    ns.stock = dict(_series_in(row) for row in stock)
    ns.beds = {item: tuple(sites) for item, sites in beds}
    transfers_in(ns, transfers)
    ns.tasks = {tid: (tuple(task[0]), *task[1:]) for tid, task in tasks}
    ns.acks = dict(acks)
    ns.early_acks = {tid: tuple(map(tuple, kept)) for tid, kept in (early[0] if early else ())}
    ns.seq, ns.alerted, ns.next_due = seq, set(alerted), next_due
    ns.shown = Map((k, _deep_tuple(v)) for k, v in shown)
    ns.emitted = Map(emitted[0] if emitted else ())
    ns.due_heap = [tuple(h) for h in due_heap]
    ns.eta_heap = [tuple(h) for h in eta_heap]
    for key, hint, *decl_due in pending:
        ns.tracks[key].pending = hint
        if decl_due:
            ns.tracks[key].decl_due = decl_due[0]
    return ns
