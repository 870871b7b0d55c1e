"""The ``surge`` scenario (issue 15 item 6) beyond its truth file's timeline and alerts
(tests/unit/test_scenarios_timeline.py): the orders it gives and who acks them, folded
offline with the rules it names, and what the registry changes."""

from __future__ import annotations

from typing import Any

from streams.core import default_rulebook, fold, output_feeds_rollup, rollup_many
from streams.core.surge import SURGE_ACTION
from streams.simulate import generate, rulebook_for
from tests.folding import valid_records
from topics.outputs import Alert, Task


def _folded(rulebook: Any) -> tuple[dict[str, Task], set[tuple[str, str]]]:
    """(the last copy of each task by id, the standing alerts' (kind, subject))."""
    scenario = generate("surge", 1)
    _, outputs = fold(valid_records(scenario.jsonl().splitlines()), rulebook)
    tasks: dict[str, Task] = {}
    alerts: dict[str, Alert] = {}
    for out in outputs:
        if isinstance(out, Task):
            tasks[out.task_id] = out
        elif isinstance(out, Alert):
            alerts[out.alert_id] = out
    standing = {(a.alert_kind, a.subject_id) for a in alerts.values() if not a.retracted}
    return tasks, standing


def test_the_designated_and_reserve_hospitals_convert_and_health_replenishes() -> None:
    tasks, standing = _folded(rulebook_for("surge"))
    conversions = sorted(
        (t.action.split(" beds of ")[1].split(" ")[0], t.tier, t.state)
        for t in tasks.values()
        if t.action.startswith(SURGE_ACTION)
    )
    # the registry's designated H-510104-01 and reserve H-510105-01, H-510107-01 of 5101
    assert conversions == [
        ("H-510104-01", "II", "acked"),
        ("H-510105-01", "II", "acked"),
        ("H-510107-01", "II", "acked"),
    ]
    (replenish,) = [t for t in tasks.values() if t.action.startswith("replenish")]
    assert (replenish.agency_type, replenish.incident_id) == ("health", "stockpile/5101/ppe.gown")
    # only the reserve hospital with convertible beds opens any
    assert [s for k, s in standing if k == "beds_converted"] == ["H-510105-01/bed.icu"]


def test_without_the_registry_nothing_is_ordered_or_converted() -> None:
    tasks, standing = _folded(default_rulebook())
    assert not [t for t in tasks.values() if t.action.startswith(SURGE_ACTION)]
    assert not [s for k, s in standing if k == "beds_converted"]


def test_the_province_redirects_the_transfer_chengdu_cannot_take_into_zigong() -> None:
    scenario = generate("surge", 1)
    for rulebook, crossed in ((rulebook_for("surge"), ["H-510302-01"]), (default_rulebook(), [])):
        _, outputs = fold(valid_records(scenario.jsonl().splitlines()), rulebook)
        _, rolled = rollup_many(
            {}, [o for o in outputs if output_feeds_rollup(o, rulebook)], rulebook
        )
        province = [
            a.details["suggested_facility"]
            for a in last_alerts(rolled)
            if a.jurisdiction == "51" and a.alert_kind == "capacity_redirect"
        ]
        assert province == crossed
        # the city's own: no free ICU bed in Chengdu, with or without the registry
        city = [
            a.details["suggested_facility"]
            for a in last_alerts(outputs)
            if a.alert_kind == "capacity_redirect"
        ]
        assert city == [None]


def last_alerts(outputs: list[Any]) -> list[Alert]:
    """The standing alerts: per id the last copy, retractions left out."""
    last: dict[str, Alert] = {}
    for out in outputs:
        if isinstance(out, Alert):
            last[out.alert_id] = out
    return [a for a in last.values() if not a.retracted]
