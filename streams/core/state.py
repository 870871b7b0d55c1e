"""The state of one jurisdiction, and copy-on-write for a batch of steps.

Layout (plain lists, dicts and tuples so the hot path stays cheap; the records that grow
with the history, cases and transfers, packed at rest: :data:`Packed`):

* ``CoreState`` — one jurisdiction: the tick watermark, the events held until the ticks
  reach them (:mod:`streams.core.engine`), and one :class:`Namespace` per CAP
  status (``Actual``, ``Exercise``, ``Test``), so drills never touch live state.
* ``Namespace`` — cases, incident tracks, stock series, transfers, tasks and acks, plus a
  *ledger* of what has already been emitted (alert ids, what each subject's alerts and
  tasks last said, how many copies of each output id went out, the IncidentState
  sequence number, due-time heaps). Everything outside
  the ledger is a join of the events seen (min, max, set union), hence the same for any
  order and unchanged by a repeated event; the ledger only tells what to emit or retract.
* ``Track`` — what the tier is decided on: all cases of one disease in the jurisdiction
  (``d:<disease>``), or one incident without a disease (``i:<incident_id>``).

States handed out are never mutated again. A batch (:class:`Work`) copies each container
the first time it touches it, except what grows with the history: the persistent maps
(:data:`Grown`) and the stock series' columns (:class:`streams.core.series.Series`) are
shared and only what the batch changes is new. So the cost of a batch is its events plus
a copy of the small containers it touched, whatever the history behind it.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterator
from marshal import dumps as marshal_dumps
from marshal import loads as marshal_loads
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar, cast

from immutables import Map, MapMutation

from streams.core.series import Series
from topics.vocabulary import IncidentCategory, IncidentPhase, Status

if TYPE_CHECKING:
    from streams.core.totals import ItemTotals

NO_TIME = -(1 << 62)

# Case record, one flat tuple (nested ones would give the collector five objects a case):
#   (confirmed_at | None, *latest, *signal)
#   latest = (t, event_id, disease, classification, severity, outcome, county): its latest event
#   signal = (t, event_id, disease, facility_id, setting, triaged): its earliest non-discarded
#   event, or NO_SIGNAL while it has none
CaseRecord = tuple[Any, ...]
NO_SIGNAL: CaseRecord = (None,) * 6
# Cases and transfers at rest (in ``Namespace.cases`` and ``transfers``) are their records
# marshalled: a case is one bytes object of ~150 bytes where its tuple, three times and two
# event ids take ~370, a transfer ~300 where its nested tuples take ~1 300, and they are
# most of a state at scale. A batch decodes the records it reads; it packs a case once,
# when the batch is sealed, and a transfer at each write (they are few). Equal records may
# marshal to different bytes (marshal writes a reference where a record shares an object):
# compare records unpacked, never packed, and never write the packed form out.
Packed = bytes
K = TypeVar("K")
V = TypeVar("V")
# What grows with the history (cases, transfers, the request index, the ledger's ``shown``
# and ``emitted``): persistent maps (HAMT), so a batch edits them in place of copying them,
# and its cost does not grow with what is behind it. Frozen states hold Maps; the namespace
# a batch works on holds MapMutations of them (:func:`edited`). Cases are the exception: a
# batch writes their records to a plain dict (``case_edits``) and puts them into the Map
# once, when it is sealed: a case's events mostly come in one batch, and each write into a
# Map of tens of thousands of cases costs a microsecond.
Grown = Map[K, V] | MapMutation[K, V]
_GROWN = ("asks", "emitted", "shown", "transfers")
# The keyed parts of a namespace a batch reports as touched (Namespace.touched): cases,
# tracks, stock series, transfers, the ledger's shown and emitted.
TOUCHED_KINDS = ("c", "t", "s", "x", "w", "e")
# Timeline entry: (effective_at, rank, rule_ids, evidence)
Entry = tuple[int, int, tuple[str, ...], dict[str, float]]
# Declaration: (t, event_id, rank declared (0: none), agency_id, reason)
Declaration = tuple[int, str, int, str, str]
# Incident report: (t, event_id, category, total, dead, critical, closed, phase, headline);
# the casualty figures are None when the report carries none (they stay as they were)
Report = tuple[
    int, str, IncidentCategory, int | None, int | None, int | None, bool, IncidentPhase, str
]


class Track:
    """The cases and reports one tier timeline is decided on."""

    __slots__ = (
        "by_county",
        "category",
        "counters",
        "decl_due",
        "decls",
        "disease",
        "facility_first",
        "key",
        "latest",
        "name_key",
        "opened_at",
        "pending",
        "report_t",
        "reports",
        "signals",
        "timeline",
        "times",
        "updated_at",
        "warn_dirty",
        "warning_at",
    )

    def __init__(self, key: str, disease: str | None) -> None:
        self.key = key
        self.disease = disease
        self.category: IncidentCategory = "infectious_disease" if disease is not None else "other"
        self.name_key: tuple[int, str, str] | None = None  # earliest (t, event_id, incident_id)
        # sorted int64 arrays: a batch copies them once (a memcpy, however long they are)
        self.times: array[int] = array("q")  # confirmation times
        self.by_county: dict[str, array[int]] = {}
        self.reports: list[Report] = []
        self.report_t: list[int] = []
        self.signals: dict[str, array[int]] = {}  # trigger id -> signal times
        self.facility_first: dict[str, dict[str, int]] = {}  # trigger id -> facility -> t
        self.warning_at: dict[str, int] = {}
        self.timeline: list[Entry] = []  # the recommended tier (the rules')
        self.decls: list[Declaration] = []  # sorted by (t, event_id)
        self.pending = NO_TIME  # a time to look at de-escalation again (a hint, not state)
        self.decl_due = -NO_TIME  # when a declaration becomes overdue (a hint, not state)
        self.opened_at = -NO_TIME
        self.updated_at = NO_TIME
        self.latest: tuple[int, str, str, float | None, float | None] | None = None
        self.counters: dict[str, int] = {"dead": 0, "critical": 0}
        self.warn_dirty = False  # warning_at or the reports changed in this event

    def clone(self) -> Track:
        new = Track.__new__(Track)
        new.key, new.disease, new.category = self.key, self.disease, self.category
        new.name_key, new.pending = self.name_key, self.pending
        new.opened_at, new.updated_at, new.latest = self.opened_at, self.updated_at, self.latest
        new.times = self.times[:]
        new.by_county = {c: ts[:] for c, ts in self.by_county.items()}
        new.reports = self.reports.copy()
        new.report_t = self.report_t.copy()
        new.signals = {k: ts[:] for k, ts in self.signals.items()}
        new.facility_first = {k: d.copy() for k, d in self.facility_first.items()}
        new.warning_at = self.warning_at.copy()
        new.timeline = self.timeline.copy()
        new.decls, new.decl_due = self.decls.copy(), self.decl_due
        new.counters = self.counters.copy()
        new.warn_dirty = False
        return new

    @property
    def tier_rank(self) -> int:
        return self.timeline[-1][1] if self.timeline else 0

    @property
    def declared(self) -> bool:
        return bool(self.reports)


class Namespace:
    """Everything of one CAP status in one jurisdiction."""

    __slots__ = (
        "acks",
        "alerted",
        "ask_last",
        "asks",
        "beds",
        "case_edits",
        "cases",
        "disease_keys",
        "due_heap",
        "early_acks",
        "emitted",
        "eta_heap",
        "event_wm",
        "next_due",
        "seq",
        "shown",
        "status",
        "stock",
        "tasks",
        "totals",
        "touched",
        "track_floor",
        "tracks",
        "transfers",
    )

    def __init__(self, status: Status) -> None:
        self.status: Status = status
        self.event_wm = NO_TIME
        self.tracks: dict[str, Track] = {}
        self.cases: Map[str, Packed] = Map()
        self.case_edits: dict[str, CaseRecord] = {}  # a batch's records, newer than ``cases``
        self.stock: dict[tuple[str, str], Series] = {}
        self.beds: dict[str, tuple[str, ...]] = {}  # bed item -> sites reporting it, sorted
        # item -> its sums over the sites (streams.core.totals): derived from ``stock``, not
        # state; built when first read
        self.totals: dict[str, ItemTotals] = {}
        self.transfers: Grown[str, Packed] = Map()
        self.tasks: dict[str, tuple[Any, ...]] = {}
        self.acks: dict[str, int] = {}
        # acks of tasks not issued (yet): task id -> ((t, reported, agency type, agency id), …)
        self.early_acks: dict[str, tuple[tuple[int, int, str, str], ...]] = {}
        # index of transfer requests by (bed item, hour): derived from ``transfers``
        self.asks: Grown[tuple[str, int], tuple[tuple[int, str], ...]] = Map()
        self.ask_last: dict[str, int] = {}  # bed item -> time of its latest request
        # ledger: what was already emitted, and when to look again
        self.seq = 0
        self.alerted: set[str] = set()  # alerts whose content their id determines
        self.shown: Grown[str, Any] = Map()  # subject -> what its last emitted outputs said
        self.emitted: Grown[str, int] = Map()  # output id -> copies emitted (the next revision)
        self.due_heap: list[tuple[int, str]] = []  # (due_at, task_id)
        self.eta_heap: list[tuple[int, str]] = []  # (eta, transfer_id)
        self.next_due = -NO_TIME
        # Derived, not state. At most the soonest pending or decl_due of a track (NO_TIME:
        # unknown, so the next watermark advance looks at every track and sets it): the
        # advance walks the tracks only once the watermark reaches it.
        self.track_floor = NO_TIME
        # Derived, not state: the keys of the tracks that name a disease (a disease's own,
        # the only ones cases and so confirmed times, critical counts and ICU forecasts
        # land on, and incidents reported with one), in ``tracks`` order; None: not listed
        # yet (see :func:`disease_tracks`).
        self.disease_keys: tuple[str, ...] | None = None
        # what the batch that made this version changed, by kind (:data:`TOUCHED_KINDS`):
        # a changelog writes those keys alone (streams.core.changelog); not state
        self.touched: dict[str, set[Any]] = {kind: set() for kind in TOUCHED_KINDS}

    def clone(self) -> Namespace:
        """The namespace a batch works on: its containers copied, its maps mutable."""
        new = Namespace.__new__(Namespace)
        new.status, new.event_wm, new.seq, new.next_due = (
            self.status,
            self.event_wm,
            self.seq,
            self.next_due,
        )
        new.track_floor, new.disease_keys = self.track_floor, self.disease_keys
        new.tracks, new.stock = self.tracks.copy(), self.stock.copy()
        new.cases, new.case_edits = self.cases, {}
        for name in _GROWN:
            setattr(new, name, getattr(self, name).mutate())
        new.beds, new.ask_last = self.beds.copy(), self.ask_last.copy()
        new.totals = self.totals.copy()  # each copied again before a batch changes it
        new.tasks, new.acks = self.tasks.copy(), self.acks.copy()
        new.early_acks = self.early_acks.copy()
        new.alerted = self.alerted.copy()
        new.due_heap, new.eta_heap = self.due_heap.copy(), self.eta_heap.copy()
        new.touched = {kind: set() for kind in TOUCHED_KINDS}
        return new


class CoreState:
    """The state of ONE jurisdiction. Treat as immutable: ``step`` returns a new one."""

    __slots__ = ("held", "jurisdiction", "namespaces", "tick_wm")

    def __init__(self, jurisdiction: str) -> None:
        self.jurisdiction = jurisdiction
        self.tick_wm = NO_TIME
        self.namespaces: dict[Status, Namespace] = {}
        # events too far ahead of the ticks, waiting for the clock: (t, event_id, event), sorted
        self.held: tuple[tuple[int, str, Any], ...] = ()

    def __repr__(self) -> str:
        sizes = {s: len(ns.cases) for s, ns in sorted(self.namespaces.items())}
        return f"CoreState({self.jurisdiction!r}, cases={sizes})"


class HeldQueue(NamedTuple):
    """A batch's held queue (:meth:`Work.held`): (t, event_id, event) in (t, event_id)
    order, and the event ids among them."""

    events: list[tuple[int, str, Any]]
    ids: set[str]


def initial_state(jurisdiction: str) -> CoreState:
    """The empty state of a jurisdiction (a city: the first 4 digits of a region code)."""
    return CoreState(jurisdiction)


class Work:
    """Copy-on-write over one batch: the first touch of a container copies it."""

    __slots__ = ("_held", "fresh", "state")

    def __init__(self, state: CoreState) -> None:
        new = CoreState(state.jurisdiction)
        new.tick_wm = state.tick_wm
        new.held = state.held
        new.namespaces = state.namespaces.copy()
        self.state = new
        self.fresh: set[int] = set()
        self._held: HeldQueue | None = None

    def held(self) -> HeldQueue:
        """The held queue as this batch edits it, copied from the state on first use: the
        events in (t, event_id) order and their ids, so holding one more costs a bisect,
        not a copy and a scan of every event already held."""
        if self._held is None:
            queue = list(self.state.held)
            self._held = HeldQueue(queue, {event_id for _, event_id, _ in queue})
        return self._held

    def has_held(self) -> bool:
        """Whether any event is held (in the state, or as this batch edits it)."""
        return bool(self.state.held if self._held is None else self._held.events)

    def namespace(self, status: Status) -> Namespace:
        spaces = self.state.namespaces
        ns = spaces.get(status)
        if ns is None:
            ns = spaces[status] = Namespace(status).clone()
        elif id(ns) in self.fresh:
            return ns
        else:
            ns = spaces[status] = ns.clone()
        self.fresh.add(id(ns))
        return ns

    def seal(self) -> CoreState:
        """The batch's state, frozen: its maps finished (the batch is over)."""
        if self._held is not None:
            self.state.held = tuple(self._held.events)
        for ns in self.state.namespaces.values():
            merge_case_edits(ns)
            for name in _GROWN:
                grown = getattr(ns, name)
                if not isinstance(grown, Map):
                    setattr(ns, name, grown.finish())
        return self.state

    def track(self, ns: Namespace, key: str, disease: str | None) -> Track:
        track = ns.tracks.get(key)
        if track is None:
            track = ns.tracks[key] = Track(key, disease)
            ns.track_floor = NO_TIME  # its pending: look at it at the next advance
            if ns.disease_keys is not None and disease is not None:
                ns.disease_keys += (key,)
        elif id(track) in self.fresh:
            return track
        else:
            track = ns.tracks[key] = track.clone()
        self.fresh.add(id(track))
        ns.touched["t"].add(key)
        return track

    def series(self, ns: Namespace, key: tuple[str, str]) -> Series:
        series = ns.stock.get(key)
        if series is None:
            series = ns.stock[key] = Series()
        elif id(series) in self.fresh:
            return series
        else:
            series = ns.stock[key] = series.clone()
        self.fresh.add(id(series))
        ns.touched["s"].add(key)
        return series


