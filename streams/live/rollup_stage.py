"""The roll-up stages in a shell: city incident pictures in, provincial and national
decisions out (:mod:`streams.core.rollup` decides; this keeps the states and routes the
outputs as the decide stage routes its own).

The live worker feeds it the records of the roll-up feed topic (the decide stage writes
there every city snapshot a roll-up rule may count) and keeps the states in a
changelog-backed table; the replay shell feeds it the snapshots its own decide stage made
and keeps the states in memory (and in its checkpoint). Either way the outputs are the
same: the core's roll-up timeline is a function of the latest snapshot of each incident.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from streams.core import (
    RollupState,
    Rulebook,
    decode_rollup,
    encode_rollup,
    initial_rollup,
    rollup_areas,
    rollup_step,
)
from streams.live import metrics
from streams.live.decide import Emitted, StateStore
from streams.live.topology import INCIDENT_STATES, TopicNames
from topics.models import Escalation, IncidentState, Task
from topics.registry import ESCALATIONS, TASKS


class RollupStage:
    """Folds city snapshots into the roll-up states of their areas (a province, the
    nation). With a ``store`` changed states are put there by :meth:`flush_states`;
    without, states live only in :attr:`states` (seeded by ``states``)."""

    def __init__(
        self,
        *,
        prefix: str,
        rulebook: Rulebook,
        now: Callable[[], datetime],
        store: StateStore | None = None,
        states: Mapping[str, RollupState] | None = None,
    ) -> None:
        self.rulebook = rulebook
        self.now = now
        self.store = store
        self._states: dict[str, RollupState] = dict(states or {})
        self._dirty: set[str] = set()
        names = TopicNames(prefix)
        self._topic = {
            Escalation: names.of(ESCALATIONS),
            Task: names.of(TASKS),
            IncidentState: names.of(INCIDENT_STATES),
        }

    @property
    def states(self) -> Mapping[str, RollupState]:
        """The state of every area folded or loaded so far (read-only)."""
        return self._states

    def forget(self) -> None:
        """Drop cached states (after a rebalance the store is the truth again)."""
        self._states.clear()
        self._dirty.clear()

    def decide(self, snapshots: Iterable[IncidentState]) -> list[Emitted]:
        """Fold ``snapshots`` in; the roll-up decisions as records to produce or land,
        keyed by area, escalations and tasks stamped with ``decided_at``."""
        now = self.now()
        out: list[Emitted] = []
        changed: set[str] = set()
        for snapshot in snapshots:
            for area in rollup_areas(snapshot, self.rulebook):
                state = self._state(area)
                new, outputs = rollup_step(state, snapshot, self.rulebook)
                if new is state:
                    continue
                self._states[area] = new
                changed.add(area)
                for output in outputs:
                    if isinstance(output, Escalation):
                        metrics.ESCALATIONS.labels(output.tier or "none", output.status).inc()
                    stamped = (
                        output
                        if isinstance(output, IncidentState)
                        else output.model_copy(update={"decided_at": now})
                    )
                    out.append(Emitted(self._topic[type(output)], area.encode(), stamped))
        self._dirty |= changed
        return out

    def flush_states(self) -> None:
        """Put every state changed since the last call in the store. The live agent calls
        it once a batch's outputs are durable: a state never runs ahead of what went out,
        so a batch decided again (its feed offsets were not committed) emits its outputs
        again, the same ones, or, when its states were put, nothing new."""
        if self.store is not None:
            for area in sorted(self._dirty):
                self.store.put(area, encode_rollup(self._states[area]))
        self._dirty.clear()

    def _state(self, area: str) -> RollupState:
        state = self._states.get(area)
        if state is None:
            blob = self.store.get(area) if self.store is not None else None
            state = initial_rollup(area) if blob is None else decode_rollup(blob)
            self._states[area] = state
        return state
