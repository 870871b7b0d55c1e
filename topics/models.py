"""Wire models: what agencies publish and what tierflow emits (DESIGN.md section 2).

Field names follow CAP 1.2 / OASIS EDXL where one exists. Input models keep unknown
extra fields (``extra="allow"``) but nothing of ours reads them; missing required fields
and wrong types are rejected by the codec with the field's path.

All models are frozen: state and outputs are shared between the core and its shells.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import (
    AfterValidator,
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
# military: military hospitals and medical teams sharing beds and sending teams (军地联动)
AgencyType = Literal["health", "emergency", "public_security", "transport", "military"]
IncidentCategory = Literal[
    "infectious_disease",
    "food_poisoning",
    "occupational_poisoning",
    "chemical_poisoning",
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
DeclaredTier = Literal["I", "II", "III", "IV", "none"]  # "none": the incident stands down
Basis = Literal["recommended", "declared"]

# GB/T 2260 administrative division: 2 digits province, 2 city, 2 county.
RegionCode = Annotated[str, StringConstraints(pattern=r"^[1-8]\d{5}$")]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128)]
NonNegativeInt = Annotated[int, Field(ge=0)]
NonNegativeFloat = Annotated[float, Field(ge=0)]
# A city (4 digits) or, with county jurisdictions, a county (6 digits).
JurisdictionCode = Annotated[str, StringConstraints(pattern=r"^[1-8]\d{3}(\d{2})?$")]
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


def _plausible(instant: datetime) -> datetime:
    if not _EARLIEST <= instant < _LATEST:
        raise ValueError("a time before 2000 or from 2100 on is a typo: check the year")
    return instant


# Every instant on the wire: RFC 3339 with an offset, in 2000-2099.
Instant = Annotated[AwareDatetime, AfterValidator(_plausible)]


class _Wire(BaseModel):
    """Inputs: keep unknown fields, forbid mutation."""

    model_config = ConfigDict(
        frozen=True, extra="allow", str_strip_whitespace=False, allow_inf_nan=False
    )


class _Output(BaseModel):
    """Outputs are ours: no unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Source(_Wire):
    agency_id: Identifier = Field(
        description=(
            "The sending agency's id, e.g. H-510104-01 (a hospital) or 120-5101 (a dispatch "
            "centre); must be the agency whose key signed the record."
        )
    )
    agency_type: AgencyType = Field(
        description=(
            "What kind of agency sends: health (hospitals, CDC, 120 dispatch), emergency, "
            "public_security, transport or military (military hospitals and medical teams, "
            "军地联动)."
        )
    )


class Location(_Wire):
    lat: Annotated[float, Field(ge=-90, le=90)] = Field(
        description="Latitude in decimal degrees (WGS 84), -90 to 90."
    )
    lon: Annotated[float, Field(ge=-180, le=180)] = Field(
        description="Longitude in decimal degrees (WGS 84), -180 to 180."
    )


class Casualties(_Wire):
    total: NonNegativeInt = Field(
        0, description="People affected so far (injured, ill or dead), as last counted."
    )
    dead: NonNegativeInt = Field(0, description="Of them, dead.")
    critical: NonNegativeInt = Field(0, description="Of them, in critical condition.")

    @model_validator(mode="after")
    def _parts_of_total(self) -> Casualties:
        for part in ("dead", "critical"):
            if getattr(self, part) > self.total:
                raise ValueError(
                    f"{part} ({getattr(self, part)}) is more than total ({self.total})"
                )
        return self


class Envelope(_Wire):
    """Fields every input event carries."""

    event_id: Identifier = Field(
        description=(
            "Globally unique id of this event, chosen by the sender; the idempotency key (the same"
            " id twice counts once)."
        )
    )
    schema_version: Literal[1] = Field(1, description="Wire schema version: 1.")
    msg_type: MsgType = Field(
        "Alert",
        description=(
            "CAP msgType: Alert (new), Update, Cancel, or Ack (an agency acknowledging a task, "
            "incident events only)."
        ),
    )
    status: Status = Field(
        "Actual",
        description=(
            "CAP status: Actual (real), Exercise (a drill: decided in its own namespace, never in "
            "the live view) or Test."
        ),
    )
    source: Source = Field(description="Who sends the event.")
    occurred_at: Instant = Field(
        description=(
            "When it happened (event time): RFC 3339 with an offset, e.g. "
            "2026-03-02T08:00:00+08:00. Decisions are made in event time."
        )
    )
    reported_at: Instant = Field(
        description=(
            "When the agency reported it: RFC 3339 with an offset. Later than occurred_at by more "
            "than the rulebook's limit (2 h) raises reporting_late."
        )
    )
    region: RegionCode = Field(
        description=(
            "Where: the 6-digit GB/T 2260 administrative division code of the county, e.g. 510104 "
            "(Jinjiang, Chengdu). Its first 4 digits are the city, the jurisdiction that decides."
        )
    )
    location: Location | None = Field(None, description="Optional point (lat, lon).")
    incident_id: Identifier | None = Field(
        None,
        description=(
            "The incident this event belongs to, when the sender knows it; otherwise cases are "
            "correlated by city and disease."
        ),
    )


