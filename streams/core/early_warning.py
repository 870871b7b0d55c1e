"""Early warning from cases (DESIGN.md, multi-point triggers): each case's *signal* (its
earliest non-discarded event: disease, time, facility, setting, triaged) counted by the
rulebook's triggers in its disease's track, and the warning each trigger opens."""

from __future__ import annotations

import heapq
from array import array
from bisect import bisect_left, insort
from typing import Any

from streams.core.compiled import Compiled, Trigger
from streams.core.state import NO_TIME, CaseRecord, Namespace, Track, all_cases
from topics.models import CaseEvent


def case_signal(rec: CaseRecord | None) -> tuple[Any, ...] | None:
    """A case record's signal (None: it has none)."""
    if rec is None or rec[8] is None:
        return None
    return (rec[10], rec[8], *rec[11:])


def place(ev: CaseEvent) -> str | None:
    """The case's setting as its signal keeps it: ``school@SCH-1`` when it names its
    institution (warnings "within one institution" count per institution), else the
    setting type alone (counted together, city-wide)."""
    if ev.setting is None or ev.institution_id is None:
        return ev.setting
    return f"{ev.setting}@{ev.institution_id}"


def matches(trig: Trigger, sig: tuple[Any, ...]) -> bool:
    _, _, _, setting, triaged = sig
    if trig.settings is not None and (setting or "").partition("@")[0] not in trig.settings:
        return False
    return triaged or not trig.triaged


def signal_key(trig: Trigger, sig: tuple[Any, ...]) -> str:
    """Where a trigger counts a signal: per institution for a setting trigger when the
    case names one (``measles-group-institution@SCH-1``), else the trigger's own key."""
    setting = sig[3]
    if trig.settings is None or not setting or "@" not in setting:
        return trig.trigger_id
    return f"{trig.trigger_id}@{setting.partition('@')[2]}"


def signal_in(track: Track, sig: tuple[Any, ...], comp: Compiled) -> None:
    disease, t, facility = sig[0], sig[1], sig[2]
    for trig in comp.triggers_for(disease):
        if not matches(trig, sig):
            continue
        tid = trig.trigger_id
        if trig.distinct:
            firsts = track.facility_first.setdefault(tid, {})
            if t < firsts.get(facility, -NO_TIME):
                firsts[facility] = t
                _distinct_warning(track, trig)
            continue
        tid = signal_key(trig, sig)
        times = track.signals.setdefault(tid, array("q"))
        insort(times, t)
        at = track.warning_at.get(tid)
        if at is not None and t >= at:
            continue  # a later signal cannot open the warning earlier
        i = bisect_left(times, t)
        k, window = trig.min, trig.window
        for j in range(max(i, k - 1), min(i + k, len(times))):
            if window is None or times[j] - times[j - k + 1] < window:
                if at is None or times[j] < at:
                    at = times[j]
                break
        if at is not None and at != track.warning_at.get(tid):
            track.warning_at[tid] = at
            track.warn_dirty = True


def _distinct_warning(track: Track, trig: Trigger) -> None:
    firsts = track.facility_first.get(trig.trigger_id, {})
    before = track.warning_at.get(trig.trigger_id)
    if len(firsts) >= trig.min:
        track.warning_at[trig.trigger_id] = heapq.nsmallest(trig.min, firsts.values())[-1]
    else:
        track.warning_at.pop(trig.trigger_id, None)
    track.warn_dirty |= before != track.warning_at.get(trig.trigger_id)


def signal_out(track: Track, ns: Namespace, sig: tuple[Any, ...], comp: Compiled) -> None:
    """A case's first signal moved (an earlier event arrived late): take the old one out
    of its disease's ``track`` and recompute the affected warnings from the case records
    (rare path)."""
    disease, t, facility = sig[0], sig[1], sig[2]
    for trig in comp.triggers_for(disease):
        if not matches(trig, sig):
            continue
        tid = trig.trigger_id
        if trig.distinct:
            firsts = track.facility_first[tid]
            if firsts.get(facility) == t:
                # ns.cases already holds the moved record: what is left is the rest
                rest = [
                    s[1]
                    for _, rec in all_cases(ns)
                    if (s := case_signal(rec)) is not None
                    and s[0] == disease
                    and s[2] == facility
                    and matches(trig, s)
                ]
                if rest:
                    firsts[facility] = min(rest)
                else:
                    del firsts[facility]
            if not firsts:
                del track.facility_first[tid]
            _distinct_warning(track, trig)
            continue
        tid = signal_key(trig, sig)
        times = track.signals[tid]
        del times[bisect_left(times, t)]
        if not times:
            del track.signals[tid]
        track.warning_at.pop(tid, None)
        track.warn_dirty = True
        k, window = trig.min, trig.window
        for j in range(k - 1, len(times)):
            if window is None or times[j] - times[j - k + 1] < window:
                track.warning_at[tid] = times[j]
                break
