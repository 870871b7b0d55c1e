"""Cases and incident reports into tracks; case → incident correlation; early warning.

Correlation: every case of a disease in the jurisdiction belongs to the track of that
disease (``d:<disease>``); the rules count "N in one city" over it. The track is named by
the ``incident_id`` of the earliest event (occurred_at, then event_id) that carries one —
an agency's incident report or a case that names its incident — and, until an agency
names it, by a deterministic warning id (uuid5 of status, jurisdiction and disease).
Incident reports without a disease form their own track (``i:<incident_id>``).

Counting: a case counts once per ``case_id``. Its current classification, disease,
severity and outcome are those of its latest event (occurred_at, then event_id); it counts
as confirmed while that classification is not ``discarded`` and some event classified it
``confirmed``; its confirmation time is the earliest such event. Its *signal* for early
warning is its earliest non-discarded event (a warning, once opened, is history).
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, insort
from typing import Any

from streams.core.compiled import Compiled, Trigger
from streams.core.early_warning import (
    case_signal,
    matches,
    place,
    signal_in,
    signal_key,
    signal_out,
)
from streams.core.state import (
    NO_SIGNAL,
    NO_TIME,
    CaseRecord,
    Namespace,
    Report,
    Track,
    Work,
    all_cases,
    case_record,
)
from topics.models import CaseEvent, IncidentEvent
from topics.vocabulary import IncidentPhase

CONFIRMED = "confirmed"
DISCARDED = "discarded"


def disease_key(disease: str) -> str:
    return "d:" + disease


def _join_event(track: Track, t: int, eid: str, ev: CaseEvent | IncidentEvent) -> None:
    """Joins every event of a track makes: time span, place, and the naming candidate."""
    if t < track.opened_at:
        track.opened_at = t
    if t > track.updated_at:
        track.updated_at = t
    latest = track.latest
    if latest is None or t > latest[0] or (t == latest[0] and eid > latest[1]):
        loc = ev.location
        track.latest = (t, eid, ev.region, loc.lat if loc else None, loc.lon if loc else None)
    inc = ev.incident_id
    if inc is not None:
        cand = (t, eid, inc)
        if track.name_key is None or cand < track.name_key:
            track.name_key = cand


def apply_case(
    work: Work, ns: Namespace, ev: CaseEvent, t: int, comp: Compiled
) -> tuple[dict[str, int], set[str]]:
    """Fold one case event in; returns the tracks whose timeline must be recomputed, each
    with the earliest event time that changed, and every track the case changed (its
    signals, counters or cases: what its incident state and warning show)."""
    eid = ev.event_id
    cls = ev.classification
    disease = ev.disease
    old = case_record(ns, ev.case_id)
    home = work.track(ns, "d:" + disease, disease)
    _join_event(home, t, eid, ev)
    if old is None:
        return _first_event(ns, home, ev, t, comp)
    conf = old[0]
    if cls == CONFIRMED and (conf is None or t < conf):
        conf = t
    # (t, eid) against the keys of the latest event and of the signal, unrolled
    lt, st = old[1], old[8]
    if t > lt or (t == lt and eid > old[2]):
        latest: CaseRecord = (conf, t, eid, disease, cls, ev.severity, ev.outcome, ev.region)
    else:
        latest = (conf, *old[1:8])
    keeps_signal = cls == DISCARDED or (st is not None and (t > st or (t == st and eid >= old[9])))
    if keeps_signal:
        new = latest + old[8:]
    else:
        new = (*latest, t, eid, disease, ev.facility_id, place(ev), ev.triage is not None)
    if new == old:
        return _UNCHANGED
    ns.case_edits[ev.case_id] = new
    if keeps_signal and new[3] == disease == old[3]:
        # the common update: the case stays on its own track and its signal is unchanged
        return _same_track_update(home, old, new)
    return _moved(work, ns, home, old, new, comp=comp)


# what apply_case returns for an event that changes nothing (never mutated by callers)
_UNCHANGED: tuple[dict[str, int], set[str]] = ({}, set())
_NO_OTHERS = _UNCHANGED[1]


def _same_track_update(
    home: Track, old: CaseRecord, new: CaseRecord
) -> tuple[dict[str, int], set[str]]:
    """:func:`_moved` for an update whose old and new disease are the home track's and
    whose signal did not move: only the confirmation and the counters can change."""
    touched: dict[str, int] = {}
    if old[0] != new[0] or old[4] != new[4] or old[7] != new[7]:
        # confirmation time, classification or county moved: what _confirmed says may
        old_c, new_c = _confirmed(old), _confirmed(new)
        if old_c is not None and old_c != new_c:
            _remove_confirmed(home, old_c)
            touched[home.key] = old_c[1]
        if new_c is not None and old_c != new_c:
            _add_confirmed(home, new_c)
            touched[home.key] = min(touched.get(home.key, new_c[1]), new_c[1])
    if old[4:7] != new[4:7]:  # classification, severity or outcome: the counters
        old_v, new_v = _severity(old), _severity(new)
        counters = home.counters
        for sign, sev in ((-1, old_v), (1, new_v)):
            if sev is not None:
                counters["dead"] += sign * sev[1]
                counters["critical"] += sign * sev[2]
    return touched, _NO_OTHERS


def _moved(
    work: Work, ns: Namespace, home: Track, old: CaseRecord, new: CaseRecord, *, comp: Compiled
) -> tuple[dict[str, int], set[str]]:
    """Move what a case contributes (confirmation, signal, counters) from what ``old``
    says to what ``new`` says, across tracks when its disease changed."""

    def track_of(disease: str) -> Track:
        return home if disease == home.disease else work.track(ns, disease_key(disease), disease)

    touched: dict[str, int] = {}
    old_c, new_c = _confirmed(old), _confirmed(new)
    if old_c != new_c:
        if old_c is not None:
            _remove_confirmed(track_of(old_c[0]), old_c)
            touched[disease_key(old_c[0])] = old_c[1]
        if new_c is not None:
            _add_confirmed(track_of(new_c[0]), new_c)
            k = disease_key(new_c[0])
            touched[k] = min(touched.get(k, new_c[1]), new_c[1])
    others = set(touched)
    old_s, new_s = case_signal(old), case_signal(new)
    if old_s != new_s:
        if old_s is not None:
            signal_out(work.track(ns, disease_key(old_s[0]), old_s[0]), ns, old_s, comp)
            others.add(disease_key(old_s[0]))
        if new_s is not None:
            signal_in(track_of(new_s[0]), new_s, comp)
            others.add(disease_key(new_s[0]))
    old_v, new_v = _severity(old), _severity(new)
    if old_v != new_v:
        for sign, sev in ((-1, old_v), (1, new_v)):
            if sev is not None and (sev[1] or sev[2]):
                counters = track_of(sev[0]).counters
                counters["dead"] += sign * sev[1]
                counters["critical"] += sign * sev[2]
                others.add(disease_key(sev[0]))
    others.discard(home.key)
    return touched, others


def _first_event(
    ns: Namespace,
    home: Track,
    ev: CaseEvent,
    t: int,
    comp: Compiled,
) -> tuple[dict[str, int], set[str]]:
    """The lean path of :func:`apply_case` for the first event of a case (the common one):
    nothing to take back, everything lands on the case's own track."""
    cls, disease, eid = ev.classification, ev.disease, ev.event_id
    latest = (t, eid, disease, cls, ev.severity, ev.outcome, ev.region)
    if cls == DISCARDED:
        ns.case_edits[ev.case_id] = (None, *latest, *NO_SIGNAL)
        return _UNCHANGED
    facility, setting, triaged = ev.facility_id, place(ev), ev.triage is not None
    conf = t if cls == CONFIRMED else None
    ns.case_edits[ev.case_id] = (conf, *latest, t, eid, disease, facility, setting, triaged)
    if comp.triggers_for(disease):
        signal_in(home, (disease, t, facility, setting, triaged), comp)
    if ev.outcome == "died":
        home.counters["dead"] += 1
    elif ev.severity == "critical" and ev.outcome == "none":
        home.counters["critical"] += 1
    if conf is None:
        return _UNCHANGED
    _add_confirmed(home, (disease, t, ev.region))
    return {home.key: t}, _NO_OTHERS


