"""Wire models: what agencies publish (DESIGN.md section 2), and the base of what tierflow
writes (:mod:`topics.outputs`); their vocabulary is :mod:`topics.vocabulary`.

Field names follow CAP 1.2 / OASIS EDXL where one exists. Input models keep unknown
extra fields (``extra="allow"``) but nothing of ours reads them; missing required fields
and wrong types are rejected by the codec with the field's path.

All models are frozen: state and outputs are shared between the core and its shells.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from topics.vocabulary import (
    AgencyType,
    CalendarDay,
    CapCertainty,
    CapSeverity,
    CapUrgency,
    CaseClassification,
    CaseOutcome,
    CaseSeverity,
    DeclaredTier,
    Identifier,
    IncidentCategory,
    IncidentPhase,
    Instant,
    MsgType,
    NonNegativeFloat,
    NonNegativeInt,
    RegionCode,
    SiteType,
    Status,
    TransferStatus,
    Triage,
)

SCHEMA_VERSION = 1
_TRANSFER_STATES = frozenset(get_args(TransferStatus))


class _Wire(BaseModel):
    """Inputs: keep unknown fields, forbid mutation."""

    model_config = ConfigDict(
        frozen=True, extra="allow", str_strip_whitespace=False, allow_inf_nan=False
    )


class OutputModel(BaseModel):
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
    onset_date: CalendarDay | None = Field(
        None,
        description="Date of symptom onset, YYYY-MM-DD (a real day, 2000 to 2099).",
        json_schema_extra={"format": "date"},
    )
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
