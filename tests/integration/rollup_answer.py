"""The offline answer of the roll-up stages and what the live worker's log holds of
them: the feed the decide stage forwards, the roll-up states in their changelog, the
escalations and ticks produced (the city stage's answer: offline_answer.py)."""

from __future__ import annotations

import subprocess
import time
from typing import Any

from streams.config.settings import Settings
from streams.core import (
    Rulebook,
    decode_rollup,
    feeds_rollup,
    output_feeds_rollup,
    rollup_many,
    rollup_timeline,
)
from streams.core.revisions import REVISED_ID
from streams.stages.topology import ROLLUP_FEED
from topics.codec import decode_tick
from topics.models import IncidentEvent
from topics.outputs import Alert, Escalation, Task, Tick
from topics.registry import ESCALATIONS, TICKS

from .kafka_helpers import read_topic, uncommitted


def rollup_feed(outputs: list[Any], rulebook: Rulebook, inputs: list[Any]) -> list[Any]:
    """What the decide stage puts on the roll-up feed, offline: the city outputs it
    forwards (of ``streams.core.fold`` over ``inputs``: snapshots, and with a registry bed
    levels and no-bed redirects), the acks of roll-up tasks and the ticks."""
    feed: list[Any] = [o for o in outputs if output_feeds_rollup(o, rulebook)]
    feed += [e for e in inputs if isinstance(e, IncidentEvent) and feeds_rollup(e, rulebook)]
    feed += [t for t in inputs if isinstance(t, Tick)]
    return feed


def with_rollups(outputs: list[Any], rulebook: Rulebook, inputs: list[Any]) -> list[Any]:
    """``outputs`` (of ``streams.core.fold`` over ``inputs``) followed by what the roll-up
    stages decide from the feed (:func:`rollup_feed`), folded in order: the offline answer
    of the whole pipeline."""
    _, rolled = rollup_many({}, rollup_feed(outputs, rulebook, inputs), rulebook)
    return [*outputs, *rolled]


def wait_rolled_up(settings: Settings, proc: subprocess.Popen[bytes], timeout: float = 90) -> None:
    """Wait until the roll-up feed is committed to its end (by Faust's group and the
    roll-up stage's transactions), so the roll-up states in its changelog are final."""
    group = f"{settings.topic_prefix}.decide"
    feed = (ROLLUP_FEED.name(settings.topic_prefix),)
    deadline = time.monotonic() + timeout
    while behind := uncommitted(settings.kafka_bootstrap, group, feed):
        assert proc.poll() is None, "worker exited"
        if time.monotonic() > deadline:
            raise AssertionError(f"not all rolled up within {timeout}s: {behind}")
        time.sleep(0.5)


def rollup_timelines(settings: Settings) -> dict[str, list[Any]]:
    """The roll-up tier timeline (``streams.core.rollup_timeline``) of the latest state of
    each area in the worker's roll-up changelog (what the feed determines)."""
    topic = f"{settings.topic_prefix}.decide-rollup-changelog"
    latest: dict[str, bytes] = {}
    for key, value, _partition in read_topic(settings.kafka_bootstrap, topic):
        assert key is not None
        if value is None:  # a tombstone: the record a claim ends the partition with
            latest.pop(key.decode(), None)
            continue
        latest[key.decode()] = value
    return {area: rollup_timeline(decode_rollup(blob)) for area, blob in latest.items()}


def escalations_produced(settings: Settings) -> list[Escalation]:
    """Every record of the escalations topic."""
    topic = ESCALATIONS.name(settings.topic_prefix)
    return [
        Escalation.model_validate_json(value)
        for _key, value, _partition in read_topic(settings.kafka_bootstrap, topic)
    ]


def last_copies(outputs: list[Any]) -> dict[str, Escalation | Task | Alert]:
    """Per escalation, task or alert id the copy with the highest revision: the one a sink
    keeps (sinks/tables.py), whatever order the copies landed in."""
    last: dict[str, Escalation | Task | Alert] = {}
    for out in outputs:
        get_id = REVISED_ID.get(type(out))
        if get_id is not None:
            oid = get_id(out)
            if oid not in last or out.revision > last[oid].revision:
                last[oid] = out
    return last


def area_decisions(outputs: list[Any]) -> set[tuple[str, str, str, float]]:
    """The roll-up stages' standing tier changes among ``outputs``: of each decision of an
    area (a province, ``nation``) the highest revision, unless it retracts the decision
    (a batch decided live before a late event: history, not the answer, as in
    :func:`assert_decisions_equal_offline`), as ``(area, decision id, tier, effective_at)``."""
    return {
        (e.jurisdiction, e.decision_id, e.tier or "", e.effective_at.timestamp())
        for e in last_copies(outputs).values()
        if isinstance(e, Escalation) and len(e.jurisdiction) < 4 and not e.retracted
    }


def worker_ticks(settings: Settings) -> list[Tick]:
    """Every tick in the ticks topic (the scenario's and the worker's timer's)."""
    out = []
    topic = TICKS.name(settings.topic_prefix)
    for _key, value, _partition in read_topic(settings.kafka_bootstrap, topic):
        tick = decode_tick(value)
        assert isinstance(tick, Tick)
        out.append(tick)
    return out
