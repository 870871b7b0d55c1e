"""The after-action report: one self-contained HTML file for a review.

Three layers: :func:`read_report` reads ClickHouse as the read-only user (the review's
database and, for the diff, a reference: the live database or another review);
:func:`assemble_report` turns those plain rows into a :class:`ReviewReport`; and
:func:`streams.replay.report_html.render_report` writes the HTML — inline CSS and inline
SVG charts, no scripts, no fonts or images fetched — so the file opens anywhere, offline.

Per incident: the tier timeline chart (the reference run dashed over it), the evidence
(rule ids and metric values) of every change, the tasks with how late they were acked or
that they went unacked past due, and the incident's transfers and logistics alerts
(capacity redirects, delayed transfers). Then the days-of-cover curve of every site and
item against the stock target, and the tier-change diff against the reference.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from sinks.client import connect
from sinks.command_view import ReviewRecord, read_review_record
from sinks.display import unique_names
from streams.config.settings import Settings
from streams.core import Rulebook
from streams.replay.diff import TierChange, TierChangeDiff, diff_timelines
from streams.replay.report_charts import TierLane
from streams.replay.report_decisions import (
    DeclarationRow,
    decision_lags,
    declarations,
    is_declared,
)
from streams.replay.report_forecasts import ForecastCheck, check_forecasts
from streams.replay.report_summary import (
    IncidentLine,
    Summary,
    diff_counts,
    live_latency,
    peak_tier,
)
from topics.vocabulary import Status


@dataclass(frozen=True)
class ChangeRow:
    """One tier change with its evidence (``tier`` None: stood down)."""

    effective_at: datetime
    tier: str | None
    previous_tier: str | None
    rule_ids: tuple[str, ...]
    evidence: dict[str, float]
    decided_at: datetime | None = None


@dataclass(frozen=True)
class TaskRow:
    task_id: str
    tier: str
    agency_type: str
    action: str
    issued_at: datetime
    due_at: datetime
    state: str  # open, acked, overdue
    acked_at: datetime | None = None

    @property
    def late_by(self) -> timedelta | None:
        """How long after its due time the task was acked (None: acked in time, or not
        acked)."""
        if self.acked_at is None or self.acked_at <= self.due_at:
            return None
        return self.acked_at - self.due_at


@dataclass(frozen=True)
class TransferRow:
    transfer_id: str
    triage: str | None
    from_facility: str
    to_facility: str
    required_bed: str
    status: str
    occurred_at: datetime
    eta: datetime | None = None


@dataclass(frozen=True)
class LogisticsAlert:
    """A capacity redirect or a delayed transfer."""

    kind: str
    level: str
    subject_id: str
    at: datetime
    message: str


@dataclass(frozen=True)
class IncidentSection:
    incident_id: str
    name: str  # disease or category and place (sinks.display.incident_name)
    jurisdiction: str
    headline: str
    category: str
    disease: str | None
    changes: list[ChangeRow]
    reference_changes: list[ChangeRow] | None = None  # None: no diff asked for
    tasks: list[TaskRow] = field(default_factory=list)
    transfers: list[TransferRow] = field(default_factory=list)
    alerts: list[LogisticsAlert] = field(default_factory=list)
    # the declared timeline beside the recommended one (``changes``), with decision lags
    declarations: list[DeclarationRow] = field(default_factory=list)


@dataclass(frozen=True)
class CoverSeries:
    """Days of cover of one item at one site over time."""

    site_id: str
    item: str
    points: list[tuple[datetime, float]]
    # days at full load of the latest snapshot that has the figure (catalogue items only)
    full_load: float | None = None


@dataclass(frozen=True)
class DiffSection:
    against: str
    rows: list[TierChangeDiff]  # every change, the same ones included (the HTML lists the rest)
    # The reference is the live run and its latencies mean something (diff.latency_meaningful).
    latency_shown: bool


@dataclass(frozen=True)
class ReviewReport:
    """Everything the HTML shows, as plain data (see :func:`render_report`)."""

    name: str
    database: str
    lanes: list[TierLane]
    target_days: float
    tz: tzinfo
    incidents: list[IncidentSection]
    unlinked_transfers: list[TransferRow]
    unlinked_alerts: list[LogisticsAlert]
    stock: list[CoverSeries]
    rulebook_versions: list[str]
    summary: Summary
    diff: DiffSection | None = None
    forecasts: list[ForecastCheck] = field(default_factory=list)  # against what happened


# --- assembling plain rows into a report (pure) -------------------------------------------


def _change(row: dict[str, Any]) -> ChangeRow:
    return ChangeRow(
        row["effective_at"],
        row["tier"],
        row.get("previous_tier"),
        tuple(row["rule_ids"]),
        dict(row.get("evidence") or {}),
        row.get("decided_at"),
    )


def _by_incident(rows: Iterable[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["incident_id"] or "", []).append(row)
    return out


def _as_tier_changes(incident_id: str, changes: Iterable[ChangeRow]) -> list[TierChange]:
    return [
        TierChange(incident_id, c.effective_at, c.tier, c.rule_ids, c.decided_at) for c in changes
    ]


def assemble_report(
    name: str,
    database: str,
    record: ReviewRecord,
    *,
    rulebook: Rulebook,
    tz: tzinfo,
    reference: tuple[str, ReviewRecord] | None = None,
) -> ReviewReport:
    """The report of ``record`` (the review's rows); ``reference`` is ``(name, rows)`` of
    the run to diff against (``"live"`` gives the live decision latency too). Tier names,
    colours and the days-of-cover target come from ``rulebook``."""
    # the charts, the evidence and the diff are about the rules' recommendations; the
    # declarations (the same input events in a review as live) are listed with their lags
    declared = _by_incident(r for r in record.timeline if is_declared(r))
    timeline = {
        k: [_change(r) for r in v]
        for k, v in _by_incident(r for r in record.timeline if not is_declared(r)).items()
    }
    ref_timeline = (
        {
            k: [_change(r) for r in v]
            for k, v in _by_incident(r for r in reference[1].timeline if not is_declared(r)).items()
        }
        if reference
        else {}
    )
    tasks = _by_incident(record.tasks)
    transfers = _by_incident(record.transfers)
    alerts = _by_incident(record.logistics_alerts)
    known = {row["incident_id"]: row for row in record.incidents}
    if reference:
        known = {r["incident_id"]: r for r in reference[1].incidents} | known
    ids = sorted(
        known.keys() | timeline.keys() | ref_timeline.keys(),
        key=lambda i: (_first_at(timeline.get(i) or ref_timeline.get(i) or []), i),
    )
    chinese = {code: d.name for code, d in rulebook.diseases.items() if d.name}
    names = unique_names([{**known.get(i, {}), "incident_id": i} for i in ids], chinese=chinese)
    incidents = []
    for incident_id in ids:
        row = known.get(incident_id, {})
        incidents.append(
            IncidentSection(
                incident_id=incident_id,
                name=names[incident_id] if incident_id in known else incident_id,
                jurisdiction=row.get("jurisdiction", ""),
                headline=row.get("headline", ""),
                category=row.get("category", ""),
                disease=row.get("disease"),
                changes=timeline.get(incident_id, []),
                reference_changes=ref_timeline.get(incident_id, []) if reference else None,
                tasks=[_task(r) for r in tasks.get(incident_id, [])],
                transfers=[_transfer(r) for r in transfers.get(incident_id, [])],
                alerts=[_alert(r) for r in alerts.get(incident_id, [])],
                declarations=declarations(
                    declared.get(incident_id, []),
                    [(c.effective_at, c.tier) for c in timeline.get(incident_id, [])],
                ),
            )
        )
    diff = None
    theirs = [c for i, cs in ref_timeline.items() for c in _as_tier_changes(i, cs)]
    latency = live_latency(
        theirs if reference else None,
        reference[0] if reference else None,
        timedelta(hours=rulebook.reporting_limit_hours),
    )
    if reference:
        ours = [c for i, cs in timeline.items() for c in _as_tier_changes(i, cs)]
        diff = DiffSection(
            reference[0], diff_timelines(ours, theirs), latency_shown=latency.median is not None
        )
    differ, same = diff_counts(diff.rows if diff else None)
    summary = Summary(
        *_event_range(record),
        incidents=[_incident_line(s) for s in incidents],
        peak=peak_tier([c.tier for cs in timeline.values() for c in cs]),
        latency=latency,
        differ=differ,
        same=same,
        decision=decision_lags(d for s in incidents for d in s.declarations),
    )
    return ReviewReport(
        name=name,
        database=database,
        lanes=[TierLane(t.tier, f"{t.tier} {t.name}", t.color) for t in rulebook.tiers],
        target_days=rulebook.stock.yellow_days,
        tz=tz,
        incidents=incidents,
        unlinked_transfers=[_transfer(r) for r in transfers.get("", [])],
        unlinked_alerts=[_alert(r) for r in alerts.get("", [])],
        stock=_cover_series(record.days_of_cover),
        rulebook_versions=sorted({r["rulebook_version"] for r in record.timeline}),
        summary=summary,
        diff=diff,
        forecasts=check_forecasts(record.forecasts, record.icu, summary.end),
    )


def _event_range(record: ReviewRecord) -> tuple[datetime | None, datetime | None]:
    """The first and last event time anywhere in the review's record."""
    instants = [
        *(r["effective_at"] for r in record.timeline),
        *(r.get(k) for r in record.incidents for k in ("opened_at", "updated_at")),
        *(r["issued_at"] for r in record.tasks),
        *(r["occurred_at"] for r in record.transfers),
        *(r["at"] for r in record.days_of_cover),
    ]
    present = [at for at in instants if at is not None]
    return (min(present), max(present)) if present else (None, None)


def _incident_line(section: IncidentSection) -> IncidentLine:
    tiered = [c for c in section.changes if c.tier is not None]
    last = section.changes[-1] if section.changes else None
    return IncidentLine(
        name=section.name,
        incident_id=section.incident_id,
        peak=peak_tier([c.tier for c in tiered]),
        first_at=tiered[0].effective_at if tiered else None,
        latest=(last.effective_at, last.tier) if last else None,
        tasks=len(section.tasks),
        late=sum(1 for t in section.tasks if t.late_by is not None),
        unacked=sum(1 for t in section.tasks if t.acked_at is None and t.state == "overdue"),
    )


def _first_at(changes: Sequence[ChangeRow]) -> tuple[bool, datetime]:
    """Sort key: incidents by their first tier change, those without one last."""
    if not changes:
        return (True, datetime.min.replace(tzinfo=UTC))
    return (False, min(c.effective_at for c in changes))


def _task(row: dict[str, Any]) -> TaskRow:
    return TaskRow(
        row["task_id"], row["tier"], row["agency_type"], row["action"], row["issued_at"],
        row["due_at"], row["state"], row["acked_at"],
    )  # fmt: skip


def _transfer(row: dict[str, Any]) -> TransferRow:
    return TransferRow(
        row["transfer_id"], row["triage"], row["from_facility"], row["to_facility"],
        row["required_bed"], row["transfer_status"], row["occurred_at"], row["eta"],
    )  # fmt: skip


def _alert(row: dict[str, Any]) -> LogisticsAlert:
    return LogisticsAlert(
        row["alert_kind"], row["level"], row["subject_id"], row["at"], row["message"]
    )


def _cover_series(rows: Iterable[dict[str, Any]]) -> list[CoverSeries]:
    series: dict[tuple[str, str], list[tuple[datetime, float]]] = {}
    full_load: dict[tuple[str, str], float] = {}
    for row in rows:
        key = (row["site_id"], row["item"])
        series.setdefault(key, []).append((row["at"], float(row["days_of_cover"])))
        if row.get("days_at_full_load") is not None:  # rows come in time order
            full_load[key] = float(row["days_at_full_load"])
    return [
        CoverSeries(site, item, points, full_load.get((site, item)))
        for (site, item), points in sorted(series.items())
    ]


# --- reading (the only I/O) -----------------------------------------------------------


def read_report(
    settings: Settings,
    name: str,
    database: str,
    *,
    rulebook: Rulebook,
    tz: tzinfo,
    reference: tuple[str, str] | None = None,
    status: Status = "Actual",
) -> ReviewReport:
    """Read ``database`` (and ``reference`` = ``(name, database)``) as the read-only user
    and assemble the report of their ``status`` rows."""

    def record(db: str) -> ReviewRecord:
        client = connect(settings, db, reader=True)
        try:
            return read_review_record(client, status)
        finally:
            client.close()

    ref = (reference[0], record(reference[1])) if reference else None
    return assemble_report(
        name, database, record(database), rulebook=rulebook, tz=tz, reference=ref
    )
