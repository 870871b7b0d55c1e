"""End to end: a scenario published raw (malformed records, duplicates, one record keyed
by a producer that does not key by jurisdiction), a worker subprocess, everything landed
in ClickHouse and equal to what ``streams.core.fold`` decides offline over the same
events and ticks."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from streams.core import default_rulebook, fold, tier_timeline
from topics.models import Alert, IncidentState, Task
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
# A task's state only moves forward; the landed row is the furthest one (sinks/tables.py).
_TASK_RANK = {"open": 0, "overdue": 1, "acked": 2, "retracted": 3}


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

    # Offline: the same events (duplicates included) and every tick the log holds.
    states, outputs = fold([*sent.events, *worker_ticks(settings)], default_rulebook())
    assert_decisions_equal_offline(ch_admin, db, states, outputs)

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
    offline_timeline = sorted(
        (e.incident_id, e.effective_at.timestamp(), e.tier or "", tuple(e.rule_ids))
        for state in states.values()
        for e in tier_timeline(state)
    )
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

    offline_tasks: dict[str, str] = {}
    for out in outputs:
        if isinstance(out, Task):
            seen = offline_tasks.get(out.task_id)
            if seen is None or _TASK_RANK[out.state] > _TASK_RANK[seen]:
                offline_tasks[out.task_id] = out.state
    live_tasks = dict(rows(ch, db, "tasks", "task_id, state", "state != 'retracted'"))
    assert live_tasks == {t: s for t, s in offline_tasks.items() if s != "retracted"}

    retracted = {a.alert_id for a in outputs if isinstance(a, Alert) and a.retracted}
    offline_alerts = {
        (a.alert_kind, a.subject_id)
        for a in outputs
        if isinstance(a, Alert) and a.alert_id not in retracted
    }
    live_alerts = set(rows(ch, db, "alerts", "alert_kind, subject_id", "NOT retracted"))
    assert live_alerts == offline_alerts
