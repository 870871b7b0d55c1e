"""The rulebook's ``resources:`` section (issue 15): staffing minimums and the stockpile
catalogue, as data. :mod:`streams.core.staff` and :mod:`streams.core.stockpile` enforce
them.

Staff and teams are stock items (``staff.<role>``, ``team.<kind>``): ``on_hand`` is how
many are available now at the site. A staffing minimum asks, at each site, for at least
``min_per_bed`` of ``staff`` per occupied ``per`` bed (the bed item's ``baseline`` minus
its free beds); below it, ``staff_ratio_low``.

A stockpile entry asks each jurisdiction to hold ``target_days`` of ``item`` at full load:
``per_bed_day`` × the ``beds`` item's baseline (every bed occupied) × ``target_days``; the
jurisdiction falling short issues a replenishment task to ``agency``.

The facility registry (designation, level, location) ranks the capacity redirect's
choice (:func:`streams.core.facilities.best_facility`).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, field_validator

from streams.core.facilities import Registry
from topics.vocabulary import AgencyType, Tier

Positive = Annotated[float, Field(gt=0)]


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StaffMinimum(_Section):
    """At a site: ``staff`` on hand >= ``min_per_bed`` × occupied ``per`` beds."""

    id: Annotated[str, Field(min_length=1)]
    staff: Annotated[str, Field(pattern=r"^(staff|team)\.[^.]+")]
    per: Annotated[str, Field(pattern=r"^bed\.")] = "bed.icu"
    min_per_bed: Positive
    source: str = ""  # the guideline the ratio comes from


class StockpileItem(_Section):
    """A watched item of the stockpile catalogue (储备目录) and who replenishes it."""

    item: Annotated[str, Field(min_length=1)]
    target_days: Positive = 30.0
    per_bed_day: Positive  # consumption per occupied ``beds`` bed per day at full load
    beds: Annotated[str, Field(pattern=r"^bed\.")] = "bed.general"
    agency: AgencyType
    due_hours: Positive = 24.0
    source: str = ""  # the basis of the consumption figure


class Surge(_Section):
    """Peacetime/wartime conversion (平战转换): when an incident's declared tier reaches
    ``level``, each designated and reserve hospital of the jurisdiction in the facility
    registry gets a task to open its ``convertible`` ``item`` beds (``agency``, due in
    ``due_hours``); an acked conversion counts the beds within ``lead_hours``."""

    item: Annotated[str, Field(pattern=r"^bed\.")] = "bed.icu"
    level: Tier = "II"
    lead_hours: Positive = 24.0
    agency: AgencyType = "health"
    due_hours: Positive = 2.0
    source: str = ""


class Forecasts(_Section):
    """Parameters of the incident forecasts (:mod:`streams.core.forecast`): growth compares
    the confirmed cases of the trailing ``window_days`` with those of the window before it;
    ``capacity_forecast`` is raised when the projected ICU demand exceeds the
    jurisdiction's ICU capacity within ``horizon_days``."""

    window_days: Positive = 7.0
    horizon_days: Positive = 14.0
    source: str = ""  # the basis of the parameters


class Resources(_Section):
    forecast: Forecasts = Forecasts()
    staffing: tuple[StaffMinimum, ...] = ()
    stockpile: tuple[StockpileItem, ...] = ()
    surge: Surge | None = None
    # the facility registry file, relative to the rulebook's (streams.core.rulebook_loader
    # reads it into ``facilities``), or ``facilities`` given inline
    registry: str | None = None
    facilities: Registry | None = None

    @field_validator("staffing")
    @classmethod
    def _unique_ids(cls, minimums: tuple[StaffMinimum, ...]) -> tuple[StaffMinimum, ...]:
        _once([m.id for m in minimums], "id")
        return minimums

    @field_validator("stockpile")
    @classmethod
    def _unique_items(cls, items: tuple[StockpileItem, ...]) -> tuple[StockpileItem, ...]:
        _once([s.item for s in items], "item")
        return items


def _once(names: list[str], field: str) -> None:
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ValueError(f"[{i}].{field}: {name!r} appears twice")
