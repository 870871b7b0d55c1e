"""The roll-up stages in a shell: city incident pictures, acks of roll-up tasks and ticks
in, provincial and national decisions out (:func:`streams.core.rollup_many` decides; this
keeps the states and routes the outputs as the decide stage routes its own).

The live worker feeds it the records of the roll-up feed topic (the decide stage writes
there every city snapshot a roll-up rule may count, every ack of a roll-up task and each
batch's newest tick) and keeps the states in a changelog-backed table; the replay shell
feeds it what its own decide stage put on the feed and keeps the states in memory (and in
its checkpoint). Either way the outputs are the same: the core's roll-up timeline is a
function of the latest snapshot of each incident, a task's state of its acks and the
newest time seen. A tick reaches every area, so the stage holds all of them (a few dozen
at most: the provinces and the nation), loaded whole from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime

from streams.core import (
    FeedItem,
    RollupState,
    Rulebook,
    decode_rollup,
    encode_rollup,
    rollup_many,
)
from streams.stages.batch import Emitted, StateStore
from streams.stages.observer import QUIET, StageObserver
from streams.stages.topology import INCIDENT_STATES, TopicNames, decode_feed
from topics.outputs import Alert, Escalation, IncidentState, Task
from topics.registry import ALERTS, ESCALATIONS, TASKS


class RollupStage:
    """Folds the roll-up feed into the states of its areas (a province, the nation).
    With a ``store`` changed states are put there by :meth:`flush_states`;
    without, states live only in :attr:`states` (seeded by ``states``)."""

    def __init__(
        self,
        *,
        prefix: str,
        rulebook: Rulebook,
        now: Callable[[], datetime],
        store: StateStore | None = None,
        states: Mapping[str, RollupState] | None = None,
        observer: StageObserver = QUIET,
    ) -> None:
        self.rulebook = rulebook
        self.observer = observer
        self.now = now
        self.store = store
        self._states: dict[str, RollupState] = dict(states or {})
        self._dirty: set[str] = set()
        self._loaded = store is None  # without a store, ``states`` are all there is
        names = TopicNames(prefix)
        self._topic = {
            Escalation: names.of(ESCALATIONS),
            Task: names.of(TASKS),
            Alert: names.of(ALERTS),
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
        self._loaded = self.store is None

    def decide_records(self, values: Iterable[bytes]) -> list[Emitted]:
        """:meth:`decide` over the values of roll-up feed records."""
        return self.decide([decode_feed(value) for value in values])

    def decide(self, items: Iterable[FeedItem]) -> list[Emitted]:
        """Fold feed items in; the roll-up decisions as records to produce or land, keyed
        by area, escalations, tasks and alerts stamped with ``decided_at``."""
        now = self.now()
        before = self._all()
        self._states, outputs = rollup_many(before, items, self.rulebook)
        self._dirty |= {area for area, new in self._states.items() if before.get(area) is not new}
        out: list[Emitted] = []
        for output in outputs:
            if isinstance(output, Escalation):
                self.observer.count_escalation(output.tier or "none", output.status)
            stamped = (
                output
                if isinstance(output, IncidentState)
                else output.model_copy(update={"decided_at": now})
            )
            area = output.jurisdiction.encode()
            out.append(Emitted(self._topic[type(output)], area, stamped))
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

    def _all(self) -> dict[str, RollupState]:
        """Every area's state: a tick reaches each of them (loaded once after a start or
        a rebalance; the store holds a few dozen at most)."""
        if not self._loaded and self.store is not None:
            for area in list(self.store.jurisdictions()):
                blob = self.store.get(area)
                if area not in self._states and blob is not None:
                    self._states[area] = decode_rollup(blob)
            self._loaded = True
        return self._states