def _confirmed(rec: CaseRecord | None) -> tuple[str, int, str] | None:
    if rec is None or rec[0] is None or rec[4] == DISCARDED:
        return None
    return (rec[3], rec[0], rec[7])


def _severity(rec: CaseRecord | None) -> tuple[str, int, int] | None:
    if rec is None or rec[4] == DISCARDED:
        return None
    disease, severity, outcome = rec[3], rec[5], rec[6]
    return (disease, int(outcome == "died"), int(severity == "critical" and outcome == "none"))


def _add_confirmed(track: Track, conf: tuple[str, int, str]) -> None:
    _, t, county = conf
    times = track.times
    if not times or t >= times[-1]:
        times.append(t)
    else:
        insort(times, t)
    lst = track.by_county.get(county)
    if lst is None:
        track.by_county[county] = array("q", (t,))
    elif t >= lst[-1]:
        lst.append(t)
    else:
        insort(lst, t)


def _remove_confirmed(track: Track, conf: tuple[str, int, str]) -> None:
    _, t, county = conf
    del track.times[bisect_left(track.times, t)]
    lst = track.by_county[county]
    del lst[bisect_left(lst, t)]
    if not lst:
        del track.by_county[county]


def apply_report(work: Work, ns: Namespace, ev: IncidentEvent, t: int) -> dict[str, int]:
    """Fold one incident report in (not an Ack); returns ``{track: from_time}``."""
    key = disease_key(ev.disease) if ev.disease else "i:" + ev.incident_id
    track = work.track(ns, key, ev.disease or None)
    _join_event(track, t, ev.event_id, ev)
    times = track.report_t
    i = bisect_left(times, t)
    while i < len(times) and times[i] == t and track.reports[i][1] < ev.event_id:
        i += 1
    if i < len(times) and times[i] == t and track.reports[i][1] == ev.event_id:
        return {}  # seen
    cas = ev.casualties
    # a warning's verification: confirmed makes it an incident, discarded closes it
    phase: IncidentPhase = (
        "closed"
        if ev.verification == "discarded"
        else "confirmed"
        if ev.verification == "confirmed"
        else ev.phase
    )
    closed = phase == "closed" or ev.msg_type == "Cancel"
    report: Report = (
        t,
        ev.event_id,
        ev.category,
        cas.total if cas else None,
        cas.dead if cas else None,
        cas.critical if cas else None,
        closed,
        phase,
        ev.headline,
    )
    track.reports.insert(i, report)
    track.warn_dirty = True  # a report before the warning takes it back
    times.insert(i, t)
    category = track.reports[-1][2]
    if category != track.category:
        track.category = category  # other rules apply: recompute the whole timeline
        return {key: NO_TIME}
    return {key: t}


