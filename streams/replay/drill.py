"""`tierflow review drill`: how the agencies did in a drill (or any run), from its landed
rows. Pure functions of the rows; the command reads them (``read_review_record``).

Per agency type: tasks issued (retracted ones are not counted), acked on time (``acked_at
<= due_at``), acked late, overdue (never acked, state ``overdue``), and the median (upper)
and worst time to ack (``acked_at - issued_at``) over the acked ones. Then each
declaration with its decision lag (:mod:`streams.replay.report_decisions`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sinks.command_view import ReviewRecord
from streams.replay.report_decisions import DeclarationRow, declarations, is_declared


@dataclass(frozen=True)
class AgencyScore:
    """One agency type's tasks in the drill."""

    agency_type: str
    issued: int
    on_time: int
    late: int
    overdue: int
    median_ack: timedelta | None
    worst_ack: timedelta | None


@dataclass(frozen=True)
class DrillScore:
    agencies: list[AgencyScore]
    declarations: list[tuple[str, DeclarationRow]]  # (incident_id, its declaration)


def agency_scores(tasks: Iterable[dict[str, Any]]) -> list[AgencyScore]:
    """Per agency type (by name), the figures of its tasks' rows."""
    by_agency: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        if task["state"] != "retracted":
            by_agency.setdefault(task["agency_type"], []).append(task)
    scores = []
    for agency, rows in sorted(by_agency.items()):
        acked = [r for r in rows if r["acked_at"] is not None]
        waits = sorted(r["acked_at"] - r["issued_at"] for r in acked)
        on_time = sum(1 for r in acked if r["acked_at"] <= r["due_at"])
        scores.append(
            AgencyScore(
                agency,
                len(rows),
                on_time,
                len(acked) - on_time,
                sum(1 for r in rows if r["acked_at"] is None and r["state"] == "overdue"),
                waits[len(waits) // 2] if waits else None,
                waits[-1] if waits else None,
            )
        )
    return scores


def score_drill(record: ReviewRecord) -> DrillScore:
    """The drill's scores: agencies, then every declaration with its decision lag."""
    by_incident: dict[str, list[dict[str, Any]]] = {}
    for row in record.timeline:
        by_incident.setdefault(row["incident_id"], []).append(row)
    decided: list[tuple[str, DeclarationRow]] = []
    for incident, rows in sorted(by_incident.items()):
        recommended = sorted(
            ((r["effective_at"], r["tier"]) for r in rows if not is_declared(r)),
            key=lambda change: change[0],
        )
        decided += [
            (incident, d) for d in declarations([r for r in rows if is_declared(r)], recommended)
        ]
    return DrillScore(agency_scores(record.tasks), decided)
