"""The roll-up feed folded as a whole: what it carries and which areas each item reaches.

The feed (the live worker's one-partition ``rollup-feed`` topic; a replay's in-process
hand-over) carries four things, all from the decide stage:

* city :class:`IncidentState` snapshots a roll-up rule may count: to their province and/or
  the nation (:func:`streams.core.rollup.rollup_areas`);
* acks (:class:`IncidentEvent`, ``msg_type: Ack``) of roll-up tasks: to the area whose
  roll-up incident they name (:func:`streams.core.rollup_tasks.ack_area`);
* with a facility registry, hospitals' ``bed.*`` StockLevels and the city redirects that
  found no free bed in the city: to their province, which may redirect into another of
  its cities (:mod:`streams.core.rollup_beds`);
* ticks: to every area the stage holds, and always to the nation, whose ledger is the
  stage's clock: an area met for the first time starts from it, so it missed no tick
  that came before it (order-insensitivity would not hold otherwise).

:func:`rollup_many` is the whole stage over a batch; both shells call it with every area
they hold, and tests fold offline with it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from streams.core.compiled import compile_rulebook
from streams.core.rollup import (
    Output,
    RollupState,
    initial_rollup,
    rollup_ack,
    rollup_areas,
    rollup_step,
    rollup_tick,
)
from streams.core.rollup_beds import feeds_province, province_of, rollup_beds
from streams.core.rollup_tasks import NATION, ack_area
from streams.core.rulebook import Rulebook
from streams.core.state import NO_TIME
from topics.models import IncidentEvent
from topics.outputs import Alert, IncidentState, StockLevel, Tick

FeedItem = IncidentState | IncidentEvent | Tick | StockLevel | Alert


def feeds_rollup(event: IncidentEvent, rulebook: Rulebook) -> bool:
    """Whether the decide stage forwards ``event`` to the feed: an ack of a roll-up task."""
    return ack_area(event, rulebook) is not None


def output_feeds_rollup(output: object, rulebook: Rulebook) -> bool:
    """Whether the decide stage forwards a city output to the feed: a snapshot a roll-up
    rule may count, or what a province needs to redirect across its cities."""
    if type(output) is IncidentState:
        return bool(rollup_areas(output, rulebook))
    return feeds_province(output, compile_rulebook(rulebook))


def rollup_many(
    states: Mapping[str, RollupState], items: Iterable[FeedItem], rulebook: Rulebook
) -> tuple[dict[str, RollupState], list[Output]]:
    """Fold a batch of feed items into the areas. ``states`` holds every area the stage
    holds (a tick reaches each). Returns the state of every area, those unchanged the very
    objects of ``states``, and the outputs in the order they were decided."""
    areas = dict(states)
    out: list[Output] = []
    for item in items:
        for area in _areas_of(item, areas, rulebook):
            state = areas.get(area)
            if state is None:
                clock = areas[NATION].ledger.tick_wm if NATION in areas else NO_TIME
                state = initial_rollup(area, clock)
            if isinstance(item, Tick):
                areas[area], decided = rollup_tick(state, item.tick_at)
            elif isinstance(item, IncidentEvent):
                areas[area], decided = rollup_ack(state, item, rulebook)
            elif isinstance(item, IncidentState):
                areas[area], decided = rollup_step(state, item, rulebook)
            else:
                areas[area], decided = rollup_beds(state, item, rulebook)
            out += decided
    return areas, out


def _areas_of(item: FeedItem, areas: Mapping[str, RollupState], rulebook: Rulebook) -> list[str]:
    if isinstance(item, Tick):
        return sorted({*areas, NATION}) if rulebook.rollup else []
    if isinstance(item, IncidentEvent):
        area = ack_area(item, rulebook)
        return [] if area is None else [area]
    if isinstance(item, IncidentState):
        return rollup_areas(item, rulebook)
    return province_of(item, rulebook)
