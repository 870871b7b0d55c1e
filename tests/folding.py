"""Core test helpers: a scenario's valid records, stock snapshots by hour, and folding
events one at a time."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from streams.core import initial_state, step_many
from streams.core.rulebook import Rulebook
from streams.stages.state_records import apply_records
from topics.codec import decode, decode_tick
from topics.models import StockEvent
from topics.outputs import Rejection


def valid_records(lines: list[bytes]) -> list[Any]:
    """The events and ticks of JSON lines that decode; malformed lines and rejections are
    left out."""
    out = []
    for line in lines:
        try:
            is_tick = orjson.loads(line).get("kind") == "tick"
        except (orjson.JSONDecodeError, AttributeError):
            continue
        got = decode_tick(line) if is_tick else decode(line)
        if not isinstance(got, Rejection):
            out.append(got)
    return out


def fold_each(events: Sequence[Any], rules: Rulebook, jurisdiction: str = "5101") -> list[Any]:
    """The outputs of folding ``events`` one a batch: every intermediate state is visited."""
    state = initial_state(jurisdiction)
    got: list[Any] = []
    for event in events:
        state, out = step_many(state, [event], rules)
        got += out
    return got


def fold_shuffled(events: Sequence[Any], rules: Rulebook, seed: int) -> list[Any]:
    """:func:`fold_each` of ``events`` in an order ``seed`` shuffles them into."""
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    return fold_each(shuffled, rules)


def snapshot(  # noqa: PLR0917 - positional, so a test's snapshot table reads as rows
    at: datetime,
    site: str,
    item: str,
    on_hand: float,
    baseline: float | None = None,
    agency: str = "health",
    *,
    convertible: float | None = None,
) -> StockEvent:
    """A stock snapshot reported when it happened, in 510104 (Chengdu): sites named H…
    are hospitals, others depots."""
    return StockEvent(
        event_id=f"{site}-{item}-{at.isoformat()}",
        kind="stock",
        source={"agency_id": site, "agency_type": agency},
        occurred_at=at,
        reported_at=at,
        region="510104",
        site_id=site,
        site_type="hospital" if site.startswith("H") else "depot",
        item=item,
        on_hand=on_hand,
        baseline=baseline,
        convertible=convertible,
    )


def send_unsent(store: Any, changelog: dict[bytes, bytes]) -> list[bytes]:
    """Apply the records ``store`` (a :class:`streams.stages.state_records.RecordStore`)
    has not sent yet to ``changelog``, as a compacted changelog keeps them. Returns their
    keys."""
    sent = []
    for records in store.take_unsent().values():
        sent += records
        apply_records(changelog, records.items())
    return sent