class IncidentEvent(Envelope):
    kind: Literal["incident"] = Field(description='"incident": the event kind.')
    incident_id: Identifier = Field(
        description=(
            "The incident's id, chosen by the agency that opens it (required on incident events)."
        )
    )
    category: IncidentCategory = Field(
        description=(
            "What kind of incident: infectious_disease, food_poisoning, occupational_poisoning, "
            "chemical_poisoning (acute chemical poisoning of any setting), mass_casualty, "
            "unknown_cluster or other."
        )
    )
    disease: str | None = Field(
        None,
        description=(
            "Disease code from the rulebook's disease table (e.g. cholera, plague_pneumonic), for "
            "infectious diseases."
        ),
    )
    headline: str = Field("", description="One line a person reads on the board and in the report.")
    severity: CapSeverity = Field(
        "Unknown", description="CAP severity: Extreme, Severe, Moderate, Minor or Unknown."
    )
    urgency: CapUrgency = Field(
        "Unknown", description="CAP urgency: Immediate, Expected, Future, Past or Unknown."
    )
    certainty: CapCertainty = Field(
        "Unknown", description="CAP certainty: Observed, Likely, Possible, Unlikely or Unknown."
    )
    phase: IncidentPhase = Field(
        "reported",
        description="Where the incident stands: reported, confirmed, contained or closed.",
    )
    casualties: Casualties | None = Field(
        None,
        description=(
            "People affected, dead and critical so far (mass-casualty and poisoning tiers read "
            "them)."
        ),
    )
    ack_task_id: Identifier | None = Field(
        None,
        description=(
            "With msg_type Ack: the id of the task this agency acknowledges (task ids are on "
            "tierflow.tasks.v1 and `tierflow board --ids`). For a roll-up task, incident_id is the"
            " task's incident_id."
        ),
    )
    declared_tier: DeclaredTier | None = Field(
        None,
        description=(
            "With msg_type Update, from an agency type the rulebook authorises (authority."
            "declare_by, default emergency): the tier the leading group declares after joint "
            "assessment (I, II, III, IV), or none to stand the incident down. The plan's "
            "agency tasks follow the declared tier."
        ),
    )
    reason: str = Field(
        "", max_length=2000, description="Why the tier was declared (with declared_tier)."
    )
    verification: Literal["confirmed", "discarded"] | None = Field(
        None,
        description=(
            "With msg_type Ack of a warning's verification task: what the on-site check found. "
            "confirmed: the warning is an incident (its recommendation stands); discarded: it "
            "is closed. Name the incident and its disease as the task does."
        ),
    )

    @model_validator(mode="after")
    def _declared_with_update(self) -> IncidentEvent:
        if self.declared_tier is not None and self.msg_type != "Update":
            raise ValueError(
                f"declared_tier goes with msg_type Update, not {self.msg_type}: send the "
                "declaration as its own Update event"
            )
        if self.verification is not None and (self.msg_type != "Ack" or not self.ack_task_id):
            raise ValueError(
                "verification goes with msg_type Ack and the ack_task_id of the warning's "
                "verification task"
            )
        return self


class CaseEvent(Envelope):
    kind: Literal["case"] = Field(description='"case": the event kind.')
    case_id: Identifier = Field(
        description="The case's id at the reporting facility; reports of the same case share it."
    )
    patient_ref: Identifier = Field(
        description="The patient's reference at the facility (not a national id)."
    )
    national_id: str | None = Field(
        None,
        description=(
            "Optional national id: pseudonymised with a keyed HMAC when it enters the pipeline, "
            "never stored or forwarded raw."
        ),
    )
    name: str | None = Field(
        None, description="Optional patient name: dropped when it enters the pipeline."
    )
    disease: str = Field(
        description="Disease code from the rulebook's disease table, e.g. cholera."
    )
    classification: CaseClassification = Field(
        description="suspected, probable, confirmed or discarded; tiers count confirmed cases."
    )
    severity: CaseSeverity = Field("mild", description="mild, moderate, severe or critical.")
    outcome: CaseOutcome = Field("none", description="none (yet), recovered or died.")
    onset_date: str | None = Field(None, description="Date of symptom onset, YYYY-MM-DD.")
    facility_id: Identifier = Field(
        description=(
            "The reporting facility, e.g. H-510104-01; cases from two or more facilities open a "
            "warning."
        )
    )
    setting: str | None = Field(
        None,
        description=(
            "Where it spread, when known: school, worksite, care_home, … (institution clusters "
            "open warnings)."
        ),
    )
    institution_id: Identifier | None = Field(
        None,
        description=(
            "The institution of the setting (the school's, worksite's or care home's id): "
            "'within one institution' warnings count the cases of one institution; cases "
            "that name none are counted together by setting type, city-wide."
        ),
    )
    triage: Triage | None = Field(
        None, description="START triage from 120 dispatch: immediate, delayed, minor or expectant."
    )


