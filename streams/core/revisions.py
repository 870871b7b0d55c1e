"""The ``revision`` of each copy of an Escalation, Task or Alert: how many copies of its id
were emitted before it, counted in the state (``Namespace.emitted``), so re-processing
from a saved state repeats the same revisions and the sinks keep the highest."""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any

from streams.core.state import Work, edited
from topics.outputs import Alert, Escalation, Task

# The outputs whose copies are numbered (``revision``), and their ids.
REVISED_ID: dict[type, Callable[[Any], str]] = {
    Escalation: attrgetter("decision_id"),
    Task: attrgetter("task_id"),
    Alert: attrgetter("alert_id"),
}


def number_copies(work: Work, out: list[Any]) -> None:
    """Number, in place and in emission order, the copies of each Escalation / Task /
    Alert id in ``out``, counting on from the copies ``work``'s namespaces already saw."""
    for i, output in enumerate(out):
        get_id = REVISED_ID.get(type(output))
        if get_id is None:
            continue
        ns = work.namespace(output.status)
        emitted = edited(ns.emitted)
        output_id = get_id(output)
        ns.touched["e"].add(output_id)
        revision = emitted.get(output_id, 0)
        emitted[output_id] = revision + 1
        if revision:
            out[i] = output.model_copy(update={"revision": revision})
