"""Deterministic multi-agency scenarios, each with a truth file (``tierflow simulate``).

``generate(name, seed)`` returns the records of a scenario in publish order and the
truth about them: counts per topic, duplicates, late and malformed records, the intended
tier timeline and alerts. Same parameters, same bytes; randomness only through one
``random.Random`` seeded by scenario and seed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta, timezone

from streams.core import load_rules, shipped_registry
from streams.core.rulebook import Rulebook
from streams.simulate import cholera, ili_school, poisoning, road_mci, supply_squeeze, surge
from streams.simulate.errors import SimulateError
from streams.simulate.script import Params, Scenario, SimRecord
from topics.outputs import Rejection
from topics.routing import OutgoingRecord, route_line

# A fixed default start keeps files reproducible: Monday 2 March 2026, 08:00 Beijing time.
DEFAULT_START = datetime(2026, 3, 2, 8, 0, tzinfo=timezone(timedelta(hours=8)))

SCENARIOS: dict[str, Callable[[Params], Scenario]] = {
    "cholera": cholera.build,
    "road-mci": road_mci.build,
    "supply-squeeze": supply_squeeze.build,
    "chemical-poisoning": poisoning.build,
    "ili-school": ili_school.build,
    "surge": surge.build,
}
# The facility registry a scenario is decided with (streams/registries/), beside the
# default rulebook; the others use the default rulebook alone.
REGISTRIES = {"surge": surge.REGISTRY}
STATUSES = ("Actual", "Exercise")

__all__ = [
    "DEFAULT_START",
    "REGISTRIES",
    "SCENARIOS",
    "Scenario",
    "SimRecord",
    "SimulateError",
    "generate",
    "outgoing_records",
    "rulebook_for",
]


def generate(
    name: str,
    seed: int,
    *,
    start: datetime = DEFAULT_START,
    status: str = "Actual",
    scale: int = 1,
) -> Scenario:
    """The scenario ``name`` for ``seed``; raises :class:`SimulateError` on an unknown
    name, a naive ``start``, an unknown ``status`` or a ``scale`` below 1."""
    if name not in SCENARIOS:
        raise SimulateError(f"unknown scenario {name!r} (one of {', '.join(SCENARIOS)})")
    if start.utcoffset() is None:
        raise SimulateError(f"start {start.isoformat()} has no UTC offset")
    if status not in STATUSES:
        raise SimulateError(f"status {status!r} is not one of {', '.join(STATUSES)}")
    if scale < 1:
        raise SimulateError(f"scale {scale} is below 1")
    return SCENARIOS[name](Params(name, seed, start, status, scale))


def outgoing_records(records: Sequence[SimRecord], digits: int) -> Iterator[OutgoingRecord]:
    """Valid lines routed exactly as `tierflow publish` routes them; malformed ones to the
    topic their scenario meant them for, so the live DLQ sees them."""
    for record in records:
        routed = route_line(record.value, digits)
        if isinstance(routed, Rejection):
            yield OutgoingRecord(record.topic_stem, record.value, record.key)
        else:
            yield from routed


def rulebook_for(name: str) -> Rulebook:
    """The rules scenario ``name`` is meant to be decided with: the default rulebook, with
    its facility registry if it names one (:data:`REGISTRIES`)."""
    registry = REGISTRIES.get(name)
    return load_rules(None, None if registry is None else shipped_registry(registry))
