"""The ``revision`` of each copy of an Escalation, Task or Alert: how many copies of its id
were emitted before it, counted in the state (``Namespace.emitted``), so re-processing
from a saved state repeats the same revisions and the sinks keep the highest."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, Protocol

from streams.core.state import Work, edited
from topics.outputs import Alert, Escalation, Task

# The outputs whose copies are numbered (``revision``), and their ids.
REVISED_ID: dict[type, Callable[[Any], str]] = {
    Escalation: attrgetter("decision_id"),
    Task: attrgetter("task_id"),
    Alert: attrgetter("alert_id"),
}


class Counts(Protocol):
    """Copies emitted so far, by output id (a dict, or a namespace's ``emitted`` map)."""

    def get(self, key: str, default: int, /) -> int: ...

    def __setitem__(self, key: str, value: int, /) -> None: ...


def revise(outputs: list[Any], counts_for: Callable[[Any, str], Counts]) -> None:
    """Number, in place and in emission order, the copies of each Escalation / Task /
    Alert id in ``outputs``, counting on from ``counts_for(output, its id)`` (copies of
    that id emitted before; updated)."""
    for i, output in enumerate(outputs):
        get_id = REVISED_ID.get(type(output))
        if get_id is None:
            continue
        output_id = get_id(output)
        counts = counts_for(output, output_id)
        revision = counts.get(output_id, 0)
        counts[output_id] = revision + 1
        if revision:
            outputs[i] = output.model_copy(update={"revision": revision})


def number_copies(work: Work, out: list[Any]) -> None:
    """:func:`revise` a city batch's outputs, counting in ``work``'s namespaces (and
    noting each id there as touched, for the changelog)."""

    def counts(output: Any, output_id: str) -> Counts:
        ns = work.namespace(output.status)
        ns.touched["e"].add(output_id)
        return edited(ns.emitted)

    revise(out, counts)
