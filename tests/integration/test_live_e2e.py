"""End to end: a scenario published raw (malformed records, duplicates, one record keyed
by a producer that does not key by jurisdiction), a worker subprocess, everything landed
in ClickHouse and equal to what ``streams.core.fold`` decides offline over the same
events and ticks."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.core import default_rulebook, fold, shipped_registry
from streams.simulate import REGISTRIES, rulebook_for
from topics.registry import TOPIC_FOR_KIND

from .kafka_helpers import read_topic, run_cli
from .live_support import (
    Published,
    free_port,
    labelled,
    live_settings,
    prepare,
    publish,
    rows,
    running_worker,
    scrape,
    simulate,
    topic_of,
    wait_decided,
    wait_landed,
)
from .offline_answer import (
    assert_areas_as_intended,
    assert_decisions_equal_offline,
)
from .privacy_support import assert_no_personal_data, with_personal_extras
from .rollup_answer import (
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


@pytest.mark.parametrize("scenario", ["road-mci", "cholera", "supply-squeeze", "surge"])
def test_scenario_lands_as_the_core_decides_offline(
    scenario: str,
    stack: Settings,
    ch_admin: Client,
    unique_name: Callable[..., str],
    tmp_path: Path,
) -> None:
    # surge: the worker reads the scenario's facility registry (TIERFLOW_REGISTRY_PATH)
    registry = REGISTRIES.get(scenario)
    settings = live_settings(
        stack,
        unique_name("live"),
        registry_path=None if registry is None else shipped_registry(registry),
    )
    db = settings.clickhouse_database
    lines, truth = simulate(scenario, 7, tmp_path / "scenario.jsonl")
    lines = with_personal_extras(lines)
    prepare(settings)
    sent = publish(settings, lines, wrong_keys=3)
    assert sent.malformed == len(truth["malformed"]) > 0
    assert truth["duplicate_event_ids"]

    with running_worker(settings, tmp_path / "worker.log") as proc:
        landed = wait_landed(
            ch_admin, db, rejected=sent.malformed, proc=proc, tiered=bool(truth["timeline"])
        )
        metrics = scrape(settings.metrics_port)

    # Offline: the same events (duplicates included) and every tick the log holds, then
    # the roll-up stages over the city snapshots.
    rulebook = rulebook_for(scenario)
    inputs = [*sent.events, *worker_ticks(settings)]
    states, outputs = fold(inputs, rulebook)
    assert_decisions_equal_offline(ch_admin, db, states, with_rollups(outputs, rulebook, inputs))
    assert_areas_as_intended(ch_admin, db, truth)
    if scenario == "surge":  # the reserve hospital's converted beds landed as intended
        converted = "alert_kind = 'beds_converted' AND status = 'Actual' AND NOT retracted"
        assert rows(ch_admin, db, "alerts", "subject_id", converted) == [("H-510105-01/bed.icu",)]
    if scenario == "cholera":  # its ack of the province's command task went the whole way
        province = "jurisdiction = '51' AND status = 'Actual'"
        landed_tasks = rows(ch_admin, db, "tasks", "agency_type, state", province)
        assert ("emergency", "acked") in landed_tasks
        assert ("health", "overdue") in landed_tasks

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
    one by reason; one escalation per record in the escalations topic; and a journal
    write timed for every batch decided (each is journaled before it is decided)."""
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
    batches = metrics["tierflow_decide_batch_seconds_count"]
    assert metrics["tierflow_decide_journal_seconds_count"] >= batches > 0


def test_decide_and_land_in_two_processes_land_the_offline_answer(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    """``worker_stages``: a deciding process and a landing one (each on its own core) land
    what one worker would: the offline answer. The databases are migrated only after the
    workers started: the landing waits for them (its user runs no DDL), then lands all."""
    decide = live_settings(stack, unique_name("split"), worker_stages="decide")
    land = decide.model_copy(update={"worker_stages": "land", "metrics_port": free_port()})
    lines, truth = simulate("cholera", 2, tmp_path / "scenario.jsonl")
    prepare(decide, migrate=False)
    sent = publish(decide, lines)
    with (
        running_worker(decide, tmp_path / "decide.log") as decider,
        running_worker(land, tmp_path / "land.log") as lander,
    ):
        wait_decided(decide, decider)
        assert "not migrated yet" in (tmp_path / "land.log").read_text()
        # The landing gives way to the deciding process for a core; the decider does not.
        ours = os.getpriority(os.PRIO_PROCESS, 0)
        assert os.getpriority(os.PRIO_PROCESS, decider.pid) == ours
        lowered = min(19, ours + land.worker_landing_niceness)
        assert land.worker_landing_niceness > 0
        assert os.getpriority(os.PRIO_PROCESS, lander.pid) == lowered
        run_cli(["db", "migrate"], decide)
        wait_landed(ch_admin, decide.clickhouse_database, rejected=sent.malformed, proc=lander)
        assert decider.poll() is None
    # no worker process runs DDL
    assert "applied" not in (tmp_path / "land.log").read_text()
    assert "applied" not in (tmp_path / "decide.log").read_text()
    rulebook = default_rulebook()
    inputs = [*sent.events, *worker_ticks(decide)]
    states, outputs = fold(inputs, rulebook)
    db = decide.clickhouse_database
    assert_decisions_equal_offline(ch_admin, db, states, with_rollups(outputs, rulebook, inputs))
    assert_areas_as_intended(ch_admin, db, truth)
