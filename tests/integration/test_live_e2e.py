"""End to end: a scenario published raw (malformed records, duplicates, one record keyed
by a producer that does not key by jurisdiction), a worker subprocess, everything landed
in ClickHouse and equal to what ``streams.core.fold`` decides offline over the same
events and ticks."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from streams.core import default_rulebook, fold, tier_timeline
from topics.models import Alert, IncidentState, Task
from topics.settings import Settings

from .live_support import (
    assert_no_personal_data,
    live_settings,
    prepare,
    publish,
    rows,
    running_worker,
    scrape,
    simulate,
    wait_landed,
    worker_ticks,
)

_TASK_RANK = {"open": 0, "overdue": 1, "acked": 2}  # a later state replaces an earlier one


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
    offline_timeline = sorted(
        (e.incident_id, e.effective_at.timestamp(), e.tier or "", tuple(e.rule_ids))
        for state in states.values()
        for e in tier_timeline(state)
    )
    live_timeline = sorted(
        (inc, at.timestamp(), tier or "", tuple(ids))
        for inc, at, tier, ids in rows(
            ch_admin, db, "tier_timeline", "incident_id, effective_at, tier, rule_ids",
            "status = 'Actual'",
        )
    )
    # Every decision the core still holds offline was landed. Live may hold more: an
    # escalation decided before a late event moved that tier's effective time earlier
    # (the core revises its timeline; the table keeps what was decided then).
    assert set(offline_timeline) <= set(live_timeline)
    held = {(inc, tier) for inc, _, tier, _ in offline_timeline}
    for inc, at, tier, _ in set(live_timeline) - set(offline_timeline):
        assert (inc, tier) in held, f"{inc} {tier} at {at} decided live but not offline"
        assert any(i == inc and t == tier and a < at for i, a, t, _ in offline_timeline)
    live_tiers = dict(rows(ch_admin, db, "incidents", "incident_id, tier", "status = 'Actual'"))
    offline_tiers = {
        out.incident_id: out.tier for out in outputs if isinstance(out, IncidentState)
    }
    assert live_tiers == offline_tiers
    offline_tasks: dict[str, str] = {}
    for out in outputs:
        if isinstance(out, Task):
            seen = offline_tasks.get(out.task_id)
            if seen is None or _TASK_RANK[out.state] > _TASK_RANK[seen]:
                offline_tasks[out.task_id] = out.state
    live_tasks = {
        task_id: (state, inc, issued.timestamp())
        for task_id, state, inc, issued in rows(
            ch_admin, db, "tasks", "task_id, state, incident_id, issued_at"
        )
    }
    assert {t: live_tasks[t][0] for t in offline_tasks if t in live_tasks} == offline_tasks
    superseded = {(inc, at) for inc, at, _, _ in set(live_timeline) - set(offline_timeline)}
    for task_id in live_tasks.keys() - offline_tasks.keys():
        _, inc, issued = live_tasks[task_id]
        assert (inc, issued) in superseded, f"task {task_id} not explained by a revision"

    # Malformed records: in the DLQ table with a reason, where they came from.
    rejected = rows(ch_admin, db, "rejected_events", "topic, reason")
    assert len(rejected) == sent.malformed
    assert all(reason for _, reason in rejected)
    assert landed["transfers"] == len({e.transfer_id for e in sent.events if e.kind == "transfer"})
    assert landed["cases"] == len({e.event_id for e in sent.events if e.kind == "case"})
    assert_no_personal_data(ch_admin, settings, lines)

    # Metrics count what was published: every record once, malformed ones by reason.
    consumed = sum(v for k, v in metrics.items() if k.startswith("tierflow_records_consumed_total"))
    assert consumed == len(sent.events)
    rejected_metric = sum(
        v for k, v in metrics.items()
        if k.startswith("tierflow_records_rejected_total") and "undecodable" not in k
    )
    assert rejected_metric == sent.malformed
    escalated = sum(v for k, v in metrics.items() if k.startswith("tierflow_escalations_total"))
    assert escalated == len(live_timeline)

    # Alerts last: the core decides some of them from the order it sees events in (a
    # capacity redirect needs the bed count before the transfer), see the report.
    offline_alerts = {(a.alert_kind, a.subject_id) for a in outputs if isinstance(a, Alert)}
    live_alerts = set(rows(ch_admin, db, "alerts", "alert_kind, subject_id"))
    assert offline_alerts <= live_alerts
    assert not superseded or len(live_alerts - offline_alerts) <= len(live_tasks)
    if not superseded:
        assert live_alerts == offline_alerts

