"""The facilities of the registry (:mod:`streams.core.registry` reads it), as models;
:mod:`streams.core.ranking` ranks them for the capacity redirect."""

from __future__ import annotations

from typing import Annotated, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field

from topics.vocabulary import JurisdictionCode, SiteType

Designation = Literal["designated", "reserve", "none"]


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Location(_Row):
    lat: Annotated[float, Field(ge=-90, le=90)]
    lon: Annotated[float, Field(ge=-180, le=180)]


class Facility(_Row):
    id: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str, Field(min_length=1)]
    type: SiteType = "hospital"
    designation: Designation = "none"
    level: Literal["tertiary", "secondary", "primary", "other"] = "other"
    location: Location | None = None
    jurisdiction: JurisdictionCode


class Registry(_Row):
    """A validated registry; ``version`` names the reference data a decision used."""

    version: Annotated[str, Field(min_length=1)]
    facilities: tuple[Facility, ...]


class FacilityIndex(NamedTuple):
    """The registry as the core reads it (empty: no registry)."""

    version: str | None
    by_id: dict[str, Facility]


def index(registry: Registry | None) -> FacilityIndex:
    if registry is None:
        return FacilityIndex(None, {})
    return FacilityIndex(registry.version, {f.id: f for f in registry.facilities})
