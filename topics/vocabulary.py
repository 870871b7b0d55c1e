"""The wire's vocabulary: the closed sets of values and the constrained types every wire
model (:mod:`topics.models`, :mod:`topics.outputs`) is built from (DESIGN.md section 2)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, Field, StringConstraints

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
# Where an agency's authority runs: a province (2 digits), a city (4) or a county (6).
AreaCode = Annotated[str, StringConstraints(pattern=r"^[1-8]\d(\d{2}){0,2}$")]
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2100, 1, 1, tzinfo=UTC)


# Every instant on the wire: RFC 3339 with an offset, in 2000-2099. The range is checked by
# pydantic-core itself: a Python validator per instant was a fifth of decoding an event
# (BENCHMARKS.md, twenty-second session); topics.codec words its errors as below.
Instant = Annotated[AwareDatetime, Field(ge=_EARLIEST, lt=_LATEST)]
INSTANT_OUT_OF_RANGE = "a time before 2000 or from 2100 on is a typo: check the year"


_DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _calendar_day(text: str) -> str:
    try:
        day = date.fromisoformat(text) if _DAY.fullmatch(text) else None
    except ValueError:
        day = None
    if day is None:
        raise ValueError(f"not a date: {text[:40]!r} (YYYY-MM-DD, e.g. 2026-03-01)")
    if not _EARLIEST.date() <= day < _LATEST.date():
        raise ValueError("a date before 2000 or from 2100 on is a typo: check the year")
    return text


# A calendar day as sent (kept as its text, so it is written back unchanged), in 2000-2099.
CalendarDay = Annotated[str, AfterValidator(_calendar_day)]
