"""End to end: a scenario published raw (malformed records, duplicates, one record keyed
by a producer that does not key by jurisdiction), a worker subprocess, everything landed
in ClickHouse and equal to what ``streams.core.fold`` decides offline over the same
events and ticks."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from streams.core import default_rulebook, fold, tier_timeline
from topics.models import Alert, Escalation, IncidentState, Task
from topics.registry import TOPIC_FOR_KIND
from topics.settings import Settings

from .kafka_helpers import read_topic
from .live_support import (
    Published,
    assert_no_personal_data,
    labelled,
    live_settings,
    prepare,
    publish,
    rows,
    running_worker,
    scrape,
    simulate,
    topic_of,
    wait_landed,
    with_rollups,
    worker_ticks,
)

# The reason label the DLQ gives each of the simulator's malformed-record classes (the
# wording the codec promises, see tests/unit/test_simulate.py).
_REASON = {
    "not_json": "not JSON",
    "not_object": "not a JSON object",
    "missing_field": "missing required field",
    "bad_region": "bad region code",
    "bad_timestamp": "bad timestamp",
    "unknown_kind": "unknown kind",
    "wrong_type": "wrong value for",
}


@pytest.mark.parametrize("scenario", ["road-mci", "cholera"])
def test_scenario_lands_as_the_core_decides_offline(
    scenario: str,
    stack: Settings,
    ch_admin: Client,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    settings = live_settings(stack, unique_name("live"))
    db = settings.clickhouse_database
    lines, truth = simulate(scenario, 7, tmp_path / "scenario.jsonl")
    prepare(settings)
    sent = publish(settings, lines, wrong_keys=3)
    assert sent.malformed == len(truth["malformed"]) > 0
    assert truth["duplicate_event_ids"]

    with running_worker(settings, tmp_path / "worker.log") as proc:
        landed = wait_landed(ch_admin, db, rejected=sent.malformed, proc=proc)
        metrics = scrape(settings.metrics_port)

    # Offline: the same events (duplicates included) and every tick the log holds, then
    # the roll-up stages over the city snapshots.
    rulebook = default_rulebook()
    states, outputs = fold([*sent.events, *worker_ticks(settings)], rulebook)
    assert_decisions_equal_offline(ch_admin, db, states, with_rollups(outputs, rulebook))
    # The roll-up stages' tier changes (cholera: spread to a second city of province 51)
    # are the ones the scenario script intends.
    intended = sorted(
        (s["jurisdiction"], s["tier"] or "", datetime.fromisoformat(s["effective_at"]).timestamp())
        for s in truth["timeline"]
        if len(s["jurisdiction"]) < 4
    )
    areas = "status = 'Actual' AND NOT retracted AND length(jurisdiction) < 4"
    landed_areas = rows(ch_admin, db, "tier_timeline", "jurisdiction, tier, effective_at", areas)
    assert sorted((j, t or "", at.timestamp()) for j, t, at in landed_areas) == intended

    # Malformed records: in the DLQ table with a reason, where they came from.
    rejected = rows(ch_admin, db, "rejected_events", "topic, reason")
    assert len(rejected) == sent.malformed
    assert all(reason for _, reason in rejected)
    assert landed["transfers"] == len({e.transfer_id for e in sent.events if e.kind == "transfer"})
    assert landed["cases"] == len({e.event_id for e in sent.events if e.kind == "case"})
    assert_no_personal_data(ch_admin, settings, lines)

    assert_metrics_count_what_was_sent(metrics, settings, sent, lines, truth)


def assert_metrics_count_what_was_sent(
    metrics: dict[str, float],
    settings: Settings,
    sent: Published,
    lines: list[bytes],
    truth: dict[str, Any],
) -> None:
    """The metrics endpoint counts what the test published (tallied here from the sent
    records, not from the worker): every valid record once by topic, kind and agency
    (duplicates and wrongly keyed ones included, the forward not twice), every malformed
    one by reason; and one escalation per record in the escalations topic."""
    prefix = settings.topic_prefix
    sent_by_labels = Counter(
        (TOPIC_FOR_KIND[e.kind].name(prefix), e.kind, e.source.agency_type, e.source.agency_id)
        for e in sent.events
    )
    consumed = {
        (m["topic"], m["kind"], m["agency_type"], m["agency"]): v
        for m, v in labelled(metrics, "tierflow_records_consumed_total")
    }
    assert consumed == sent_by_labels
    sent_rejections = Counter(
        (topic_of(lines[m["line"] - 1], prefix), m["error"]) for m in truth["malformed"]
    )
    rejected_metric = Counter(
        {
            (m["topic"], m["reason"]): v
            for m, v in labelled(metrics, "tierflow_records_rejected_total")
        }
    )
    assert {
        (topic, cls): n
        for (topic, reason), n in rejected_metric.items()
        for cls, label in _REASON.items()
        if reason.startswith(label)
    } == sent_rejections
    assert sum(rejected_metric.values()) == sent.malformed  # every label was one of ours
    emitted = Counter(
        (json.loads(value).get("tier") or "none")
        for _, value, _ in read_topic(settings.kafka_bootstrap, f"{prefix}.escalations.v1")
    )
    escalated = {
        m["tier"]: v
        for m, v in labelled(metrics, "tierflow_escalations_total")
        if m["status"] == "Actual"
    }
    assert escalated == emitted


def assert_decisions_equal_offline(
    ch: Client, db: str, states: dict[str, Any], outputs: list[Any]
) -> None:
    """What landed and still stands equals what ``streams.core.fold`` decides offline over
    the same records. The live run decided in batches: a late event may have made an
    earlier decision wrong, which the core then retracts (landed with retracted = true,
    tasks 'retracted'); retracted rows are history, not the answer, so they are left out
    on both sides."""
    standing = _last_copies(outputs)
    city_timeline = [
        (e.incident_id, e.effective_at.timestamp(), e.tier or "", tuple(e.rule_ids))
        for state in states.values()
        for e in tier_timeline(state)
    ]
    rollup_timeline = [  # a roll-up incident's jurisdiction is its area: "51", "nation"
        (e.incident_id, e.effective_at.timestamp(), e.tier or "", tuple(e.rule_ids))
        for e in standing.values()
        if isinstance(e, Escalation) and len(e.jurisdiction) < 4 and not e.retracted
    ]
    offline_timeline = sorted(city_timeline + rollup_timeline)
    live_timeline = sorted(
        (inc, at.timestamp(), tier or "", tuple(ids))
        for inc, at, tier, ids in rows(
            ch,
            db,
            "tier_timeline",
            "incident_id, effective_at, tier, rule_ids",
            "status = 'Actual' AND NOT retracted",
        )
    )
    assert offline_timeline, "the scenario decided no tier: nothing compared"
    assert live_timeline == offline_timeline

    live_tiers = dict(rows(ch, db, "incidents", "incident_id, tier", "status = 'Actual'"))
    offline_tiers = {out.incident_id: out.tier for out in outputs if isinstance(out, IncidentState)}
    assert live_tiers == offline_tiers

    offline_tasks = {
        t.task_id: t.state
        for t in standing.values()
        if isinstance(t, Task) and t.state != "retracted"
    }
    live_tasks = dict(rows(ch, db, "tasks", "task_id, state", "state != 'retracted'"))
    assert live_tasks == offline_tasks

    retracted = {a.alert_id for a in outputs if isinstance(a, Alert) and a.retracted}
    offline_alerts = {
        (a.alert_kind, a.subject_id)
        for a in outputs
        if isinstance(a, Alert) and a.alert_id not in retracted
    }
    live_alerts = set(rows(ch, db, "alerts", "alert_kind, subject_id", "NOT retracted"))
    assert live_alerts == offline_alerts


def _last_copies(outputs: list[Any]) -> dict[str, Escalation | Task]:
    """Per escalation or task id the copy with the highest revision: the one a sink keeps
    (sinks/tables.py), whatever order the copies landed in."""
    last: dict[str, Escalation | Task] = {}
    for out in outputs:
        if isinstance(out, Escalation | Task):
            oid = out.decision_id if isinstance(out, Escalation) else out.task_id
            if oid not in last or out.revision > last[oid].revision:
                last[oid] = out
    return last
