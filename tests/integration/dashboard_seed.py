"""A small landed scenario for the command-view dashboard tests, built from the wire and
output models and landed through the sinks writer.

Two jurisdictions: Chengdu (5101: a cholera incident escalating IV → III → II, a warning
opened by the multi-point trigger, a measles incident closed after standing down) and
Chongqing (5001: a food-poisoning incident at tier IV). Around them sit rows every panel
must leave out: a drill (status Exercise), rows outside the time window (before
``WINDOW_START`` or after ``WINDOW_END``), superseded versions of the same key, retracted
decisions, tasks and alerts (some reinstated by a later revision, which shows again), a
warning incident merged into another (closed). The agencies'
reports (cases, transfers, stock levels) are in ``dashboard_seed_reports``; the expected
panel contents are written out by hand in ``dashboard_expected`` and ``test_dashboards``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel

from sinks.clickhouse import ClickHouseSink
from streams.config.settings import Settings
from tests.integration.dashboard_seed_reports import at, cases, stock_levels, transfers
from topics.outputs import Alert, Escalation, IncidentState, Task

WINDOW_START = datetime(2026, 3, 1, tzinfo=UTC)
WINDOW_END = datetime(2026, 3, 8, tzinfo=UTC)
RULEBOOK = "test-1"


def _incident(incident_id: str, version: int, updated_at: datetime, **fields: Any) -> IncidentState:
    base: dict[str, Any] = {
        "jurisdiction": "5101",
        "category": "infectious_disease",
        "phase": "confirmed",
        "opened_at": updated_at,
        "rulebook_version": RULEBOOK,
    }
    return IncidentState(
        incident_id=incident_id, version=version, updated_at=updated_at, **{**base, **fields}
    )


CHOLERA = {"disease": "cholera", "region": "510104", "lat": 30.66, "lon": 104.07}


def incidents() -> list[IncidentState]:
    opened = {"opened_at": at(2, 9)}
    return [
        # A: cholera in Chengdu, three versions; the view keeps version 3 (tier II).
        _incident("inc-cholera-5101", 1, at(2, 9), tier="IV", **CHOLERA, **opened),
        _incident("inc-cholera-5101", 2, at(3, 10), tier="III", **CHOLERA, **opened),
        _incident(
            "inc-cholera-5101",
            3,
            at(5, 12),
            tier="II",
            declared_tier="II",
            decision_lag_s=5400.0,
            # its forecast (streams/core/forecast.py): 5 then 10 confirmed a week, doubling
            # in 7 days; 2 critical, 9 free ICU beds: 11 outgrown in 7 log2 5.5 = 17.2 days
            metrics={
                "confirmed_window_before": 5.0,
                "confirmed_window": 10.0,
                "doubling_days": 7.0,
                "cases_critical": 2.0,
                "icu_capacity": 11.0,
                "icu_days_to_exceed": 7 * math.log2(5.5),
            },
            **CHOLERA,
            **opened,
        ),
        # B: food poisoning in Chongqing, tier IV, no disease code.
        _incident(
            "inc-food-5001",
            1,
            at(3, 13),
            jurisdiction="5001",
            category="food_poisoning",
            phase="reported",
            tier="IV",
            region="500103",
            lat=29.56,
            lon=106.55,
            opened_at=at(3, 12),
        ),
        # C: a warning from the multi-point trigger: no tier yet, no location.
        _incident(
            "inc-warning-5101",
            1,
            at(6, 6),
            category="unknown_cluster",
            phase="reported",
            warning=True,
            region="510105",
            # one case this week, none before: no doubling time, no critical case
            metrics={
                "confirmed_window_before": 0.0,
                "confirmed_window": 1.0,
                "cases_critical": 0.0,
            },
        ),
        # D: measles, tier IV, then stood down and closed: not active.
        _incident(
            "inc-measles-5101", 1, at(1, 2), tier="IV", disease="measles", lat=30.6, lon=104.0
        ),
        _incident(
            "inc-measles-5101",
            2,
            at(6),
            tier=None,
            phase="closed",
            disease="measles",
            lat=30.6,
            lon=104.0,
            opened_at=at(1, 2),
        ),
        # G: a warning an agency's incident (A) took over: closed, merged into A.
        _incident(
            "inc-warning-old-5101",
            1,
            at(2, 8),
            category="infectious_disease",
            phase="reported",
            warning=True,
            **CHOLERA,
        ),
        _incident(
            "inc-warning-old-5101",
            2,
            at(2, 9),
            category="infectious_disease",
            phase="closed",
            merged_into="inc-cholera-5101",
            opened_at=at(2, 8),
            **CHOLERA,
        ),
        # E: a drill at tier I: never in the live view.
        _incident("inc-drill-5101", 1, at(4), status="Exercise", tier="I", **CHOLERA),
        # F: opened after the window ends.
        _incident("inc-later-5101", 1, at(9), tier="III", **CHOLERA),
    ]


def _decision(
    decision_id: str,
    incident_id: str,
    tier: Any,
    previous: Any,
    effective_at: datetime,
    *,
    jurisdiction: str = "5101",
    status: Any = "Actual",
    decided_after: timedelta = timedelta(seconds=2),
    retracted: bool = False,
    revision: int = 0,
    basis: Any = "recommended",
) -> Escalation:
    return Escalation(
        basis=basis,
        decision_id=decision_id,
        incident_id=incident_id,
        jurisdiction=jurisdiction,
        status=status,
        tier=tier,
        previous_tier=previous,
        effective_at=effective_at,
        rule_ids=("r1",),
        evidence={"confirmed": 1.0},
        rulebook_version=RULEBOOK,
        decided_at=effective_at + decided_after,
        retracted=retracted,
        revision=revision,
    )


def escalations() -> list[Escalation]:
    return [
        _decision("d-a1", "inc-cholera-5101", "IV", None, at(2, 9)),
        _decision("d-a2", "inc-cholera-5101", "III", "IV", at(3, 10)),
        # d-a2 retracted by a late event, then reinstated by another: shown.
        _decision("d-a2", "inc-cholera-5101", "III", "IV", at(3, 10), retracted=True, revision=1),
        _decision("d-a2", "inc-cholera-5101", "III", "IV", at(3, 10), revision=2),
        # d-a9 retracted for good: never shown.
        _decision("d-a9", "inc-cholera-5101", "I", "III", at(4, 6)),
        _decision("d-a9", "inc-cholera-5101", "I", "III", at(4, 6), retracted=True, revision=1),
        _decision("d-a3", "inc-cholera-5101", "II", "III", at(5, 12)),
        # d-a3 again, re-emitted after a restart: the same row once the key collapses.
        _decision(
            "d-a3", "inc-cholera-5101", "II", "III", at(5, 12), decided_after=timedelta(hours=1)
        ),
        # the command agency declares cholera II 90 min after its recommendation
        _decision("d-a4", "inc-cholera-5101", "II", None, at(5, 13, 30), basis="declared"),
        _decision("d-b1", "inc-food-5001", "IV", None, at(3, 13), jurisdiction="5001"),
        _decision("d-d1", "inc-measles-5101", "IV", None, at(1, 2)),
        _decision("d-d2", "inc-measles-5101", None, "IV", at(6)),
        _decision("d-e1", "inc-drill-5101", "I", None, at(4), status="Exercise"),
        _decision("d-f1", "inc-later-5101", "III", None, at(9)),
    ]


def _task(  # noqa: PLR0917 - positional, so the task table below reads as rows
    task_id: str,
    agency: Any,
    action: str,
    incident_id: str,
    issued: datetime,
    due: datetime,
    **kw: Any,
) -> Task:
    fields: dict[str, Any] = {
        "incident_id": incident_id,
        "state": "open",
        "jurisdiction": "5101",
        "tier": "II",
        "decided_at": issued,
    }
    fields.update(kw)
    return Task(
        task_id=task_id,
        agency_type=agency,
        action=action,
        issued_at=issued,
        due_at=due,
        **fields,
    )


def tasks() -> list[Task]:
    issued = at(5, 12)
    cholera = ("inc-cholera-5101", issued)
    return [
        _task("t-a-em", "emergency", "convene_joint_command", *cholera, at(5, 13)),
        _task(
            "t-a-em", "emergency", "convene_joint_command", *cholera, at(5, 13),
            state="acked", acked_at=at(5, 12, 40), decided_at=at(5, 12, 40), revision=1,
        ),
        _task("t-a-health", "health", "designate_hospitals", *cholera, at(5, 18)),
        _task(
            "t-a-health", "health", "designate_hospitals", *cholera, at(5, 18),
            state="overdue", decided_at=at(5, 18), revision=1,
        ),
        # Past due but the core has not marked it yet: the view counts it overdue. It was
        # retracted and reinstated on the way.
        _task("t-a-ps", "public_security", "secure_perimeter", *cholera, at(5, 14)),
        _task(
            "t-a-ps", "public_security", "secure_perimeter", *cholera, at(5, 14),
            state="retracted", revision=1,
        ),
        _task(
            "t-a-ps", "public_security", "secure_perimeter", *cholera, at(5, 14), revision=2
        ),
        # Overdue, then retracted for good: not counted.
        _task("t-a-gone", "health", "trace_contacts", *cholera, at(5, 13), state="overdue"),
        _task(
            "t-a-gone", "health", "trace_contacts", *cholera, at(5, 13),
            state="retracted", revision=1,
        ),
        # Due after the window ends: not overdue yet.
        _task("t-a-tr", "transport", "open_green_corridor", *cholera, at(9)),
        _task(
            "t-b-health", "health", "trace_food_source", "inc-food-5001", at(3, 13), at(3, 20),
            state="overdue", jurisdiction="5001", tier="IV",
        ),
        _task(
            "t-e", "health", "designate_hospitals", "inc-drill-5101", at(4), at(4, 1),
            state="overdue", tier="I", status="Exercise",
        ),
        _task(
            "t-old", "health", "designate_hospitals", "inc-cholera-5101", at(20, month=2),
            at(21, month=2), state="overdue",
        ),
        # A stockpile shortfall's replenishment task (issue 15 item 4): no incident, tier IV.
        _task(
            "t-stock", "health", "replenish ppe.n95 to 30 days at full load",
            "stockpile/5101/ppe.n95", at(6, 8), at(7, 8), state="overdue", tier="IV",
        ),
    ]  # fmt: skip


def _alert(alert_id: str, kind: Any, level: Any, subject: str, when: datetime, **kw: Any) -> Alert:
    fields: dict[str, Any] = {"jurisdiction": "5101", "message": f"{kind} {subject}"}
    fields.update(kw)
    return Alert(
        alert_id=alert_id,
        alert_kind=kind,
        level=level,
        subject_id=subject,
        at=when,
        decided_at=when,
        **fields,
    )


def _with_retraction(alert: Alert) -> tuple[Alert, Alert]:
    """``alert`` and its retraction (the next revision)."""
    return alert, alert.model_copy(update={"retracted": True, "revision": alert.revision + 1})


def alerts() -> list[Alert]:
    return [
        _alert(
            "al-redirect-1",
            "capacity_redirect",
            "orange",
            "tr1",
            at(5, 10, 5),
            incident_id="inc-cholera-5101",
            message="hosp-b has no free icu bed: redirect to hosp-c",
            details={"to_facility": "hosp-b", "suggested_facility": "hosp-c"},
        ),
        _alert(
            "al-redirect-x",
            "capacity_redirect",
            "orange",
            "tr4",
            at(5, 9, 5),
            incident_id="inc-drill-5101",
            status="Exercise",
        ),
        _alert("al-late-c3", "reporting_late", "yellow", "e-c3", at(4, 11)),
        # al-late-c3 retracted, then reinstated: shown. al-gone retracted for good.
        _alert(
            "al-late-c3", "reporting_late", "yellow", "e-c3", at(4, 11), retracted=True, revision=1
        ),
        _alert("al-late-c3", "reporting_late", "yellow", "e-c3", at(4, 11), revision=2),
        _alert("al-gone", "reporting_late", "yellow", "e-c4", at(4, 12)),
        _alert(
            "al-gone", "reporting_late", "yellow", "e-c4", at(4, 12), retracted=True, revision=1
        ),
        _alert("al-late-c7", "reporting_late", "yellow", "e-c7", at(3, 19), jurisdiction="5001"),
        _alert("al-stock", "stock_low", "orange", "depot-1/ppe.n95", at(6, 8)),
        # hosp-b's conversion opened 3 ICU beds; hosp-a's was retracted (a late declaration
        # moved its order), and its replacement opens after the window: neither is shown
        _alert(
            "al-conv-b",
            "beds_converted",
            "info",
            "hosp-b/bed.icu",
            at(6, 10),
            details={"item": "bed.icu", "beds": 3.0},
        ),
        *_with_retraction(
            _alert(
                "al-conv-a",
                "beds_converted",
                "info",
                "hosp-a/bed.icu",
                at(6, 11),
                details={"item": "bed.icu", "beds": 5.0},
            )
        ),
        _alert(
            "al-conv-a2",
            "beds_converted",
            "info",
            "hosp-a/bed.icu",
            at(9),
            details={"item": "bed.icu", "beds": 5.0},
        ),
        _alert(
            "al-warning",
            "warning_opened",
            "yellow",
            "inc-warning-5101",
            at(6, 6),
            incident_id="inc-warning-5101",
        ),
        _alert("al-old", "task_overdue", "orange", "t-old", at(21, month=2)),
    ]


SCENARIO: dict[str, Sequence[BaseModel]] = {
    "incidents": incidents(),
    "tier_timeline": escalations(),
    "tasks": tasks(),
    "alerts": alerts(),
    "cases": cases(),
    "transfers": transfers(),
    "stock_levels": stock_levels(),
}


def land_scenario(settings: Settings, database: str) -> None:
    """Write the scenario into ``database`` (already migrated) through the sinks writer."""
    sink = ClickHouseSink(settings, database)
    for table, models in SCENARIO.items():
        sink.write(table, models, f"dashboard-seed:{table}")
    sink.flush()
