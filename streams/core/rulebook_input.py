"""The rulebook's ``input_checks:`` section (DESIGN.md sections 4 and 6).

``input_checks`` bounds what one record may claim before the core believes it: how far its
``occurred_at`` may lie after its ``reported_at`` and its ``reported_at`` after the broker
received it, how far ahead of the log's clock (ticks)
an event is applied at once (beyond, it is held until the clock reaches it), and sane upper
bounds for counts. It is data; :mod:`streams.core.checks` enforces it (with the
``authority:`` section of :mod:`streams.core.rulebook_decisions`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

Minutes = Annotated[float, Field(ge=0)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class InputChecks(_Section):
    """Bounds on one record; a record outside them goes to the DLQ with the bound named
    (``ahead_of_clock_minutes`` holds instead: see :mod:`streams.core.held`)."""

    # occurred_at may be later than reported_at by at most this (clocks drift a little)
    occurred_after_reported_minutes: Minutes = 10.0
    # reported_at may be later than the broker's receipt of the record by at most this
    reported_after_received_minutes: Minutes = 60.0
    # an event further ahead of the partition's newest tick waits for the clock; None: never
    ahead_of_clock_minutes: Minutes | None = 60.0
    max_casualties: Annotated[int, Field(ge=1)] = 100_000
    max_stock: Annotated[float, Field(gt=0)] = 10_000_000.0
    # on_hand may exceed baseline (a delivery before capacity is updated) by this factor
    on_hand_over_baseline: Annotated[float, Field(ge=1)] = 2.0
    # acks of a task not (yet) known are forgotten this long after their event time
    unknown_ack_keep_hours: Annotated[float, Field(gt=0)] = 720.0