def edited(grown: Grown[K, V]) -> MapMutation[K, V]:
    """A map of the namespace a batch is working on, to edit (see :class:`Work`)."""
    return cast("MapMutation[K, V]", grown)


def whole(grown: Grown[K, V]) -> Map[K, V]:
    """A map of a sealed state's namespace, to read whole (a MapMutation cannot be)."""
    if not isinstance(grown, Map):
        raise TypeError("a map still being edited by a batch")
    return grown


def track_due(ns: Namespace, at: int) -> None:
    """A track of ``ns`` is to be looked at again at ``at`` (its pending or declaration
    deadline): the watermark's advance must not pass it by."""
    if at < ns.next_due:
        ns.next_due = at
    if at < ns.track_floor:
        ns.track_floor = at


def disease_tracks(ns: Namespace) -> tuple[str, ...]:
    """The keys of the tracks of ``ns`` that name a disease, in ``ns.tracks`` order: listed
    once (a state read back has none listed), then kept up by :meth:`Work.track`, where a
    batch adds its tracks. A track's disease never changes."""
    if ns.disease_keys is None:
        ns.disease_keys = tuple(k for k, track in ns.tracks.items() if track.disease is not None)
    return ns.disease_keys


def case_record(ns: Namespace, case_id: str) -> CaseRecord | None:
    """The record of ``case_id`` (None: no event of it yet), this batch's writes included."""
    rec = ns.case_edits.get(case_id)
    if rec is not None:
        return rec
    packed = ns.cases.get(case_id)
    return None if packed is None else unpack(packed)