def rebuild_from_cases(ns: Namespace, comp: Compiled) -> None:
    """Fill what the tracks of ``ns`` derive from its case records — confirmation times
    (whole and by county), signal times and each facility's first signal — into tracks
    that hold none of it (a state read back from per-key records). ``comp`` must be the
    rulebook the state was folded with: its triggers say which signals count where.
    KeyError if a case's disease has no track."""
    times: dict[str, list[int]] = {}
    county_times: dict[str, dict[str, list[int]]] = {}
    signal_times: dict[str, dict[str, list[int]]] = {}
    firsts: dict[str, dict[str, dict[str, int]]] = {}
    # Where a signal counts depends on its disease, setting and triage alone: found once
    # per kind of signal, not per case (this runs over every case a recovery reads).
    counts: dict[tuple[Any, ...], list[tuple[str, str, bool]]] = {}
    for _, rec in all_cases(ns):
        conf = _confirmed(rec)
        if conf is not None:
            disease, t, county = conf
            key = disease_key(disease)
            times.setdefault(key, []).append(t)
            county_times.setdefault(key, {}).setdefault(county, []).append(t)
        sig = case_signal(rec)
        if sig is None:
            continue
        kind = (sig[0], sig[3], sig[4])
        where = counts.get(kind)
        if where is None:
            where = counts[kind] = [
                (disease_key(sig[0]), _counter(trig, sig), trig.distinct)
                for trig in comp.triggers_for(sig[0])
                if matches(trig, sig)
            ]
        t, facility = sig[1], sig[2]
        for key, counter, distinct in where:
            if distinct:
                first = firsts.setdefault(key, {}).setdefault(counter, {})
                first[facility] = min(first.get(facility, t), t)
            else:
                signal_times.setdefault(key, {}).setdefault(counter, []).append(t)
    missing = (times.keys() | signal_times.keys() | firsts.keys()) - ns.tracks.keys()
    if missing:
        raise KeyError(f"cases of tracks {sorted(missing)}, which the state does not hold")
    for key, track in ns.tracks.items():  # in key order, as a whole state is read back
        track.times = array("q", sorted(times.get(key, ())))
        track.by_county = _sorted_times(county_times.get(key, {}))
        track.signals = _sorted_times(signal_times.get(key, {}))
        track.facility_first = {
            k: dict(sorted(v.items())) for k, v in sorted(firsts.get(key, {}).items())
        }


def _counter(trig: Trigger, sig: tuple[Any, ...]) -> str:
    """What ``trig`` counts ``sig`` under: its facility's first signal is kept per trigger
    (a distinct trigger), a signal's time per :func:`signal_key`."""
    return trig.trigger_id if trig.distinct else signal_key(trig, sig)


def _sorted_times(times: dict[str, list[int]]) -> dict[str, array[int]]:
    return {k: array("q", sorted(ts)) for k, ts in sorted(times.items())}
