"""The ceiling of issue 14: the pipeline's own irreducible work on the same records, in the
same run — one process decoding every record value (pydantic, ``topics.codec.decode``) and
folding the events with the core (``step_many`` per jurisdiction, in batches like the
worker's), no Kafka, no landing. Benches print their rate against it.

Also what every bench run reports beside its rate: a :class:`Curve` of records done against
time (its last 10 % against its first 10 %: cost must not grow with state), and a
fingerprint of the decisions so that no peer is faster by doing less.

Imports only ``topics``, ``streams.core`` and ``streams.ops.runtime`` (bench/peers.py's Quix
Streams peer runs it in a venv of its own).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from streams.core import CoreState, default_rulebook, initial_state, state_fingerprint, step_many
from streams.ops.runtime import collector_paused
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


class Decisions:
    """The decisions standing after a run, from its outputs (models or their JSON dicts)
    in the order each jurisdiction emitted them: tier changes, tasks and alerts by id, the
    latest revision of each, less those retracted. Incident-state and stock-level snapshots
    are left out (how many a run emits depends on how it batches), and so are retracted
    decisions (which a late event retracts depends on the order records arrive in, what
    stands does not: the core is order-insensitive). So are the roll-up stages' decisions
    (jurisdiction a province or the nation), counted apart in ``rollup``: the worker makes
    them, the ceiling and the peers do not."""

    def __init__(self) -> None:
        self._latest: dict[str, tuple[int, bool]] = {}
        self.rollup = 0

    def add(self, outputs: Iterable[Any]) -> None:
        for out in outputs:
            data = out if isinstance(out, dict) else None
            get = data.get if data is not None else lambda name, o=out: getattr(o, name, None)
            area = get("jurisdiction") or "0000"
            if len(area) < 4 or not area.isdigit():  # a province (2 digits) or "nation"
                self.rollup += 1
                continue
            for tag, name in _DECISION_IDS:
                value = get(name)
                if value is not None:
                    key = f"{tag}:{value}"
                    revision = get("revision") or 0
                    if revision >= self._latest.get(key, (-1, False))[0]:
                        gone = bool(get("retracted")) or get("state") == "retracted"
                        self._latest[key] = (revision, not gone)
                    break

    def fingerprint(self) -> str:
        """Order-free digest of the standing decisions (a peer that decides less has
        another one)."""
        standing = sorted(key for key, (_, stands) in self._latest.items() if stands)
        digest = hashlib.sha256(orjson.dumps(standing)).hexdigest()[:16]
        return f"{digest} ({len(standing):,} decisions)"


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
    jurisdiction and batch, the cyclic collector paused over each batch and what the batch
    left frozen before it runs again (as a review does); timed per batch."""
    rulebook = default_rulebook()
    states: dict[str, CoreState] = {}
    decisions = Decisions()
    curve = Curve()
    began = time.perf_counter()
    for start in range(0, len(values), batch):
        # Frozen after each batch, as a review's are: the states are long-lived and hold no
        # cycles, and a collector rescanning them took 75 of 273 s folding 5 M records, 7 s
        # frozen (BENCHMARKS.md, twentieth session). The yardstick is the fold at its best.
        with collector_paused(freeze=True):
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
                decisions.add(outputs)
        curve.add(time.perf_counter() - began, min(start + batch, len(values)))
    return CeilingRun(curve, decisions.fingerprint(), states_digest(states))
