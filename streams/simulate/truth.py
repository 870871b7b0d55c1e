"""The truth file: what a generated scenario contains and what it means to cause.

Counts, duplicates, late events and malformed lines are worked out here from the records
as emitted, by their definitions; the intended tier timeline and alerts come from the
scenario's own script (its constants), never from ``streams.core``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any

TRUTH_VERSION = 1


@dataclass(frozen=True)
class Emitted:
    """One record on its way out: ``body`` is the event it carries (None when malformed),
    ``error`` the class of error of a malformed one."""

    stem: str
    key: bytes | None
    value: bytes
    publish_at: datetime
    seq: int
    body: dict[str, Any] | None
    error: str | None


def late_event_ids(emitted: list[Emitted]) -> list[str]:
    """Input events (first copies) published after a valid input event that occurred
    later than they did, in publish order."""
    seen: set[str] = set()
    latest: datetime | None = None
    late = []
    for record in emitted:
        body = record.body
        if body is None or body["kind"] == "tick" or body["event_id"] in seen:
            continue
        seen.add(body["event_id"])
        occurred = datetime.fromisoformat(body["occurred_at"])
        if latest is not None and occurred < latest:
            late.append(body["event_id"])
        else:
            latest = occurred
    return late


def _topic_counts(emitted: list[Emitted]) -> dict[str, dict[str, int]]:
    records: Counter[str] = Counter()
    valid: Counter[str] = Counter()
    malformed: Counter[str] = Counter()
    distinct: dict[str, set[str]] = {}
    for record in emitted:
        records[record.stem] += 1
        if record.body is None:
            malformed[record.stem] += 1
            continue
        valid[record.stem] += 1
        distinct.setdefault(record.stem, set()).add(record.body["event_id"])
    return {
        stem: {
            "records": records[stem],
            "valid": valid[stem],
            "malformed": malformed[stem],
            "duplicates": valid[stem] - len(distinct.get(stem, ())),
            "distinct_valid_events": len(distinct.get(stem, ())),
        }
        for stem in sorted(records)
    }


def build_truth(
    *,
    params: dict[str, Any],
    emitted: list[Emitted],
    timeline: list[dict[str, Any]],
    alerts: list[dict[str, Any]],
    declarations: list[dict[str, Any]],
    semantics: dict[str, str],
    ticks: dict[str, Any] | None,
) -> dict[str, Any]:
    """The truth document of a scenario whose records are ``emitted`` in publish order."""
    sent: Counter[str] = Counter(e.body["event_id"] for e in emitted if e.body is not None)
    malformed = [
        {"line": n, "topic": e.stem, "error": e.error}
        for n, e in enumerate(emitted, start=1)
        if e.body is None
    ]
    if ticks is not None:
        instants = [e.body["tick_at"] for e in emitted if e.body and e.body["kind"] == "tick"]
        ticks = {
            **ticks,
            "count": len(instants),
            "first": instants[0],
            "last": instants[-1],
            "why": "time for the quiet period and overdue checks comes only from the log",
        }
    return {
        "truth_version": TRUTH_VERSION,
        **params,
        "lines": len(emitted),
        "topics": _topic_counts(emitted),
        "duplicate_event_ids": sorted(i for i, n in sent.items() if n > 1),
        "late_event_ids": late_event_ids(emitted),
        "reporting_late_event_ids": [
            a["subject_id"] for a in alerts if a["kind"] == "reporting_late"
        ],
        "malformed": malformed,
        "ticks": ticks,
        "semantics": semantics,
        "timeline": timeline,
        "alerts": alerts,
        # the command agency's declarations, each with its decision lag (declared_at minus
        # the effective time of the recommendation of that tier)
        "declarations": declarations,
    }
