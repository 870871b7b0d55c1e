"""What a run of the scenario generator is asked for (:class:`Params`, the faults it
carries: :class:`FaultPlan`) and what it gives (:class:`Scenario`: records and truth)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

import orjson

from streams.simulate.faults import MALFORMED_CLASSES


def whole_seconds(moment: datetime) -> datetime:
    """``moment`` rounded to the second: the wire carries seconds, so does the truth."""
    up = 1_000_000 if moment.microsecond >= 500_000 else 0
    return moment + timedelta(microseconds=up - moment.microsecond)


def rfc3339(moment: datetime) -> str:
    """``2026-03-02T08:00:00+08:00``: seconds, with the offset of ``moment``."""
    return moment.isoformat(timespec="seconds")


@dataclass(frozen=True)
class Params:
    """What a run of the generator is asked for; the same params give the same bytes."""

    scenario: str
    seed: int
    start: datetime
    status: str = "Actual"
    scale: int = 1

    @cached_property
    def tag(self) -> str:
        """A short run tag in every id, so runs with different params never share ids."""
        text = f"{self.scenario}|{self.seed}|{rfc3339(self.start)}|{self.status}|{self.scale}"
        return hashlib.sha256(text.encode()).hexdigest()[:6]


@dataclass(frozen=True)
class FaultPlan:
    """How many generic faults a scenario carries: shares of its input events, each with
    a floor so that even a small scenario has every kind of fault."""

    late: tuple[float, int] = (0.02, 3)
    reporting_late: int = 2
    duplicates: tuple[float, int] = (0.03, 3)
    malformed: tuple[float, int] = (0.01, len(MALFORMED_CLASSES))


@dataclass(frozen=True)
class SimRecord:
    """One record as published: topic stem, Kafka key and value bytes."""

    topic_stem: str
    key: bytes | None
    value: bytes


@dataclass(frozen=True)
class Scenario:
    """The generated records in publish order and the truth about them."""

    records: tuple[SimRecord, ...]
    truth: dict[str, Any]

    def jsonl(self) -> bytes:
        """One record value per line, in publish order."""
        return b"".join(r.value + b"\n" for r in self.records)

    def truth_json(self) -> bytes:
        return orjson.dumps(self.truth, option=orjson.OPT_INDENT_2) + b"\n"
