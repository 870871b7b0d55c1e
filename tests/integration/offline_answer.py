"""What landed against the offline answer (``streams.core.fold`` over the published
lines): decisions, the log of inputs, states, and the scenarios' intended areas."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.core import (
    declared_timeline,
    default_rulebook,
    state_fingerprint,
    tier_timeline,
)
from streams.stages.state_records import RecordStore
from streams.stages.topology import (
    INCIDENT_STATES,
    STOCK_LEVELS,
)
from topics.codec import decode
from topics.outputs import Alert, Escalation, IncidentState, Rejection, Task
from topics.registry import (
    ALERTS,
    CASES,
    DLQ,
    ESCALATIONS,
    TASKS,
    TRANSFERS,
)

from .kafka_helpers import read_topic
from .live_support import (
    rows,
)
from .rollup_answer import (
    last_copies,
)


def _landed_keys(ch: Client, database: str, table: str, columns: str) -> set[tuple[Any, ...]]:
    keys: set[tuple[Any, ...]] = set()
    for db in (database, f"{database}_exercise"):
        keys.update(tuple(r) for r in ch.query(f"SELECT {columns} FROM {db}.{table}").result_rows)
    return keys


def _ms(stamp: str) -> int:
    return round(datetime.fromisoformat(stamp).timestamp() * 1000)


def assert_log_landed(ch: Client, settings: Settings) -> None:
    """Every record of every output topic is a row, and so is every case and transfer the
    agencies sent that decodes (the tests sign every one, so the decide stage accepts them
    and the landing lands them from the decided log): read the topics back with a plain
    consumer and look each record's key up in its table (live or exercise database).
    Independent of the landing code: raw JSON fields against SQL columns."""
    prefix, db = settings.topic_prefix, settings.clickhouse_database

    def from_topic(spec: Any, fields: tuple[str, ...]) -> set[tuple[Any, ...]]:
        out = set()
        for _key, value, _partition in read_topic(settings.kafka_bootstrap, spec.name(prefix)):
            if spec.role == "input" and isinstance(decode(value), Rejection):
                continue  # malformed input: in the DLQ, checked below
            record = json.loads(value)
            out.add(tuple(_ms(record[f]) if f == "at" else record[f] for f in fields))
        return out

    checks = [
        (ESCALATIONS, ("decision_id",), "tier_timeline", "decision_id"),
        (TASKS, ("task_id",), "tasks", "task_id"),
        (ALERTS, ("alert_id",), "alerts", "alert_id"),
        (INCIDENT_STATES, ("incident_id",), "incidents", "incident_id"),
        (
            STOCK_LEVELS,
            ("site_id", "item", "at"),
            "stock_levels",
            "site_id, item, toUnixTimestamp64Milli(at)",
        ),
        (CASES, ("event_id",), "cases", "event_id"),
        (TRANSFERS, ("transfer_id",), "transfers", "transfer_id"),
        (DLQ, ("topic", "partition", "offset"), "rejected_events", "topic, partition, offset"),
    ]
    for spec, fields, table, columns in checks:
        logged = from_topic(spec, fields)
        missing = logged - _landed_keys(ch, db, table, columns)
        assert not missing, f"{len(missing)} of {len(logged)} {spec.name(prefix)} not in {table}"


def state_fingerprints(settings: Settings) -> dict[str, bytes]:
    """The latest state per jurisdiction in the worker's state changelog (its per-key
    records, read back as a recovering worker does), as ``streams.core.state_fingerprint``
    (what the events determine, whatever their order)."""
    topic = f"{settings.topic_prefix}.decide-state-changelog"
    latest: dict[bytes, bytes] = {}
    for key, value, _partition in read_topic(settings.kafka_bootstrap, topic):
        assert key is not None
        if value is None:  # a tombstone: a key gone, or the record a claim ends with
            latest.pop(key, None)
            continue
        latest[key] = value
    store = RecordStore(latest, default_rulebook())
    states = {j: store.get(j) for j in store.jurisdictions()}
    return {j: state_fingerprint(s) for j, s in states.items() if s is not None}


def assert_decisions_equal_offline(
    ch: Client, db: str, states: dict[str, Any], outputs: list[Any]
) -> None:
    """What landed and still stands equals what ``streams.core.fold`` decides offline over
    the same records. The live run decided in batches: a late event may have made an
    earlier decision wrong, which the core then retracts (landed with retracted = true,
    tasks 'retracted'); retracted rows are history, not the answer, so they are left out
    on both sides."""
    standing = last_copies(outputs)
    city_timeline = [
        (e.incident_id, e.effective_at.timestamp(), e.tier or "", tuple(e.rule_ids), "recommended")
        for state in states.values()
        for e in tier_timeline(state)
    ]
    declared = [  # the second timeline: the command agencies' declarations
        (e.incident_id, e.declared_at.timestamp(), e.tier or "", (), "declared")
        for state in states.values()
        for e in declared_timeline(state)
    ]
    area_timeline = [  # a roll-up incident's jurisdiction is its area: "51", "nation"
        (e.incident_id, e.effective_at.timestamp(), e.tier or "", tuple(e.rule_ids), e.basis)
        for e in standing.values()
        if isinstance(e, Escalation) and len(e.jurisdiction) < 4 and not e.retracted
    ]
    offline_timeline = sorted(city_timeline + declared + area_timeline)
    live_timeline = sorted(
        (inc, at.timestamp(), tier or "", tuple(ids), basis)
        for inc, at, tier, ids, basis in rows(
            ch,
            db,
            "tier_timeline",
            "incident_id, effective_at, tier, rule_ids, basis",
            "status = 'Actual' AND NOT retracted",
        )
    )
    assert live_timeline == offline_timeline, _difference(live_timeline, offline_timeline)

    live_tiers = {
        inc: (tier, declared)
        for inc, tier, declared in rows(
            ch, db, "incidents", "incident_id, tier, declared_tier", "status = 'Actual'"
        )
    }
    offline_tiers = {
        out.incident_id: (out.tier, out.declared_tier)
        for out in outputs
        if isinstance(out, IncidentState)
    }
    assert live_tiers == offline_tiers, _difference(
        list(live_tiers.items()), list(offline_tiers.items())
    )

    offline_tasks = {
        t.task_id: t.state
        for t in standing.values()
        if isinstance(t, Task) and t.state != "retracted"
    }
    live_tasks = dict(rows(ch, db, "tasks", "task_id, state", "state != 'retracted'"))
    assert live_tasks == offline_tasks, _difference(
        list(live_tasks.items()), list(offline_tasks.items())
    )

    # the last copy of each alert id (an alert retracted and raised again stands, as the
    # sink's highest revision does)
    offline_alerts = {
        (a.alert_kind, a.subject_id)
        for a in standing.values()
        if isinstance(a, Alert) and not a.retracted
    }
    live_alerts = set(rows(ch, db, "alerts", "alert_kind, subject_id", "NOT retracted"))
    assert offline_timeline or offline_alerts, "the scenario decided nothing: nothing compared"
    assert live_alerts == offline_alerts, _difference(list(live_alerts), list(offline_alerts))


def _difference(live: list[Any], offline: list[Any]) -> str:
    """What only one side has (helpers' asserts are not rewritten by pytest)."""
    only_live, only_offline = sorted(set(live) - set(offline)), sorted(set(offline) - set(live))
    return f"live only: {only_live}; offline only: {only_offline}"


def assert_areas_as_intended(ch: Client, db: str, truth: dict[str, Any]) -> None:
    """The roll-up stages' standing tier changes (areas: a province, ``nation``) are the
    ones the scenario script intends (cholera: spread to a second city of province 51)."""
    intended = sorted(
        (s["jurisdiction"], s["tier"] or "", datetime.fromisoformat(s["effective_at"]).timestamp())
        for s in truth["timeline"]
        if len(s["jurisdiction"]) < 4
    )
    areas = "status = 'Actual' AND NOT retracted AND length(jurisdiction) < 4"
    landed = rows(ch, db, "tier_timeline", "jurisdiction, tier, effective_at", areas)
    assert sorted((j, t or "", at.timestamp()) for j, t, at in landed) == intended
