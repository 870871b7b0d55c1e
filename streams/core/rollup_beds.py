"""A province's capacity redirect into another of its cities (issue 15 item 3).

The city stage (:mod:`streams.core.transfers`) suggests a site of its own city; when none
of them has a free bed of the required type it says "no free bed in the jurisdiction".
With a facility registry, the decide stage forwards to the roll-up feed
(:func:`feeds_province`) every ``bed.*`` StockLevel of a hospital the registry lists and
every such "no free bed" ``capacity_redirect`` (raised and retracted copies); without a
registry, neither. The province (:class:`~streams.core.rollup.RollupState`) keeps:

* ``beds``: ``"status|item"`` -> site -> ``[[at_us, on_hand], ...]`` by event time (two
  snapshots at one instant: the fewer free beds count, as a StockLevel carries no event id
  to order them by as the city does);
* ``redirects``: the city alert's id -> ``[revision, retracted, status, city, transfer,
  destination, bed item, at_us, incident]``, from its copy with the highest revision.

For each standing city redirect the province ranks the registry's hospitals of its other
cities by the city's ranking (:func:`streams.core.ranking.best_of`: designation, free beds
as of the request, distance from the full destination; "neighbouring" is read as nearest,
as the registry has no adjacency) and raises its own ``capacity_redirect``: jurisdiction
the province, subject the transfer, the city and hospital it crosses into in its message
and details. What stands is a function of the standing city redirects and the bed series,
whatever order the feed brought them in; a late or later snapshot, or the city's
retraction (a bed freed in the city, the transfer ended before its request), decides
again and retracts what no longer holds.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import replace
from typing import Any

from streams.core.alerts import alert, show
from streams.core.compiled import Compiled, compile_rulebook
from streams.core.eventtime import to_us
from streams.core.ranking import best_of
from streams.core.rollup import Output, RollupState, number_area_copies
from streams.core.rulebook import Rulebook
from streams.core.state import Namespace, Work
from topics.outputs import Alert, StockLevel
from topics.vocabulary import Status

BedItem = StockLevel | Alert
Subject = tuple[Status, str, str]  # (status, city, transfer id)


def feeds_province(output: object, comp: Compiled) -> bool:
    """Whether the decide stage forwards a city output to its province: with a registry, a
    hospital's ``bed.*`` snapshot the registry lists, or a ``capacity_redirect`` that found
    no free bed in the city."""
    if not comp.facilities.by_id:
        return False
    if type(output) is StockLevel:
        return (
            output.item.startswith("bed.")
            and output.site_type == "hospital"
            and output.site_id in comp.facilities.by_id
            and len(output.jurisdiction) >= 4
        )
    return (
        type(output) is Alert
        and output.alert_kind == "capacity_redirect"
        and output.details.get("suggested_facility") is None
        and len(output.jurisdiction) >= 4
    )


def province_of(item: BedItem, rulebook: Rulebook) -> list[str]:
    """The province a forwarded bed snapshot or redirect reaches (none for any other)."""
    return [item.jurisdiction[:2]] if feeds_province(item, compile_rulebook(rulebook)) else []


def rollup_beds(
    state: RollupState, item: BedItem, rulebook: Rulebook
) -> tuple[RollupState, list[Output]]:
    """Fold a bed snapshot or a city's redirect into the province; returns the very state
    when it changes nothing, and the province's redirects raised and retracted."""
    if isinstance(item, StockLevel):
        new, subjects = _snapshot(state, item)
    else:
        new, subjects = _redirect(state, item)
    if new is state:
        return state, []
    return _decide(new, subjects, compile_rulebook(rulebook))


