"""``step``/``step_many``/``fold``: the one entry point both shells use.

Time comes only from events (``occurred_at``) and ticks (``tick_at``). The *watermark* of a
namespace is the latest time seen there (its events' times and every tick); de-escalations,
overdue tasks and delayed transfers fire when it passes their instant. Output ids are
uuid5 of content; ``decided_at`` is left for the shell.

``step_many(state, events)`` gives the same state and the same outputs as calling ``step``
once per event, except that IncidentState snapshots are coalesced: one per incident
touched by the batch (its latest), since the command view keeps only the newest version.
An incident taken over by another id (a warning an agency's incident absorbed) gets one
last snapshot, ``closed`` with ``merged_into`` naming its successor.

Every Escalation, Task and Alert is a function of the events (event time), not of their
arrival: when a late event changes one already emitted, the core emits the recomputed
output and a copy of the old one with ``retracted=True`` (tasks: ``state="retracted"``),
same id. Taking, per id, the last copy emitted and leaving out retractions gives the same
set for any order and batching of the same events (``tests/property``). Each copy carries
its ``revision``: how many copies of its id were emitted before it (counted in the state,
so re-processing from a saved state repeats the same revisions); the last copy of an id
is the one with the highest revision, which is how the sinks keep it.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

from streams.core.alerts import reporting_late
from streams.core.cases import apply_case, apply_report, disease_key
from streams.core.checks import value_problem
from streams.core.compiled import compile_rulebook
from streams.core.declare import declaration_due, note_declaration, rejected, sync_declared
from streams.core.declared import declared_changes
from streams.core.eventtime import NEVER, to_us
from streams.core.forecast import forecast_changed
from streams.core.held import hold, take_ready, unhold
from streams.core.icu import icu_changed
from streams.core.plan import (
    apply_ack,
    incident_id,
    incident_state,
    merged_state,
    name_of,
    reissue,
    visible,
    warning_alert,
)
from streams.core.revisions import number_copies
from streams.core.rulebook import Rulebook
from streams.core.staff import staff_changed
from streams.core.state import NO_TIME, CoreState, Namespace, Track, disease_tracks, track_due
from streams.core.stock import apply_stock, next_snapshot
from streams.core.stockpile import stockpile_changed
from streams.core.surge import (
    conversion_opens,
    conversions_changed,
    jurisdiction_line,
    order_time,
    sync_surge,
)
from streams.core.timelines import Timelines
from streams.core.transfers import apply_transfer, beds_changed
from topics.models import CaseEvent, IncidentEvent, StockEvent, TransferEvent
from topics.outputs import Alert, Escalation, IncidentState, StockLevel, Task, Tick

InputEvent = IncidentEvent | CaseEvent | TransferEvent | StockEvent
_INPUT_TYPES = frozenset({IncidentEvent, CaseEvent, TransferEvent, StockEvent})
Output = Escalation | Task | Alert | IncidentState | StockLevel


class _Batch(Timelines):
    __slots__ = ()

    def event(self, ev: InputEvent) -> None:
        comp = self.comp
        t, reported = to_us(ev.occurred_at), to_us(ev.reported_at)
        # checks.input_problem, in integers: the shells sent such events to the DLQ
        if t - reported > comp.occurred_slack_us or value_problem(ev, comp) is not None:
            return
        limit = comp.ahead_limit
        tick_wm = self.work.state.tick_wm
        if limit is not None and t - limit > tick_wm != NO_TIME:
            hold(self.work, self._space(ev.status), ev, t, self.out)
        else:
            self._apply(ev, t, reported)

    def _apply(self, ev: InputEvent, t: int, reported: int) -> None:
        ns = self._space(ev.status)
        if t > ns.event_wm:
            ns.event_wm = t
        if isinstance(ev, CaseEvent):
            self._track_event(ns, "d:" + ev.disease, ev, t)  # disease_key, inlined
        elif isinstance(ev, IncidentEvent):
            if ev.msg_type == "Ack" and ev.ack_task_id is not None:
                watermark = self._watermark(ns)
                apply_ack(
                    ns, self.jurisdiction, ev, t, comp=self.comp, watermark=watermark, out=self.out
                )
                opens = conversion_opens(ns, ev.ack_task_id, self.comp)
                if opens is not None:
                    self._icu_recompute(ns, min(opens, watermark))
                    self._conversions(ns)
                if ev.verification is not None:  # what the check found: a report on it
                    key = disease_key(ev.disease) if ev.disease else "i:" + ev.incident_id
                    self._track_event(ns, key, ev, t)
            elif ev.declared_tier is not None and ev.source.agency_type not in self.comp.declare_by:
                self._reject(ns, ev, t)  # its event time still counts, as every event's
            else:
                key = disease_key(ev.disease) if ev.disease else "i:" + ev.incident_id
                self._track_event(ns, key, ev, t)
        elif isinstance(ev, StockEvent):
            fresh = apply_stock(
                self.work, ns, self.jurisdiction, ev, t, comp=self.comp, out=self.out
            )
            if fresh and ev.item.startswith("bed."):
                beds_changed(
                    ns, self.jurisdiction, (ev.site_id, ev.item), t,
                    facilities=self.comp.facilities, out=self.out,
                )  # fmt: skip
                if ev.item == self.comp.icu_item:
                    line = jurisdiction_line(ns, self.jurisdiction, self.comp)
                    end = next_snapshot(ns, ev.site_id, ev.item, t)
                    icu_changed(ns, self.jurisdiction, line, (t, end), comp=self.comp, out=self.out)
                    self._icu_recompute(ns, t)
                    if not self._conversions(ns):
                        self._beds_seen(ns)
                elif self.comp.surge is not None and ev.item == self.comp.surge.item:
                    self._conversions(ns)
            if fresh and ev.item in self.comp.staffing:
                staff_changed(
                    ns, self.jurisdiction, ev.site_id, ev.item, t, comp=self.comp, out=self.out
                )
            if fresh and ev.item in self.comp.stockpile:
                watermark = self._watermark(ns)
                changed = (ev.site_id, ev.item)
                stockpile_changed(
                    ns, self.jurisdiction, changed, t, comp=self.comp, watermark=watermark,
                    out=self.out,
                )  # fmt: skip
        else:
            watermark = self._watermark(ns)
            apply_transfer(
                ns, self.jurisdiction, ev, t,
                facilities=self.comp.facilities, watermark=watermark, out=self.out,
            )  # fmt: skip
        if reported - t > self.comp.reporting_limit:
            reporting_late(ns, self.jurisdiction, ev, reported - t, self.out)
        if ns.event_wm >= ns.next_due or self.work.state.tick_wm >= ns.next_due:
            self._advance(ns)
        self._declarations_due()

    def tick(self, tick: Tick) -> None:
        state = self.work.state
        at = to_us(tick.tick_at)
        state.tick_wm = max(state.tick_wm, at)
        ready = take_ready(self.work, self.comp.ahead_limit) if self.work.has_held() else ()
        for held_t, held in ready:
            unhold(self._space(held.status), self.jurisdiction, held, held_t, self.out)
            self._apply(held, held_t, to_us(held.reported_at))
        for status, ns in list(state.namespaces.items()):
            if max(ns.event_wm, state.tick_wm) >= ns.next_due:
                self._advance(self.work.namespace(status))
        self._declarations_due()

    def _track_event(self, ns: Namespace, key: str, ev: CaseEvent | IncidentEvent, t: int) -> None:
        before = ns.tracks.get(key)
        name_before = before.name_key if before is not None else None
        declares = isinstance(ev, IncidentEvent) and ev.declared_tier is not None
        # ``before`` may be this batch's copy, which the event is about to change
        decl_before = declared_changes(before.decls) if declares and before is not None else None
        others: Collection[str]
        if isinstance(ev, CaseEvent):
            changed, others = apply_case(self.work, ns, ev, t, self.comp)
        else:
            changed, others = apply_report(self.work, ns, ev, t), ()
        track = ns.tracks[key]
        if declares and changed:
            note_declaration(track, ev, t)  # type: ignore[arg-type]
        self._touch(ns.status, key)
        if before is not None and name_before is not track.name_key:
            track.warn_dirty = True
            old_inc = name_of(ns.status, self.jurisdiction, key, name_before)
            if old_inc != incident_id(ns.status, self.jurisdiction, track):
                reissue(
                    ns,
                    self.jurisdiction,
                    track,
                    old_inc,
                    comp=self.comp,
                    watermark=self._watermark(ns),
                    out=self.out,
                )
                merged = merged_state(ns, self.jurisdiction, track, old_inc, self.comp)
                if merged is not None:
                    self.out.append(merged)
        for changed_key, t0 in changed.items():
            self._recompute(ns, changed_key, t0)
        renamed = before is not None and name_before is not track.name_key
        if declares or renamed:
            self._dirty(ns.status, key)
        if (declares and changed) or (renamed and track.decls):
            old_inc = name_of(ns.status, self.jurisdiction, key, name_before)
            was = None
            if before is not None:
                was = (
                    old_inc,
                    declared_changes(track.decls) if decl_before is None else decl_before,
                )
            watermark = self._watermark(ns)
            sync_declared(
                ns, self.jurisdiction, track, was, comp=self.comp, watermark=watermark,
                out=self.out,
            )  # fmt: skip
            ordered = None if was is None else (was[0], order_time(was[1], self.comp))
            moved = sync_surge(
                ns, self.jurisdiction, track, ordered, comp=self.comp, watermark=watermark,
                out=self.out,
            )  # fmt: skip
            if moved is not None:
                self._icu_recompute(ns, min(moved, watermark))
                self._conversions(ns)
        if track.warn_dirty:
            self._warn(ns, track)
        self._forecast(ns, key)
        for other in others:
            self._touch(ns.status, other)
            if ns.tracks[other].warn_dirty:
                self._warn(ns, ns.tracks[other])
            self._forecast(ns, other)

    def _conversions(self, ns: Namespace) -> bool:
        """Show the jurisdiction's conversions as the state says now; where one came, went
        or changed, re-evaluate ``icu_capacity_low`` from its opening on and every ICU
        forecast. Returns whether one did."""
        changed = conversions_changed(ns, self.jurisdiction, comp=self.comp, out=self.out)
        if changed is None:
            return False
        line = jurisdiction_line(ns, self.jurisdiction, self.comp)
        icu_changed(ns, self.jurisdiction, line, (changed, NEVER), comp=self.comp, out=self.out)
        self._beds_seen(ns)
        return True

    def _beds_seen(self, ns: Namespace) -> None:
        """The ICU beds changed: every ICU forecast reads them, and so does the picture of
        an incident with confirmed cases. One without has no ICU figures
        (:func:`streams.core.forecast.metrics`): showing it again would only repeat it, for
        every incident the jurisdiction ever had, at every bed report."""
        shown, tracks = ns.shown, ns.tracks
        for key in disease_tracks(ns):  # cases land on these alone
            track = tracks[key]
            if track.times and visible(track):
                self._touch(ns.status, key)  # the picture's figures change
            # what :meth:`_forecast` returns at once for, not asked (most incidents)
            if track.counters["critical"] > 0 or "forecast:" + key in shown:
                self._forecast(ns, key)

    def _forecast(self, ns: Namespace, key: str) -> None:
        """The track's ``capacity_forecast`` after this event."""
        track = ns.tracks[key]
        shown = visible(track)
        if (not shown or track.counters["critical"] <= 0) and "forecast:" + key not in ns.shown:
            return  # the common case: nothing to forecast, nothing to take back
        inc = incident_id(ns.status, self.jurisdiction, track) if shown else None
        forecast_changed(ns, self.jurisdiction, track, inc, comp=self.comp, out=self.out)

    def _reject(self, ns: Namespace, ev: IncidentEvent, t: int) -> None:
        """A declaration from an agency type without authority: said once, else ignored."""
        alert = rejected(ns, self.jurisdiction, ev, t, self.comp)
        if alert.alert_id not in ns.alerted:
            ns.alerted.add(alert.alert_id)
            self.out.append(alert)

    def _warn(self, ns: Namespace, track: Track) -> None:
        track.warn_dirty = False
        warning_alert(
            ns, self.jurisdiction, track, self.out, comp=self.comp, watermark=self._watermark(ns)
        )

    def _declarations_due(self) -> None:
        """``declaration_overdue`` of every track the event touched, as of its watermark
        (after each event, so a batch emits what the events one by one would)."""
        dirty, self.dirty = self.dirty, {}
        if self.comp.auto_declare:
            return
        for status, key in dirty:
            ns = self.work.namespace(status)
            track = self.work.track(ns, key, None)
            declaration_due(
                ns,
                self.jurisdiction,
                track,
                comp=self.comp,
                watermark=self._watermark(ns),
                out=self.out,
            )
            track_due(ns, track.decl_due)

    def finish(self) -> tuple[CoreState, list[Output]]:
        number_copies(self.work, self.out)
        state = self.work.seal()
        for status, key in self.touched:
            ns = state.namespaces[status]
            track = ns.tracks[key]
            if visible(track):
                self.out.append(incident_state(ns, state.jurisdiction, track, self.comp))
        return state, self.out


def step_many(
    state: CoreState,
    events: Sequence[InputEvent | Tick],
    rulebook: Rulebook,
) -> tuple[CoreState, list[Output]]:
    """Fold a batch of decoded events and ticks of ONE jurisdiction into ``state``.

    Returns the new state (``state`` itself is left untouched) and the outputs, in the
    order they were decided. Idempotent per event_id, order-insensitive in its final state
    and tier timeline, and incremental: per-event cost does not grow with incident size."""
    batch = _Batch(state, compile_rulebook(rulebook))
    for ev in events:
        # the exact types first: an isinstance that fails on a pydantic model is slow
        if type(ev) in _INPUT_TYPES or not isinstance(ev, Tick):
            batch.event(ev)  # type: ignore[arg-type]
        else:
            batch.tick(ev)
    return batch.finish()


def step(
    state: CoreState,
    event: InputEvent | Tick,
    rulebook: Rulebook,
) -> tuple[CoreState, list[Output]]:
    """Fold one event or tick into ``state``: ``step_many(state, [event], rulebook)``."""
    return step_many(state, (event,), rulebook)
