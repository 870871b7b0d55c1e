"""A scenario script: the events a scenario plans, the faults every scenario carries, and
the records plus truth file they become.

A scenario module plans valid events in event time (``Script.event``, ``Script.tick``)
and states what it intends (``intend_tier``, ``intend_alert``). ``Script.finish`` then
adds the generic faults (late and late-reported events, duplicates, malformed records),
orders everything by publish time and writes the truth from what was actually emitted.
All randomness comes from one ``random.Random`` seeded by scenario and seed.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import orjson

from streams.core import assessment_task_id, default_rulebook
from streams.simulate.faults import MALFORMED_CLASSES, corrupt
from streams.simulate.places import Agency, County
from streams.simulate.truth import Emitted, build_truth

TICKS_STEM = "ticks"
_STEM_OF_KIND = {
    "incident": "incidents",
    "case": "cases",
    "transfer": "transfers",
    "stock": "stock",
}
# The regulation's reporting limit is 2 h (DESIGN.md section 4); late-reported events
# exceed it clearly, late ones stay inside it unless their follower is further away.
REPORTING_LIMIT = timedelta(hours=2)
_REPORTING_LATE_MIN = (150, 240)
_LATE_MIN = (40, 100)


def whole_seconds(moment: datetime) -> datetime:
    """``moment`` rounded to the second: the wire carries seconds, so does the truth."""
    up = 1_000_000 if moment.microsecond >= 500_000 else 0
    return moment + timedelta(microseconds=up - moment.microsecond)


def rfc3339(moment: datetime) -> str:
    """``2026-03-02T08:00:00+08:00``: seconds, with the offset of ``moment``."""
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True)
class Params:
    """What a run of the generator is asked for; the same params give the same bytes."""

    scenario: str
    seed: int
    start: datetime
    status: str = "Actual"
    scale: int = 1

    @cached_property
    def tag(self) -> str:
        """A short run tag in every id, so runs with different params never share ids."""
        text = f"{self.scenario}|{self.seed}|{rfc3339(self.start)}|{self.status}|{self.scale}"
        return hashlib.sha256(text.encode()).hexdigest()[:6]


@dataclass(frozen=True)
class FaultPlan:
    """How many generic faults a scenario carries: shares of its input events, each with
    a floor so that even a small scenario has every kind of fault."""

    late: tuple[float, int] = (0.02, 3)
    reporting_late: int = 2
    duplicates: tuple[float, int] = (0.03, 3)
    malformed: tuple[float, int] = (0.01, len(MALFORMED_CLASSES))


@dataclass
class _Planned:
    body: dict[str, Any]
    stem: str
    key: bytes | None
    seq: int
    occurred_at: datetime
    publish_at: datetime
    late: bool = False
    steady: bool = False


@dataclass(frozen=True)
class SimRecord:
    """One record as published: topic stem, Kafka key and value bytes."""

    topic_stem: str
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class Scenario:
    """The generated records in publish order and the truth about them."""

    records: tuple[SimRecord, ...]
    truth: dict[str, Any]

    def jsonl(self) -> bytes:
        """One record value per line, in publish order."""
        return b"".join(r.value + b"\n" for r in self.records)

    def truth_json(self) -> bytes:
        return orjson.dumps(self.truth, option=orjson.OPT_INDENT_2) + b"\n"


@dataclass
class Script:
    """The planning surface a scenario writes to (see module docstring)."""

    params: Params
    abbr: str  # short scenario name in event ids
    report_delay: timedelta  # how long after the fact a punctual agency reports
    semantics: dict[str, str] = field(default_factory=dict)
    rng: random.Random = field(init=False)
    _planned: list[_Planned] = field(default_factory=list, init=False)
    _ticks_every: timedelta | None = field(default=None, init=False)
    _timeline: list[dict[str, Any]] = field(default_factory=list, init=False)
    _alerts: list[dict[str, Any]] = field(default_factory=list, init=False)
    _declarations: list[dict[str, Any]] = field(default_factory=list, init=False)
    _ids: int = field(default=0, init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(f"{self.params.scenario}/{self.params.seed}")

    def at(self, offset: timedelta) -> datetime:
        """The instant ``offset`` after the scenario's start, whole seconds."""
        return whole_seconds(self.params.start + offset)

    def new_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}-{self.params.tag}-{self._ids:06d}"

    def event(
        self,
        kind: str,
        *,
        agency: Agency,
        occurred_at: datetime,
        county: County,
        msg_type: str = "Alert",
        incident_id: str | None = None,
        delay: timedelta | None = None,
        steady: bool = False,
        **payload: Any,
    ) -> str:
        """Plan one valid input event; returns its event_id. ``delay`` (default: the
        scenario's punctual ``report_delay``) sets ``reported_at`` and so its publish time;
        a delay longer than other events' marks it a designated late event. ``steady``
        keeps it punctual: an intended alert hinges on its arrival order."""
        event_id = self.new_id(self.abbr)
        occurred_at = whole_seconds(occurred_at)
        reported_at = occurred_at + (delay or self.report_delay)
        body: dict[str, Any] = {
            "event_id": event_id,
            "kind": kind,
            "schema_version": 1,
            "msg_type": msg_type,
            "status": self.params.status,
            "source": agency.as_source(),
            "occurred_at": rfc3339(occurred_at),
            "reported_at": rfc3339(reported_at),
            "region": county.code,
            "location": county.location(),
        }
        if incident_id is not None:
            body["incident_id"] = incident_id
        body.update(payload)
        self._planned.append(
            _Planned(
                body,
                _STEM_OF_KIND[kind],
                county.city.encode(),
                len(self._planned),
                occurred_at,
                reported_at,
                late=delay is not None and delay > self.report_delay,
                steady=steady,
            )
        )
        return event_id

    def ticks(self, first: datetime, last: datetime, every: timedelta) -> None:
        """Clock ticks from ``first`` to ``last`` inclusive (records of the ticks topic,
        for every jurisdiction: no ``jurisdiction`` field, no key)."""
        self._ticks_every = every
        moment = first
        while moment <= last:
            body = {"kind": "tick", "event_id": self.new_id("tick"), "tick_at": rfc3339(moment)}
            seq = len(self._planned)
            self._planned.append(_Planned(body, TICKS_STEM, None, seq, moment, moment))
            moment += every

    def intend_tier(
        self,
        *,
        jurisdiction: str,
        tier: str | None,
        effective_at: datetime,
        rule: str,
        why: str,
        incident_id: str | None = None,
    ) -> None:
        """A step of the intended tier timeline (``tier`` None: stood down).
        ``incident_id`` None: the core opens the incident itself (early warning)."""
        self._timeline.append(
            {
                "incident_id": incident_id,
                "jurisdiction": jurisdiction,
                "tier": tier,
                "effective_at": rfc3339(effective_at),
                "rule": rule,
                "why": why,
            }
        )

    def declare(
        self,
        *,
        agency: Agency,
        county: County,
        incident_id: str,
        tier: str | None,
        previous: str | None,
        recommended_at: datetime,
        lag: timedelta,
        ahead_of: str | None = None,
        **payload: Any,
    ) -> None:
        """The command agency's declaration of ``tier`` (None: stand down) ``lag`` after
        the recommendation of it at ``recommended_at`` (an incident Update with
        ``declared_tier``), with its ack of the joint-assessment task that recommendation
        gave it: a step of the intended declared timeline. Punctual (``steady``): the
        intended decision lag is the one the record carries. ``ahead_of``: the tier
        recommended at ``recommended_at`` when the leading group declares a higher one the
        rules never recommended (its decision lag is undefined)."""
        at = whole_seconds(recommended_at + lag)
        status = self.params.status
        self.event(
            "incident",
            agency=agency,
            occurred_at=at,
            county=county,
            msg_type="Update",
            incident_id=incident_id,
            declared_tier=tier or "none",
            reason=f"joint assessment: {'stand down' if tier is None else 'declare ' + tier}",
            headline=f"leading group declares {tier or 'stand-down'}",
            steady=True,
            **payload,
        )
        task_id = assessment_task_id(
            status,
            incident_id,
            tier=ahead_of or tier,  # type: ignore[arg-type]
            previous=previous,  # type: ignore[arg-type]
            at=recommended_at,
            rulebook=default_rulebook(),
        )
        self.event(
            "incident",
            agency=agency,
            occurred_at=at,
            county=county,
            msg_type="Ack",
            incident_id=incident_id,
            category=payload["category"],
            headline="joint assessment held",
            ack_task_id=task_id,
            steady=True,
        )
        self._declarations.append(
            {
                "incident_id": incident_id,
                "jurisdiction": county.city,
                "tier": tier,
                "declared_at": rfc3339(at),
                "by": agency.agency_id,
                "decision_lag_s": None
                if ahead_of
                else int((at - whole_seconds(recommended_at)).total_seconds()),
            }
        )

    def first_signal(self, city: str, disease: str) -> datetime | None:
        """The earliest planned case event of ``disease`` in ``city`` that is not a
        discard: when a one-case warning trigger opens its warning."""
        times = [
            p.occurred_at
            for p in self._planned
            if p.body["kind"] == "case"
            and p.body["disease"] == disease
            and p.body["region"][:4] == city
            and p.body["classification"] != "discarded"
        ]
        return min(times, default=None)

    def intend_alert(
        self, kind: str, subject_id: str | None, *, jurisdiction: str, **details: Any
    ) -> None:
        """An alert the scenario means to raise (``subject_id`` None: core-derived id)."""
        self._alerts.append(
            {"kind": kind, "subject_id": subject_id, "jurisdiction": jurisdiction, **details}
        )

    # --- finishing ---------------------------------------------------------------------

    def finish(self, plan: FaultPlan) -> Scenario:
        """Add the generic faults, order by publish time, and write the truth."""
        inputs = [p for p in self._planned if p.stem != TICKS_STEM]
        self._delay_some(inputs, plan)
        self._intend_reporting_late(inputs)
        originals = [
            Emitted(p.stem, p.key, orjson.dumps(p.body), p.publish_at, p.seq, p.body, None)
            for p in self._planned
        ]
        copies = self._duplicates(originals, plan, len(originals))
        bad = self._malformed(originals, plan, len(originals) + len(copies))
        emitted = originals + copies + bad
        emitted.sort(key=lambda e: (e.publish_at, e.seq))
        ticks = None
        if self._ticks_every is not None:
            ticks = {"every_s": int(self._ticks_every.total_seconds())}
        truth = build_truth(
            params={
                "scenario": self.params.scenario,
                "seed": self.params.seed,
                "scale": self.params.scale,
                "start": rfc3339(self.params.start),
                "status": self.params.status,
                "tag": self.params.tag,
            },
            emitted=emitted,
            timeline=sorted(self._timeline, key=lambda s: (s["effective_at"], s["jurisdiction"])),
            alerts=self._alerts,
            declarations=sorted(
                self._declarations, key=lambda d: (d["declared_at"], d["jurisdiction"])
            ),
            semantics=self.semantics,
            ticks=ticks,
        )
        records = tuple(SimRecord(e.stem, e.key, e.value) for e in emitted)
        return Scenario(records, truth)

    def _count(self, share: tuple[float, int], population: int) -> int:
        return min(population, max(share[1], round(share[0] * population)))

    def _delay_some(self, inputs: list[_Planned], plan: FaultPlan) -> None:
        """Report a few events late: some past the 2 h limit, others just after an event
        that occurred later than they did (its "follower"), so they are late in the log."""
        candidates = [p for p in inputs if not (p.late or p.steady)]
        for planned in self.rng.sample(candidates, min(plan.reporting_late, len(candidates))):
            delay = timedelta(minutes=self.rng.randint(*_REPORTING_LATE_MIN))
            self._report_at(planned, planned.occurred_at + delay)
        by_time = sorted(inputs, key=lambda p: (p.occurred_at, p.seq))
        follower: dict[int, _Planned] = {}
        later: _Planned | None = None
        for n in range(len(by_time) - 1, 0, -1):
            if by_time[n].occurred_at > by_time[n - 1].occurred_at:
                later = by_time[n]
            if later is not None:
                follower[by_time[n - 1].seq] = later
        wanted = self._count(plan.late, len(candidates))
        held: set[int] = set()  # followers stay put, so their predecessors stay late
        order = [p for p in candidates if not p.late and p.seq in follower]
        self.rng.shuffle(order)
        for planned in order:
            if wanted == 0:
                break
            if planned.seq in held:
                continue
            after = follower[planned.seq]
            held.add(after.seq)
            soonest = planned.occurred_at + timedelta(minutes=self.rng.randint(*_LATE_MIN))
            behind = after.publish_at + timedelta(minutes=self.rng.randint(1, 10))
            self._report_at(planned, max(soonest, behind))
            wanted -= 1

    @staticmethod
    def _report_at(planned: _Planned, reported_at: datetime) -> None:
        planned.publish_at = reported_at
        planned.body["reported_at"] = rfc3339(reported_at)
        planned.late = True

    def _intend_reporting_late(self, inputs: list[_Planned]) -> None:
        for planned in inputs:
            delay = planned.publish_at - planned.occurred_at
            if delay > REPORTING_LIMIT:
                self.intend_alert(
                    "reporting_late",
                    planned.body["event_id"],
                    jurisdiction=planned.body["region"][:4],
                    delay_min=delay / timedelta(minutes=1),
                )

    def _duplicates(self, emitted: list[Emitted], plan: FaultPlan, seq: int) -> list[Emitted]:
        """Re-sends of the same bytes (at-least-once delivery), minutes after the first."""
        inputs = [e for e in emitted if e.stem != TICKS_STEM]
        chosen = self.rng.sample(inputs, self._count(plan.duplicates, len(inputs)))
        copies = []
        for n, original in enumerate(chosen):
            later = original.publish_at + timedelta(minutes=self.rng.randint(1, 45))
            copies.append(replace(original, publish_at=later, seq=seq + n))
        return copies

    def _malformed(self, emitted: list[Emitted], plan: FaultPlan, seq: int) -> list[Emitted]:
        """Broken copies of real events, sent to the topic the event was meant for."""
        inputs = [e for e in emitted if e.stem != TICKS_STEM]
        chosen = self.rng.sample(inputs, self._count(plan.malformed, len(inputs)))
        bad = []
        for n, source in enumerate(chosen):
            assert source.body is not None  # originals all carry their event
            error_class = MALFORMED_CLASSES[n % len(MALFORMED_CLASSES)]
            value = corrupt(source.body, error_class, self.new_id(f"{self.abbr}-bad"))
            later = source.publish_at + timedelta(seconds=20)
            bad.append(Emitted(source.stem, source.key, value, later, seq + n, None, error_class))
        return bad
