"""The ceiling of issue 14: the pipeline's own irreducible work on the same records, in the
same run — one process decoding every record value (pydantic, ``topics.codec.decode``) and
folding the events with the core (``step_many`` per jurisdiction, in batches like the
worker's), no Kafka, no landing. Benches print their rate against it.

Also what every bench run reports beside its rate: a :class:`Curve` of records done against
time (its last 10 % against its first 10 %: cost must not grow with state), and a
fingerprint of the decisions so that no peer is faster by doing less.

Imports only ``topics`` and ``streams.core`` (bench/peers.py's Quix Streams peer runs it in
a venv of its own).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.core import CoreState, default_rulebook, initial_state, state_fingerprint, step_many
from topics.codec import decode
from topics.registry import jurisdiction_of

BATCH = 5_000  # records per decide batch: the live worker's batch size
# The id field of each kind of decision (Escalation, Task, Alert) and its tag.
_DECISION_IDS = (("e", "decision_id"), ("t", "task_id"), ("a", "alert_id"))


@dataclass
class Curve:
    """Records done against seconds since the start (monotone points)."""

    points: list[tuple[float, int]] = field(default_factory=lambda: [(0.0, 0)])

    def add(self, seconds: float, done: int) -> None:
        if done > self.points[-1][1]:
            self.points.append((seconds, done))

    @property
    def done(self) -> int:
        return self.points[-1][1]

    @property
    def seconds(self) -> float:
        return self.points[-1][0]

    def _time_at(self, done: float) -> float:
        """When ``done`` records were done (linear between points)."""
        prev_s, prev_n = self.points[0]
        for s, n in self.points[1:]:
            if n >= done:
                return prev_s + (s - prev_s) * (done - prev_n) / (n - prev_n)
            prev_s, prev_n = s, n
        return prev_s

    def rate(self, lo: float = 0.0, hi: float = 1.0) -> float:
        """Records/s between the fractions ``lo`` and ``hi`` of what was done."""
        a, b = lo * self.done, hi * self.done
        seconds = self._time_at(b) - self._time_at(a)
        return (b - a) / seconds if seconds > 0 else 0.0

    def flatness(self) -> float:
        """Rate over the last 10 % of the records against the first 10 %."""
        first = self.rate(0.0, 0.1)
        return self.rate(0.9, 1.0) / first if first else 0.0

    def describe(self, label: str) -> str:
        return (
            f"{label}: {self.done:,} records in {self.seconds:.2f} s = {self.rate():,.0f}/s "
            f"(first 10% {self.rate(0, 0.1):,.0f}/s, last 10% {self.rate(0.9, 1):,.0f}/s)\n"
            f"  {label}: ratio last 10% / first 10%: {self.flatness():.3f}"
        )


def decision_ids(outputs: Iterable[Any]) -> list[str]:
    """The deterministic ids of the decisions among ``outputs`` (models or their JSON
    dicts): tier changes, tasks, alerts. Incident-state and stock-level snapshots are left
    out: how many of them a run emits depends on how it batches, not on what it decided."""
    ids = []
    for out in outputs:
        data = out if isinstance(out, dict) else None
        for tag, name in _DECISION_IDS:
            value = data.get(name) if data is not None else getattr(out, name, None)
            if value is not None:
                revision = data.get("revision") if data is not None else getattr(out, "revision", 0)
                ids.append(f"{tag}:{value}:{revision or 0}")
                break
    return ids


def fingerprint(ids: Iterable[str]) -> str:
    """Order-free digest of decision ids (a peer that decides less has another one)."""
    distinct = sorted(set(ids))
    digest = hashlib.sha256(orjson.dumps(distinct)).hexdigest()[:16]
    return f"{digest} ({len(distinct):,} decisions)"


def states_digest(states: Mapping[str, CoreState]) -> str:
    """Digest of what the events determined in each jurisdiction's final state."""
    parts = [state_fingerprint(states[j]) for j in sorted(states)]
    return hashlib.sha256(b"\n".join(parts)).hexdigest()[:16]


@dataclass(frozen=True)
class CeilingRun:
    curve: Curve
    decisions: str
    states: str


def ceiling(values: Sequence[bytes], batch: int = BATCH, digits: int = 4) -> CeilingRun:
    """Decode ``values`` and fold them, ``batch`` records at a time, one ``step_many`` per
    jurisdiction and batch (as the decide stage does); timed per batch."""
    rulebook = default_rulebook()
    states: dict[str, CoreState] = {}
    ids: list[str] = []
    curve = Curve()
    began = time.perf_counter()
    for start in range(0, len(values), batch):
        groups: dict[str, list[Any]] = {}
        for value in values[start : start + batch]:
            event: Any = decode(value)
            region = getattr(event, "region", None)
            if region is None:
                raise SystemExit(f"bench record does not decode: {event}")
            groups.setdefault(jurisdiction_of(region, digits), []).append(event)
        for juris, events in groups.items():
            state = states.get(juris) or initial_state(juris)
            states[juris], outputs = step_many(state, events, rulebook)
            ids.extend(decision_ids(outputs))
        curve.add(time.perf_counter() - began, min(start + batch, len(values)))
    return CeilingRun(curve, fingerprint(ids), states_digest(states))