def pack(rec: tuple[Any, ...]) -> Packed:
    """A case or transfer record as ``Namespace.cases`` and ``transfers`` hold it."""
    # copied: marshal grows its buffer past 1 KiB and shrinks it at the end, which leaves
    # the record in glibc's heap (pinning freed blocks around it), not in Python's arenas
    return memoryview(marshal_dumps(rec)).tobytes()


def unpack(packed: Packed) -> tuple[Any, ...]:
    """The record :func:`pack` packed."""
    return marshal_loads(packed)  # type: ignore[no-any-return]


def merge_case_edits(ns: Namespace) -> None:
    """Put the batch's case records into ``cases`` (the namespace must be the batch's)."""
    if ns.case_edits:
        ns.touched["c"].update(ns.case_edits)
        ns.cases = ns.cases.update({cid: pack(rec) for cid, rec in ns.case_edits.items()})
        ns.case_edits = {}


def transfer_record(ns: Namespace, transfer_id: str) -> tuple[Any, ...] | None:
    """The record of ``transfer_id`` (None: no report of it yet)."""
    packed = ns.transfers.get(transfer_id)
    return None if packed is None else unpack(packed)


def all_cases(ns: Namespace) -> Iterator[tuple[str, CaseRecord]]:
    """Every case of ``ns`` with its record (a rare, whole-namespace read), in the order of
    ``ns.cases``."""
    merge_case_edits(ns)
    return ((cid, unpack(packed)) for cid, packed in ns.cases.items())
