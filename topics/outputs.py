"""What tierflow writes (DESIGN.md section 2): the live shell's clock ticks, and what it
emits: tier changes, tasks, alerts, the DLQ's rejections, incident states and stock
levels. Ours, so no unknown fields; frozen, as every wire model."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import AwareDatetime, Field

from topics.models import OutputModel
from topics.vocabulary import (
    AgencyType,
    Basis,
    Identifier,
    IncidentCategory,
    IncidentPhase,
    Instant,
    JurisdictionCode,
    NonNegativeInt,
    SiteType,
    Status,
    Tier,
)


class Tick(OutputModel):
    """A clock tick: the live shell's timer writes these into the log so that a replay sees
    exactly the time the live run saw. ``jurisdiction`` None means every jurisdiction of the
    partition that carries it."""

    kind: Literal["tick"] = Field("tick", description='"tick": a clock tick.')
    event_id: Identifier = Field(description="Unique id of the tick.")
    tick_at: Instant = Field(
        description=(
            "The log's clock: decisions due by this instant (overdue tasks, quiet periods) are "
            "made."
        )
    )
    jurisdiction: JurisdictionCode | None = Field(
        None, description="The city (4 digits) this tick is for; none: every jurisdiction."
    )


class Escalation(OutputModel):
    """One change of an incident's response tier (``tier`` None: stood down)."""

    decision_id: str = Field(
        description="Deterministic id of this tier change (uuid5 of incident, rules, tier, time)."
    )
    incident_id: str = Field(description="The incident whose tier changed.")
    jurisdiction: str = Field(
        description="The deciding jurisdiction: a city (4 digits), a province (2) or nation."
    )
    status: Status = Field(
        "Actual", description="CAP status of the events that caused it: Actual, Exercise or Test."
    )
    tier: Tier | None = Field(
        None, description="The new response tier I (特别重大) to IV (一般); none: stood down."
    )
    previous_tier: Tier | None = Field(None, description="The tier before; none: it had none.")
    effective_at: AwareDatetime = Field(description="Event time at which the condition first held.")
    rule_ids: tuple[str, ...] = Field(description="The rulebook rules that hold.")
    evidence: dict[str, float] = Field(description="The metric values that made the rules hold.")
    rulebook_version: str = Field(description="Version of the rulebook that decided.")
    basis: Basis = Field(
        "recommended",
        description=(
            "recommended: the rules' recommendation (rule_ids, evidence); declared: a "
            "declaration by an authorised agency (declared_by, reason), whose tier the plan's "
            "tasks follow."
        ),
    )
    declared_by: str | None = Field(None, description="The declaring agency's id (declared).")
    reason: str = Field("", description="The declaration's reason text (declared).")
    decided_at: AwareDatetime | None = Field(
        None,
        description=(
            "Processing time of the decision (live runs); decision latency = decided_at − "
            "effective_at."
        ),
    )
    # True on a re-emission of a change that a late event has made wrong (the recomputed
    # change is emitted beside it); the command view shows only rows not retracted.
    retracted: bool = False
    # How many copies of this id the core emitted before this one: a retraction or a
    # reinstatement outranks what it replaces; a re-processed output repeats its revision.
    revision: NonNegativeInt = 0


class Task(OutputModel):
    """A task issued to an agency by the response plan of a tier."""

    task_id: str = Field(
        description=(
            "Deterministic id of the task; an agency acknowledges it with an incident Ack naming "
            "it in ack_task_id."
        )
    )
    incident_id: str = Field(
        description=(
            "The incident (for a roll-up task: the roll-up incident, to be named by the Ack)."
        )
    )
    jurisdiction: str = Field(description="The deciding jurisdiction.")
    status: Status = Field("Actual", description="CAP status: Actual, Exercise or Test.")
    tier: Tier = Field(description="The tier whose plan issued the task.")
    agency_type: AgencyType = Field(description="The agency that must do it.")
    action: str = Field(description="What to do, from the rulebook's response plan.")
    issued_at: AwareDatetime = Field(description="Event time of the tier change that issued it.")
    due_at: AwareDatetime = Field(
        description="When it must be acknowledged; unacked past it: overdue."
    )
    # retracted: the tier change that issued it was retracted by a late event.
    state: Literal["open", "acked", "overdue", "retracted"] = Field(
        "open",
        description=(
            "open, acked, overdue, or retracted (its tier change was withdrawn by a late event)."
        ),
    )
    acked_at: AwareDatetime | None = Field(None, description="Event time of the acknowledgement.")
    decided_at: AwareDatetime | None = Field(None, description="Processing time (live runs).")
    revision: NonNegativeInt = 0  # as Escalation.revision


AlertKind = Literal[
    "warning_opened",
    "task_overdue",
    "transfer_delayed",
    "capacity_redirect",
    "stock_low",
    "icu_capacity_low",
    "staff_ratio_low",
    "stockpile_short",
    "capacity_forecast",
    "beds_converted",
    "reporting_late",
    "event_held",
    "ack_rejected",
    "tier_recommended",
    "declaration_overdue",
    "declaration_rejected",
]
AlertLevel = Literal["info", "blue", "yellow", "orange", "red"]


