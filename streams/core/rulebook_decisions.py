"""The rulebook's sections on who may speak for what (``authority``: acks, incident
categories, declarations) and how a warning is checked (``verification``): people's
decisions beside the rules' (issue 13), enforced in the core with reasons (issue 11)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from topics.vocabulary import AgencyType, IncidentCategory

PositiveHours = Annotated[float, Field(gt=0)]
# An agency type (health, emergency, …) or one agency's id (H-510104-01).
Speaker = Annotated[str, Field(min_length=1, max_length=128)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class Verification(_Strict):
    """The task a warning issues: check it on site (第一时间调查核实). Its ack says
    ``verification: confirmed`` (an incident) or ``discarded`` (closed)."""

    agency: AgencyType = "health"
    action: Annotated[str, Field(min_length=1)] = "verify the warning on site (调查核实)"
    due_hours: PositiveHours = 2.0


class Authority(_Strict):
    """Who may speak for what. An ack counts from the agency type its task was issued to,
    and from the types or agency ids ``ack_by`` adds for that task's action; an incident
    event's category must be one of ``categories[its agency type]`` (a type not listed may
    report any category).

    Who decides. The rules *recommend* a tier; by the national plans the leading group
    *declares* it after joint assessment (会商研判). ``declare_by``: the agency types whose
    declarations count (the first is the command agency, which gets the joint-assessment
    task of every recommendation change); a declaration from another type is rejected.
    ``declare_within_hours``: how long a declared tier may stay below the recommended one
    before ``declaration_overdue``."""

    declare_by: tuple[AgencyType, ...] = Field(default=("emergency",), min_length=1)
    assessment_action: Annotated[str, Field(min_length=1)] = (
        "joint assessment (会商研判) of the recommended tier"
    )
    assessment_due_hours: PositiveHours = 2.0
    declare_within_hours: PositiveHours = 12.0
    ack_by: dict[str, tuple[Speaker, ...]] = Field(default_factory=dict)
    categories: dict[AgencyType, tuple[IncidentCategory, ...]] = Field(default_factory=dict)