def _snapshot(state: RollupState, snap: StockLevel) -> tuple[RollupState, set[Subject]]:
    key, at = f"{snap.status}|{snap.item}", to_us(snap.at)
    sites = state.beds.get(key, {})
    series = sites.get(snap.site_id, [])
    i = bisect_left(series, at, key=lambda row: row[0])
    same = i < len(series) and series[i][0] == at
    if same and series[i][1] <= snap.on_hand:
        return state, set()  # a repeat (a re-emitted level), or more free beds than kept
    row = [at, snap.on_hand]
    changed = [*series[:i], row, *series[i + 1 if same else i :]]
    beds = {**state.beds, key: {**sites, snap.site_id: changed}}
    subjects = {
        (r[2], r[3], r[4])
        for r in state.redirects.values()
        if (r[2], r[6]) == (snap.status, snap.item) and r[7] >= at and not r[1]
    }
    return replace(state, beds=beds), subjects


def _redirect(state: RollupState, city_alert: Alert) -> tuple[RollupState, set[Subject]]:
    known = state.redirects.get(city_alert.alert_id)
    if known is not None and known[0] >= city_alert.revision:
        return state, set()
    a = city_alert
    record = [
        a.revision,
        a.retracted,
        a.status,
        a.jurisdiction,
        a.subject_id,
        a.details["to_facility"],
        "bed." + a.details["required_bed"],
        to_us(a.at),
        a.incident_id,
    ]
    redirects = {**state.redirects, a.alert_id: record}
    return replace(state, redirects=redirects), {(a.status, a.jurisdiction, a.subject_id)}


def _decide(
    state: RollupState, subjects: set[Subject], comp: Compiled
) -> tuple[RollupState, list[Output]]:
    """Show, per subject, the province's redirects of its standing city redirects."""
    out: list[Any] = []
    work = Work(state.ledger)
    for status, city, transfer in sorted(subjects):
        ns = work.namespace(status)
        wanted = []
        for r in state.redirects.values():
            if (r[2], r[3], r[4]) != (status, city, transfer) or r[1]:
                continue
            dest, item, t, inc = r[5:9]
            sites = _free_elsewhere(state, comp, (status, item, city), t)
            best = best_of(sites, dest, comp.facilities.by_id)
            if best is not None:
                crossed = comp.facilities.by_id[best[0]].jurisdiction[:4]
                wanted.append((dest, item, t, inc, city, best, crossed))
        wanted.sort(key=lambda params: params[:3])
        build = _builder(ns, state.area, transfer, comp)
        show(ns, f"x:{city}:{transfer}", tuple(wanted), build, out)
    ledger = work.seal()
    return replace(state, ledger=ledger, revisions=number_area_copies(out, state.revisions)), out


def _free_elsewhere(
    state: RollupState, comp: Compiled, where: tuple[str, str, str], t: int
) -> list[tuple[str, float | None]]:
    """(site, free beds as of ``t``) of the registry's hospitals of the province outside
    the city (``where``: status, bed item, city)."""
    status, item, city = where
    sites = []
    for site, series in state.beds.get(f"{status}|{item}", {}).items():
        known = comp.facilities.by_id.get(site)
        if known is None or known.type != "hospital":
            continue
        if known.jurisdiction[:2] != state.area or known.jurisdiction[:4] == city[:4]:
            continue
        i = bisect_right(series, t, key=lambda row: row[0])
        sites.append((site, series[i - 1][1] if i else None))
    return sites


def _builder(ns: Namespace, area: str, transfer: str, comp: Compiled) -> Any:
    def build(params: tuple[Any, ...], gone: bool) -> Alert:
        dest, item, t, inc, city, best, crossed = params
        site, free, why = best
        bed = item.removeprefix("bed.")
        name = comp.facilities.by_id[site].name
        version = comp.facilities.version
        return alert(
            ns,
            area,
            "capacity_redirect",
            "orange",
            about=(city, transfer, dest, item, t, inc, best, crossed, version),
            at=t,
            message=(
                f"{dest} has no free {bed} bed in {city}: "
                f"redirect to {site} {name} in {crossed} ({why})"
            ),
            details={
                "to_facility": dest,
                "required_bed": bed,
                "from_city": city,
                "suggested_city": crossed,
                "suggested_facility": site,
                "suggested_name": name,
                "suggested_free": free,
                "reason": why,
                "registry_version": version,
            },
            subject=transfer,
            incident=inc,
            gone=gone,
        )

    return build
