"""The rulebook's ``input_checks:`` and ``authority:`` sections (DESIGN.md sections 4 and 6).

``input_checks`` bounds what one record may claim before the core believes it: how far its
``occurred_at`` may lie after its ``reported_at``, how far ahead of the log's clock (ticks)
an event is applied at once (beyond, it is held until the clock reaches it), and sane upper
bounds for counts. ``authority`` says who may speak for what: which agency types (or agency
ids) may ack a task beyond the type it was issued to, and which incident categories an
agency type may report. Both are data; :mod:`streams.core.checks` enforces them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from topics.models import AgencyType, IncidentCategory

Minutes = Annotated[float, Field(ge=0)]
# An agency type (health, emergency, …) or one agency's id (H-510104-01).
Speaker = Annotated[str, Field(min_length=1, max_length=128)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputChecks(_Section):
    """Bounds on one record; a record outside them goes to the DLQ with the bound named
    (``ahead_of_clock_minutes`` holds instead: see :mod:`streams.core.held`)."""

    # occurred_at may be later than reported_at by at most this (clocks drift a little)
    occurred_after_reported_minutes: Minutes = 10.0
    # an event further ahead of the partition's newest tick waits for the clock; None: never
    ahead_of_clock_minutes: Minutes | None = 60.0
    max_casualties: Annotated[int, Field(ge=1)] = 100_000
    max_stock: Annotated[float, Field(gt=0)] = 10_000_000.0
    # on_hand may exceed baseline (a delivery before capacity is updated) by this factor
    on_hand_over_baseline: Annotated[float, Field(ge=1)] = 2.0
    # acks of a task not (yet) known are forgotten this long after their event time
    unknown_ack_keep_hours: Annotated[float, Field(gt=0)] = 720.0


class Authority(_Section):
    """Who may speak for what. An ack counts from the agency type its task was issued to,
    and from the types or agency ids ``ack_by`` adds for that task's action; an incident
    event's category must be one of ``categories[its agency type]`` (a type not listed may
    report any category)."""

    ack_by: dict[str, tuple[Speaker, ...]] = Field(default_factory=dict)
    categories: dict[AgencyType, tuple[IncidentCategory, ...]] = Field(default_factory=dict)
