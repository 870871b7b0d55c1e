"""A small drill (Exercise) replayed through the pipeline into a review's exercise
database, evaluated by `tierflow review drill` and read by `review report|diff --status
Exercise` (issue 13 item 5). The figures are worked out by hand from the events below."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from sinks.client import connect
from sinks.command_view import read_review_record
from streams.config.settings import Settings
from streams.replay.drill import AgencyScore, score_drill
from tests.grafana_sql import ALL, QueryWindow, VariableValue, expand, sql_targets
from topics.models import IncidentEvent

from .kafka_helpers import run_cli
from .replay_support import drop_databases

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 5, 8, 0, tzinfo=CST)
EM = {"agency_id": "EM-5101", "agency_type": "emergency"}
# wide enough for every drill row (the panels filter on the dashboard's time range)
WINDOW = QueryWindow(T0 - timedelta(days=1), T0 + timedelta(days=2), timedelta(minutes=1))
# the tasks' ids, as the core names them (uuid5 of incident, tier, agency, action)
ASSESS = "4cf04d4a-d945-54bf-9426-08be7dccf305"  # emergency, 08:00, due 10:00
NOTIFY = "c9c36886-af4d-5ee9-8b55-2954938a19bc"  # emergency, 08:30, due 12:30


def drill_event(eid: str, minutes: int, **fields: Any) -> IncidentEvent:
    at = T0 + timedelta(minutes=minutes)
    return IncidentEvent(
        event_id=eid,
        kind="incident",
        status="Exercise",
        source=EM,
        occurred_at=at,
        reported_at=at,
        region="510104",
        incident_id="POI-D",
        category="chemical_poisoning",
        **fields,
    )


DRILL = [
    # 12 poisoned, nobody dead: Tier IV recommended at 08:00 (joint assessment to emergency)
    drill_event("d1", 0, msg_type="Alert", casualties={"total": 12, "dead": 0, "critical": 0}),
    drill_event("d2", 25, msg_type="Ack", ack_task_id=ASSESS),  # on time, after 25 min
    # declared 30 min after the recommendation: the IV plan (health due 10:30, emergency 12:30)
    drill_event("d3", 30, msg_type="Update", declared_tier="IV", reason="12 poisoned"),
    drill_event("d4", 300, msg_type="Ack", ack_task_id=NOTIFY),  # 13:00: late, after 4 h 30
    # health never acks its field investigation: overdue once the event time passes 10:30
]


@pytest.fixture
def drill_review(stack: Settings, ch_admin: Client, tmp_path: Path) -> Iterator[str]:
    source = tmp_path / "drill.jsonl"
    source.write_text("".join(e.model_dump_json() + "\n" for e in DRILL))
    name = f"drill{uuid.uuid4().hex[:8]}"
    run_cli(["replay", "--name", name, "--from-file", str(source)], stack)
    try:
        yield name
    finally:
        drop_databases(ch_admin, f"review_{name}")


def test_the_drill_is_scored_by_agency_with_the_decision_lag(
    stack: Settings, drill_review: str, tmp_path: Path
) -> None:
    client = connect(stack, f"review_{drill_review}_exercise", reader=True)
    try:
        score = score_drill(read_review_record(client, "Exercise"))
    finally:
        client.close()
    assert score.agencies == [
        # emergency: assessment acked in 25 min (on time), notify in 4 h 30 (late);
        # the median (upper) of two waits is the larger
        AgencyScore(
            "emergency", 2, 1, 1, 0, timedelta(hours=4, minutes=30), timedelta(hours=4, minutes=30)
        ),
        AgencyScore("health", 1, 0, 0, 1, None, None),
    ]
    [(incident, declared)] = score.declarations
    assert (incident, declared.tier, declared.lag) == ("POI-D", "IV", timedelta(minutes=30))

    shown = run_cli(["review", "drill", drill_review], stack).stdout
    assert "emergency" in shown and "+4h30m00s" in shown and "+0h30m00s" in shown
    # the Actual namespace of the same review is empty: nothing of the drill leaks there
    empty = run_cli(["review", "drill", drill_review, "--status", "Actual"], stack, check=False)
    assert empty.returncode == 0 and "emergency" not in empty.stdout

    out = tmp_path / "drill.html"
    run_cli(
        ["review", "report", drill_review, "--status", "Exercise", "--no-diff", "--out", str(out)],
        stack,
    )
    assert "POI-D" in out.read_text()
    diff = run_cli(
        ["review", "diff", drill_review, "--against", drill_review, "--status", "Exercise"], stack
    ).stdout
    assert "POI-D" in diff and "differ" in diff


def test_the_grafana_command_view_shows_the_drill_with_status_exercise(
    stack: Settings, drill_review: str
) -> None:
    # The dashboards' SQL, macros and variables expanded as Grafana does, read as the
    # read-only user the datasource is provisioned with.
    targets = {t.title: t for t in sql_targets()}
    reader = connect(stack, "", reader=True)
    live, drills = f"review_{drill_review}", f"review_{drill_review}_exercise"

    def run(title: str, database: str, status: str) -> list[tuple[Any, ...]]:
        variables: dict[str, VariableValue] = {
            "database": database,
            "jurisdiction": ALL,
            "disease": ALL,
            "tier": ALL,
            "status": status,
        }
        return list(reader.query(expand(targets[title].raw_sql, WINDOW, variables)).result_rows)

    try:
        # the database list follows the status: drills' databases only for Exercise
        assert (drills,) in run("variable database", live, "Exercise")
        assert (live,) not in run("variable database", live, "Exercise")
        assert (live,) in run("variable database", live, "Actual")
        assert (drills,) not in run("variable database", live, "Actual")
        rows = run("Active incidents", drills, "Exercise")
        # tier, declared tier, decision lag (min), incident: hand-computed above
        assert [r[:4] for r in rows] == [("IV", "IV", 30, "POI-D")]
        assert run("Active incidents", drills, "Actual") == []
    finally:
        reader.close()


def test_an_exercise_run_of_road_mci_is_scored_as_its_truth_file_says(
    stack: Settings, ch_admin: Client, tmp_path: Path
) -> None:
    """`tierflow simulate --scenario road-mci --status Exercise` (a drill): replayed by the
    pipeline, its rows land in the exercise namespace only, and the drill's declarations
    and decision lags are those its truth file intends (15 min each)."""
    out = tmp_path / "mci.jsonl"
    drill_run = ["--scenario", "road-mci", "--seed", "1", "--status", "Exercise"]
    run_cli(["simulate", *drill_run, "--out", str(out)], stack)
    truth = json.loads(out.with_suffix(".truth.json").read_text())
    assert truth["status"] == "Exercise"
    name = f"mci{uuid.uuid4().hex[:8]}"
    run_cli(["replay", "--name", name, "--from-file", str(out)], stack)
    try:
        client = connect(stack, f"review_{name}_exercise", reader=True)
        try:
            score = score_drill(read_review_record(client, "Exercise"))
        finally:
            client.close()
        got = [
            (incident, d.tier, int(d.lag.total_seconds()) if d.lag else None)
            for incident, d in score.declarations
        ]
        assert got == [
            (d["incident_id"], d["tier"], d["decision_lag_s"]) for d in truth["declarations"]
        ]
        agencies = {a.agency_type: a for a in score.agencies}
        # the command agency acked each of its 3 joint assessments when it declared
        assert agencies["emergency"].on_time >= 3
        assert sum(a.issued for a in score.agencies) > 3
        shown = run_cli(["review", "drill", name], stack).stdout
        assert "+0h15m00s" in shown
        actual = connect(stack, f"review_{name}", reader=True)
        try:
            assert read_review_record(actual).incidents == []  # nothing leaks to Actual
        finally:
            actual.close()
    finally:
        drop_databases(ch_admin, f"review_{name}")