class TransferEvent(Envelope):
    kind: Literal["transfer"] = Field(description='"transfer": the event kind.')
    transfer_id: Identifier = Field(
        description="The transfer's id; every state report of one transfer shares it."
    )
    case_id: Identifier | None = Field(None, description="The case being moved, when known.")
    patient_ref: Identifier = Field(description="The patient's reference at the sending facility.")
    triage: Triage | None = Field(
        None, description="START triage: immediate, delayed, minor or expectant."
    )
    from_facility: Identifier = Field(
        description="Where the patient leaves from (a facility or a scene id)."
    )
    to_facility: Identifier = Field(description="The destination hospital, e.g. H-510107-01.")
    required_bed: Identifier = Field(
        description=(
            "The bed the patient needs: icu, isolation, burn, general, … (the same words as the "
            "bed.<kind> stock items); a full destination gets a capacity_redirect."
        )
    )
    transport_unit: Identifier | None = Field(
        None, description="The ambulance or unit moving the patient."
    )
    transfer_status: TransferStatus = Field(
        description=(
            "The transfer's state: requested, dispatched, en_route, arrived or cancelled (a "
            "transfer state sent in `status` is read as this)."
        )
    )
    eta: Instant | None = Field(
        None,
        description=(
            "Expected arrival (RFC 3339 with an offset); past it without arrival raises "
            "transfer_delayed."
        ),
    )

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

    @model_validator(mode="after")
    def _eta_after_occurred(self) -> TransferEvent:
        """An eta set (requested, dispatched) before the event itself is a typo; later
        reports carry the eta they were given, which a late transfer has passed."""
        setting = self.transfer_status in ("requested", "dispatched")
        if setting and self.eta is not None and self.eta < self.occurred_at:
            raise ValueError(
                f"eta is before occurred_at (eta {self.eta.isoformat()}, "
                f"occurred_at {self.occurred_at.isoformat()})"
            )
        return self


class StockEvent(Envelope):
    kind: Literal["stock"] = Field(description='"stock": the event kind.')
    site_id: Identifier = Field(
        description="The site reporting: a hospital (e.g. H-510104-01), depot or CDC."
    )
    site_type: SiteType = Field(description="hospital, depot, cdc or other.")
    item: Identifier = Field(
        description=(
            "What is counted: bed.icu, bed.isolation, bed.general (free beds, at hospitals, as in "
            "EDXL-HAVE), ppe.n95, ppe.gown, ventilator, ecmo, …"
        )
    )
    unit: str = Field("each", description="Unit of the counts: each, box, … (beds: each).")
    on_hand: NonNegativeFloat = Field(
        description="Available now (beds: free beds, EDXL-HAVE AvailableCount)."
    )
    baseline: NonNegativeFloat | None = Field(
        None,
        description=(
            "Total capacity (beds: EDXL-HAVE BaselineCount); the board shows free of baseline."
        ),
    )
    received: NonNegativeFloat | None = Field(
        None,
        description="Received since the last report (so burn rate is not mistaken for a delivery).",
    )
    convertible: NonNegativeFloat | None = Field(
        None,
        description=(
            "Beds of this bed.* item the site can open within the rulebook's surge lead time "
            "(平战转换: default 24 h for ICU), beside the baseline; only on bed items."
        ),
    )


InputEvent = Annotated[
    IncidentEvent | CaseEvent | TransferEvent | StockEvent,
    Field(discriminator="kind"),
]


class Tick(_Output):
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


# --- outputs -------------------------------------------------------------------------


class Escalation(_Output):
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


class Task(_Output):
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


class Alert(_Output):
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


class Rejection(_Output):
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


class IncidentState(_Output):
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


class StockLevel(_Output):
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
