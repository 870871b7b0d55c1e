"""Wire models: what agencies publish and what tierflow emits (DESIGN.md section 2).

Field names follow CAP 1.2 / OASIS EDXL where one exists. Input models keep unknown
extra fields (``extra="allow"``) but nothing of ours reads them; missing required fields
and wrong types are rejected by the codec with the field's path.

All models are frozen: state and outputs are shared between the core and its shells.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

SCHEMA_VERSION = 1

Kind = Literal["incident", "case", "transfer", "stock"]
MsgType = Literal["Alert", "Update", "Cancel", "Ack"]
Status = Literal["Actual", "Exercise", "Test"]
AgencyType = Literal["health", "emergency", "public_security", "transport"]
IncidentCategory = Literal[
    "infectious_disease",
    "food_poisoning",
    "occupational_poisoning",
    "mass_casualty",
    "unknown_cluster",
    "other",
]
CapSeverity = Literal["Extreme", "Severe", "Moderate", "Minor", "Unknown"]
CapUrgency = Literal["Immediate", "Expected", "Future", "Past", "Unknown"]
CapCertainty = Literal["Observed", "Likely", "Possible", "Unlikely", "Unknown"]
IncidentPhase = Literal["reported", "confirmed", "contained", "closed"]
CaseClassification = Literal["suspected", "probable", "confirmed", "discarded"]
CaseSeverity = Literal["mild", "moderate", "severe", "critical"]
CaseOutcome = Literal["none", "recovered", "died"]
Triage = Literal["immediate", "delayed", "minor", "expectant"]
TransferStatus = Literal["requested", "dispatched", "en_route", "arrived", "cancelled"]
_TRANSFER_STATES = frozenset(get_args(TransferStatus))
SiteType = Literal["hospital", "depot", "cdc", "other"]
Tier = Literal["I", "II", "III", "IV"]

# GB/T 2260 administrative division: 2 digits province, 2 city, 2 county.
RegionCode = Annotated[str, StringConstraints(pattern=r"^[1-8]\d{5}$")]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128)]
NonNegativeInt = Annotated[int, Field(ge=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]


class _Wire(BaseModel):
    """Inputs: keep unknown fields, forbid mutation."""

    model_config = ConfigDict(frozen=True, extra="allow", str_strip_whitespace=False)


class _Output(BaseModel):
    """Outputs are ours: no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Wire):
    agency_id: Identifier
    agency_type: AgencyType


class Location(_Wire):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class Casualties(_Wire):
    total: NonNegativeInt = 0
    dead: NonNegativeInt = 0
    critical: NonNegativeInt = 0


class Envelope(_Wire):
    """Fields every input event carries."""

    event_id: Identifier
    schema_version: Literal[1] = 1
    msg_type: MsgType = "Alert"
    status: Status = "Actual"
    source: Source
    occurred_at: AwareDatetime
    reported_at: AwareDatetime
    region: RegionCode
    location: Location | None = None
    incident_id: Identifier | None = None


class IncidentEvent(Envelope):
    kind: Literal["incident"]
    incident_id: Identifier
    category: IncidentCategory
    disease: str | None = None
    headline: str = ""
    severity: CapSeverity = "Unknown"
    urgency: CapUrgency = "Unknown"
    certainty: CapCertainty = "Unknown"
    phase: IncidentPhase = "reported"
    casualties: Casualties | None = None
    ack_task_id: Identifier | None = None


class CaseEvent(Envelope):
    kind: Literal["case"]
    case_id: Identifier
    patient_ref: Identifier
    national_id: str | None = None
    name: str | None = None
    disease: str
    classification: CaseClassification
    severity: CaseSeverity = "mild"
    outcome: CaseOutcome = "none"
    onset_date: str | None = None
    facility_id: Identifier
    setting: str | None = None
    triage: Triage | None = None


class TransferEvent(Envelope):
    kind: Literal["transfer"]
    transfer_id: Identifier
    case_id: Identifier | None = None
    patient_ref: Identifier
    triage: Triage | None = None
    from_facility: Identifier
    to_facility: Identifier
    required_bed: Identifier
    transport_unit: Identifier | None = None
    transfer_status: TransferStatus
    eta: AwareDatetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _transfer_state_in_status(cls, data: Any) -> Any:
        """DESIGN.md names both the CAP status and the transfer's state ``status``. We keep
        CAP's meaning for ``status`` and carry the state in ``transfer_status``; a sender
        that puts a transfer state (``arrived`` …) in ``status`` is understood as Actual."""
        if isinstance(data, dict) and "transfer_status" not in data:
            state = data.get("status")
            if state in _TRANSFER_STATES:
                data = {**data, "transfer_status": state, "status": "Actual"}
        return data


