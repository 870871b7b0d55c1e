"""What a batch of the core keeps while it folds events: the namespaces it copied, the
tracks it touched, its outputs; and the upkeep of each track's tier timeline (recompute
after an event, advance as the watermark passes a pending instant, fire overdue tasks and
delayed transfers). :mod:`streams.core.engine` dispatches events on top of it."""

from __future__ import annotations

from collections.abc import Iterable
from operator import attrgetter
from typing import Any

from streams.core.compiled import Compiled
from streams.core.eventtime import NEVER
from streams.core.plan import forget_early_acks, overdue, timeline_changed
from streams.core.state import CoreState, Namespace, Work, disease_tracks, track_due
from streams.core.surge import icu_line_for
from streams.core.tiers import Timeline, same_tier_newest_case
from streams.core.transfers import delayed
from topics.vocabulary import Status

PENDING = attrgetter("pending")
DECL_DUE = attrgetter("decl_due")


class Timelines:
    """A batch's working state and its tracks' timelines (see the module's docstring)."""

    __slots__ = ("comp", "dirty", "jurisdiction", "out", "spaces", "touched", "work")

    def __init__(self, state: CoreState, comp: Compiled) -> None:
        self.work = Work(state)
        self.jurisdiction = state.jurisdiction
        self.comp = comp
        self.out: list[Any] = []
        self.touched: dict[tuple[Status, str], None] = {}  # (status, track key), first-touch order
        self.spaces: dict[Status, Namespace] = {}  # the namespaces this batch already copied
        self.dirty: dict[tuple[Status, str], None] = {}  # touched by the current event

    def _space(self, status: Status) -> Namespace:
        ns = self.spaces.get(status)
        if ns is None:
            ns = self.spaces[status] = self.work.namespace(status)
        return ns

    def _touch(self, status: Status, key: str) -> None:
        self.touched[(status, key)] = None

    def _dirty(self, status: Status, key: str) -> None:
        """The track's two timelines (or its name) changed: look at its declaration gaps
        after this event (nothing else can change them but the watermark passing their
        deadline, which :meth:`_advance` sees)."""
        self.touched[(status, key)] = None
        self.dirty[(status, key)] = None

    def _watermark(self, ns: Namespace) -> int:
        return max(ns.event_wm, self.work.state.tick_wm)

    def _timeline(self, ns: Namespace, key: str) -> Timeline:
        track = self.work.track(ns, key, None)
        rules = self.comp.rules_for(track.disease, track.category)
        quiet = self.comp.quiet.get(track.disease, 0) if track.disease else 0
        icu = icu_line_for(ns, self.jurisdiction, self.comp, track)
        return Timeline(track, rules, quiet, self._watermark(ns), icu)

    def _icu_recompute(self, ns: Namespace, t: int) -> None:
        """A new ICU snapshot at ``t``: the recommendation of each track whose rules read
        the occupancy, from ``t`` on. A track with neither a confirmed case nor a timeline
        entry is left alone: every such rule also counts cases (rulebook_checks), so none
        of them can hold there. One with entries but no case is not: the evidence of its
        entries (a stand-down's names every rule's metrics) holds the occupancy, which must
        not depend on whether the snapshot arrived before or after them."""
        icu = self.comp.icu_diseases
        if icu is None:
            keys: Iterable[str] = list(ns.tracks)
        else:  # no rule that reads the occupancy applies to another disease
            keys = [k for k in disease_tracks(ns) if ns.tracks[k].disease in icu]
        for key in keys:
            track = ns.tracks[key]
            if (track.times or track.timeline) and self.comp.reads_icu(
                track.disease, track.category
            ):
                line = self._timeline(ns, key)
                line.recompute_from(t)
                if line.added or line.dropped:
                    self._timeline_done(ns, line)
                track_due(ns, line.track.pending)

    def _recompute(self, ns: Namespace, key: str, t0: int) -> None:
        track = ns.tracks[key]  # the event's own tracks: this batch has copied them already
        rules = self.comp.rules_for(track.disease, track.category)
        quiet = self.comp.quiet.get(track.disease, 0) if track.disease else 0
        tick_wm = self.work.state.tick_wm
        watermark = ns.event_wm if ns.event_wm > tick_wm else tick_wm
        icu = icu_line_for(ns, self.jurisdiction, self.comp, track)
        if same_tier_newest_case(track, rules, quiet, watermark, t0, icu=icu):
            # the common event: nothing to emit, only the next instant to look again
            track_due(ns, track.pending)
            return
        line = Timeline(track, rules, quiet, watermark, icu)
        if not line.newest_case(t0):
            line.recompute_from(t0)
        self._timeline_done(ns, line)

    def _timeline_done(self, ns: Namespace, line: Timeline) -> None:
        track = line.track
        self._touch(ns.status, track.key)
        if line.added or line.dropped:
            self._dirty(ns.status, track.key)
            timeline_changed(
                ns,
                self.jurisdiction,
                track,
                line.added,
                dropped=line.dropped,
                comp=self.comp,
                watermark=line.watermark,
                out=self.out,
            )
        track_due(ns, track.pending)

    def _advance(self, ns: Namespace) -> None:
        """Fire what the watermark has reached: de-escalations, overdue tasks, delays."""
        watermark = self._watermark(ns)
        if watermark < ns.next_due:
            return
        # mostly a transfer's eta or a task's due time brought us here, not a track
        if ns.track_floor > watermark:  # no track is due: leave them alone
            soonest = decl_due = ns.track_floor
        else:
            soonest, decl_due = self._advance_tracks(ns, watermark)
        overdue(ns, self.jurisdiction, watermark, self.out)
        delayed(ns, self.jurisdiction, watermark, self.out)
        heads = [h[0][0] for h in (ns.due_heap, ns.eta_heap) if h]
        if ns.early_acks:
            heads.append(forget_early_acks(ns, watermark, self.comp.unknown_ack_keep))
        ns.next_due = min((soonest, decl_due, *heads))

    def _advance_tracks(self, ns: Namespace, watermark: int) -> tuple[int, int]:
        """Advance every track the watermark reached; returns the soonest pending and the
        soonest declaration deadline after it, and keeps the lower as the namespace's
        ``track_floor``."""
        # whether any track is due, at C speed (hints are at most NEVER), before the walk
        soonest = min(map(PENDING, ns.tracks.values()), default=NEVER)
        if soonest <= watermark:
            soonest = NEVER
            for key, track in list(ns.tracks.items()):
                pending = track.pending
                if pending <= watermark:
                    line = self._timeline(ns, key)
                    line.advance()
                    self._timeline_done(ns, line)
                    pending = line.track.pending
                if pending < soonest:
                    soonest = pending
        decl_due = min(map(DECL_DUE, ns.tracks.values()), default=NEVER)
        if decl_due <= watermark:
            # a declaration deadline passed: :meth:`finish` looks at the track again
            for key, track in list(ns.tracks.items()):
                if track.decl_due <= watermark:
                    self.work.track(ns, key, None).decl_due = NEVER
                    self._dirty(ns.status, key)
            decl_due = min(map(DECL_DUE, ns.tracks.values()), default=NEVER)
        ns.track_floor = min(soonest, decl_due)
        return soonest, decl_due
