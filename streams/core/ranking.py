"""The capacity redirect's choice among the sites with free beds.

:func:`best_facility` ranks the sites that reported free beds of the required item as
of an instant, other than the full destination: designated (定点) before reserve
(后备定点) before the rest (a site the registry does not list counts as ``none``), then
the most free beds, then the nearest to the full destination (great-circle distance
between registry locations; unknown: last), then the smallest id. Without a registry
that is the most free beds, ties by id. The choice says why it was made.
:func:`best_of` is that ranking over given sites and free beds (the province's, which
crosses into another city: :mod:`streams.core.rollup_beds`).
"""

from __future__ import annotations

from collections.abc import Iterable
from math import asin, cos, radians, sin, sqrt

from streams.core.facilities import Facility, Location
from streams.core.state import Namespace
from streams.core.stock import on_hand_at

DESIGNATION_RANK: dict[str, int] = {"designated": 0, "reserve": 1, "none": 2}
EARTH_KM = 6371.0088  # mean Earth radius (IUGG)


def distance_km(a: Location, b: Location) -> float:
    """Great-circle (haversine) distance between two locations, in km."""
    dlat, dlon = radians(b.lat - a.lat), radians(b.lon - a.lon)
    h = sin(dlat / 2) ** 2 + cos(radians(a.lat)) * cos(radians(b.lat)) * sin(dlon / 2) ** 2
    return 2 * EARTH_KM * asin(sqrt(h))


def best_facility(
    ns: Namespace, item: str, exclude: str, t: int, facilities: dict[str, Facility]
) -> tuple[str, float, str] | None:
    """As of ``t``: (site, free ``item`` beds, why) of the best site other than
    ``exclude`` by the ranking above (None: no site has a free bed)."""
    sites = ((site, on_hand_at(ns, site, item, t)) for site in ns.beds.get(item, ()))
    return best_of(sites, exclude, facilities)


def best_of(
    sites: Iterable[tuple[str, float | None]], exclude: str, facilities: dict[str, Facility]
) -> tuple[str, float, str] | None:
    """(site, free beds, why) of the best of ``sites`` (each with its free beds, None:
    unknown) other than ``exclude`` by the ranking above (None: none has a free bed)."""
    origin = facilities.get(exclude)
    best: tuple[tuple[int, float, float, str], str, float, str] | None = None
    for site, free in sites:
        if site == exclude or free is None or free <= 0:
            continue
        known = facilities.get(site)
        designation = known.designation if known is not None else "none"
        km = None
        if known is not None and known.location and origin is not None and origin.location:
            km = distance_km(origin.location, known.location)
        key = (DESIGNATION_RANK[designation], -free, km if km is not None else float("inf"), site)
        if best is None or key < best[0]:
            why = f"{free:g} free"
            if facilities:
                where = f", {km:.1f} km from {exclude}" if km is not None else ""
                why = f"{designation}, {free:g} free{where}"
            best = (key, site, free, why)
    return best[1:] if best is not None else None