class StockEvent(Envelope):
    kind: Literal["stock"]
    site_id: Identifier
    site_type: SiteType
    item: Identifier
    unit: str = "each"
    on_hand: NonNegativeFloat
    baseline: NonNegativeFloat | None = None
    received: NonNegativeFloat | None = None


InputEvent = Annotated[
    IncidentEvent | CaseEvent | TransferEvent | StockEvent,
    Field(discriminator="kind"),
]


class Tick(_Output):
    """A clock tick: the live shell's timer writes these into the log so that a replay sees
    exactly the time the live run saw. ``jurisdiction`` None means every jurisdiction of the
    partition that carries it."""

    kind: Literal["tick"] = "tick"
    event_id: Identifier
    tick_at: AwareDatetime
    jurisdiction: str | None = None


# --- outputs -------------------------------------------------------------------------


class Escalation(_Output):
    """One change of an incident's response tier (``tier`` None: stood down)."""

    decision_id: str
    incident_id: str
    jurisdiction: str
    status: Status = "Actual"
    tier: Tier | None = None
    previous_tier: Tier | None = None
    effective_at: AwareDatetime
    rule_ids: tuple[str, ...]
    evidence: dict[str, float]
    rulebook_version: str
    decided_at: AwareDatetime | None = None
    # True on a re-emission of a change that a late event has made wrong (the recomputed
    # change is emitted beside it); the command view shows only rows not retracted.
    retracted: bool = False
    # How many copies of this id the core emitted before this one: a retraction or a
    # reinstatement outranks what it replaces; a re-processed output repeats its revision.
    revision: NonNegativeInt = 0


class Task(_Output):
    """A task issued to an agency by the response plan of a tier."""

    task_id: str
    incident_id: str
    jurisdiction: str
    status: Status = "Actual"
    tier: Tier
    agency_type: AgencyType
    action: str
    issued_at: AwareDatetime
    due_at: AwareDatetime
    # retracted: the tier change that issued it was retracted by a late event.
    state: Literal["open", "acked", "overdue", "retracted"] = "open"
    acked_at: AwareDatetime | None = None
    decided_at: AwareDatetime | None = None
    revision: NonNegativeInt = 0  # as Escalation.revision


AlertKind = Literal[
    "warning_opened",
    "task_overdue",
    "transfer_delayed",
    "capacity_redirect",
    "stock_low",
    "reporting_late",
]
AlertLevel = Literal["info", "blue", "yellow", "orange", "red"]


class Alert(_Output):
    """Something an operator should look at; ``subject_id`` names what it is about."""

    alert_id: str
    alert_kind: AlertKind
    level: AlertLevel
    jurisdiction: str
    status: Status = "Actual"
    subject_id: str
    incident_id: str | None = None
    at: AwareDatetime
    message: str
    details: dict[str, Any] = Field(default_factory=dict)
    decided_at: AwareDatetime | None = None
    retracted: bool = False  # as Escalation.retracted
    revision: NonNegativeInt = 0  # as Escalation.revision


class Rejection(_Output):
    """A record that could not be decoded or validated, kept with what a person needs to
    act on it: where it came from, why it failed, and its original bytes (base64)."""

    reason: str
    field: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    key_b64: str | None = None
    value_b64: str
    rejected_at: AwareDatetime | None = None


class IncidentState(_Output):
    """The current picture of one incident, emitted whenever it changes; the command view's
    "current incident state" keeps the one with the highest ``version``."""

    incident_id: str
    jurisdiction: str
    status: Status = "Actual"
    category: IncidentCategory
    disease: str | None = None
    headline: str = ""
    phase: IncidentPhase = "reported"
    warning: bool = False  # opened by the multi-point trigger, no agency declared it yet
    tier: Tier | None = None
    opened_at: AwareDatetime
    updated_at: AwareDatetime  # event time of the latest event that changed it
    metrics: dict[str, float] = Field(default_factory=dict)
    region: str | None = None
    lat: float | None = None
    lon: float | None = None
    rulebook_version: str
    # Set on the last copy of an incident taken over by another id (a warning an agency's
    # incident absorbed): that copy is ``closed`` and names the incident it became.
    merged_into: str | None = None
    # When it had a tier: (since, until), ``until`` None while it still has one. What the
    # roll-up stages fold ("in >= 2 cities"), so the latest picture carries the whole story.
    tier_periods: tuple[tuple[AwareDatetime, AwareDatetime | None], ...] = ()
    version: int  # increases with every change; ReplacingMergeTree keeps the highest


class StockLevel(_Output):
    """One stock snapshot with what the core derived from it."""

    site_id: str
    site_type: SiteType
    jurisdiction: str
    status: Status = "Actual"
    item: str
    unit: str
    at: AwareDatetime
    on_hand: float
    baseline: float | None = None
    burn_rate_per_day: float | None = None
    days_of_cover: float | None = None