class Alert(OutputModel):
    """Something an operator should look at; ``subject_id`` names what it is about."""

    alert_id: str = Field(description="Deterministic id of the alert.")
    alert_kind: AlertKind = Field(
        description=(
            "warning_opened, task_overdue, transfer_delayed, capacity_redirect, stock_low, "
            "icu_capacity_low, staff_ratio_low, stockpile_short, capacity_forecast, "
            "beds_converted, reporting_late, tier_recommended, declaration_overdue or "
            "declaration_rejected."
        )
    )
    level: AlertLevel = Field(description="info, blue, yellow, orange or red.")
    jurisdiction: str = Field(description="The deciding jurisdiction.")
    status: Status = Field("Actual", description="CAP status: Actual, Exercise or Test.")
    subject_id: str = Field(
        description="What it is about: a task, transfer, site/item, event or incident id."
    )
    incident_id: str | None = Field(None, description="The incident, when there is one.")
    at: AwareDatetime = Field(description="Event time it was raised at.")
    message: str = Field(description="One line for a person.")
    details: dict[str, Any] = Field(
        default_factory=dict, description="Machine-readable figures behind it."
    )
    decided_at: AwareDatetime | None = Field(None, description="Processing time (live runs).")
    retracted: bool = False  # as Escalation.retracted
    revision: NonNegativeInt = 0  # as Escalation.revision


class Rejection(OutputModel):
    """A record that could not be decoded or validated, kept with what a person needs to
    act on it: where it came from, why it failed, and its original bytes (base64)."""

    reason: str = Field(description="Why the record was rejected, in words a person can act on.")
    field: str | None = Field(
        None,
        description="The offending field's path (e.g. casualties.total), when one is to blame.",
    )
    topic: str | None = Field(None, description="Topic the record came from.")
    partition: int | None = Field(None, description="Its partition.")
    offset: int | None = Field(None, description="Its offset.")
    key_b64: str | None = Field(None, description="Its key, base64.")
    value_b64: str = Field(
        description=(
            "Its bytes, base64 (a national_id pseudonymised, a name removed), to repair and "
            "publish again."
        )
    )
    rejected_at: AwareDatetime | None = Field(
        None, description="When it was rejected (processing time)."
    )
    stage: Literal["decide", "landing"] = Field(
        "decide",
        description=(
            "Where it was rejected: decide (it is no valid event) or landing (ClickHouse "
            "refused its row; the reason says which value)."
        ),
    )


class IncidentState(OutputModel):
    """The current picture of one incident, emitted whenever it changes; the command view's
    "current incident state" keeps the one with the highest ``version``."""

    incident_id: str = Field(description="The incident's id.")
    jurisdiction: str = Field(description="The deciding jurisdiction.")
    status: Status = Field("Actual", description="CAP status: Actual, Exercise or Test.")
    category: IncidentCategory = Field(description="The incident's category.")
    disease: str | None = Field(None, description="Disease code, for infectious diseases.")
    headline: str = Field("", description="The latest headline.")
    phase: IncidentPhase = Field(
        "reported", description="reported, confirmed, contained or closed."
    )
    warning: bool = False  # opened by the multi-point trigger, no agency declared it yet
    tier: Tier | None = Field(
        None, description="The recommended tier (the rules'); none: no tier (or stood down)."
    )
    declared_tier: Tier | None = Field(
        None,
        description=(
            "The declared tier the plan's tasks follow (with auto_declare: the recommended one)."
        ),
    )
    declared_at: AwareDatetime | None = Field(None, description="Event time of the declaration.")
    declared_by: str | None = Field(None, description="The declaring agency's id.")
    decision_lag_s: float | None = Field(
        None,
        description=(
            "Seconds from the recommendation's effective time to the declaration of its tier."
        ),
    )
    opened_at: AwareDatetime = Field(description="Event time it was opened.")
    updated_at: AwareDatetime  # event time of the latest event that changed it
    metrics: dict[str, float] = Field(
        default_factory=dict, description="The metrics the rules read, as of updated_at."
    )
    region: str | None = Field(None, description="Region code of the latest event.")
    lat: float | None = Field(None, description="Latitude of the latest located event.")
    lon: float | None = Field(None, description="Longitude of the latest located event.")
    rulebook_version: str = Field(description="Version of the rulebook deciding it.")
    # Set on the last copy of an incident taken over by another id (a warning an agency's
    # incident absorbed): that copy is ``closed`` and names the incident it became.
    merged_into: str | None = None
    # When it had a tier: (since, until), ``until`` None while it still has one. What the
    # roll-up stages fold ("in >= 2 cities"), so the latest picture carries the whole story.
    tier_periods: tuple[tuple[AwareDatetime, AwareDatetime | None], ...] = ()
    version: int = Field(
        description="Increases with every change; the highest is the current picture."
    )  # increases with every change; ReplacingMergeTree keeps the highest


class StockLevel(OutputModel):
    """One stock snapshot with what the core derived from it."""

    site_id: str = Field(description="The site.")
    site_type: SiteType = Field(description="hospital, depot, cdc or other.")
    jurisdiction: str = Field(description="The city.")
    status: Status = Field("Actual", description="CAP status: Actual, Exercise or Test.")
    item: str = Field(description="The item (bed.icu, ppe.n95, …).")
    unit: str = Field(description="Unit of the counts.")
    at: AwareDatetime = Field(description="Event time of the snapshot.")
    on_hand: float = Field(description="Available now.")
    baseline: float | None = Field(None, description="Total capacity, when reported.")
    convertible: float | None = Field(
        None, description="Beds the site can open within the surge lead time, when reported."
    )
    burn_rate_per_day: float | None = Field(
        None, description="Consumption per day over the rulebook's burn window."
    )
    days_of_cover: float | None = Field(
        None, description="on_hand / burn rate: days until it runs out at the current rate."
    )
    full_load_per_day: float | None = Field(
        None,
        description=(
            "For an item of the stockpile catalogue: what the jurisdiction uses a day at full "
            "load (per bed a day x the capacity of the catalogue's bed item), as of the snapshot."
        ),
    )
    days_at_full_load: float | None = Field(
        None, description="on_hand / full_load_per_day: the days it lasts with every bed occupied."
    )
