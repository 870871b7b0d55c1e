"""Staff against occupied beds at a site: ``staff_ratio_low``.

For a staffing minimum (rulebook ``resources.staffing``) and a site, at an instant T: the
site's ``staff`` on hand in its latest snapshot at or before T, and its occupied ``per``
beds, ``baseline - free`` of its latest ``per`` snapshot at or before T (a snapshot
without a baseline says nothing about occupancy). The site is short when both are known,
some bed is occupied and staff < ``min_per_bed`` × occupied. As ``icu_capacity_low``, the
alert is raised at each instant (a time either series reported) where the site is short
and the instant before was not, so the alerts depend on the snapshots, not on their
arrival: a late snapshot re-evaluates the instants up to its series' next snapshot and
retracts what no longer holds.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from streams.core.alerts import alert, show
from streams.core.compiled import Compiled
from streams.core.rulebook_resources import StaffMinimum
from streams.core.state import Namespace
from streams.core.stock import instants_from, snapshot_at
from topics.outputs import Alert


class Short(NamedTuple):
    at: int
    staff: float
    occupied: float


def staff_changed(
    ns: Namespace,
    jurisdiction: str,
    site: str,
    item: str,
    t: int,
    *,
    comp: Compiled,
    out: list[Any],
) -> None:
    """A new ``item`` snapshot of ``site`` at ``t``: re-evaluate the instants of every
    minimum that reads ``item`` whose alert it can change."""
    for rule in comp.staffing.get(item, ()):
        keys = ((site, rule.staff), (site, rule.per))
        before, instants = instants_from(ns, keys, (site, item), t)
        was_short = before >= 0 and short(ns, site, rule, before) is not None
        for at in instants:
            now = short(ns, site, rule, at)
            wanted = (tuple(now),) if now is not None and not was_short else ()
            _show(ns, jurisdiction, (site, rule, at), wanted, out)
            was_short = now is not None


def short(ns: Namespace, site: str, rule: StaffMinimum, at: int) -> Short | None:
    """The site's shortfall of ``rule`` as of ``at`` (None: not short, or not known)."""
    staff = snapshot_at(ns, site, rule.staff, at)
    beds = snapshot_at(ns, site, rule.per, at)
    if staff is None or beds is None or beds.baseline is None:
        return None
    occupied = max(beds.baseline - beds.on_hand, 0.0)
    if occupied > 0 and staff.on_hand < rule.min_per_bed * occupied:
        return Short(at, staff.on_hand, occupied)
    return None


def _show(
    ns: Namespace,
    jurisdiction: str,
    instant: tuple[str, StaffMinimum, int],
    wanted: tuple[tuple[Any, ...], ...],
    out: list[Any],
) -> None:
    """The (site, minimum, time) instant's alert: ``wanted`` (one or none)."""
    site, rule, at = instant
    subject = f"staff:{rule.id}/{site}/{at}"
    if not wanted and subject not in ns.shown:
        return

    def build(params: tuple[Any, ...], gone: bool) -> Alert:
        t, staff, occupied = params
        need = rule.min_per_bed * occupied
        return alert(
            ns,
            jurisdiction,
            "staff_ratio_low",
            "orange",
            about=(rule.id, site, t, staff, occupied, rule.min_per_bed),
            at=t,
            message=(
                f"{rule.staff} at {site}: {staff:g} for {occupied:g} occupied {rule.per} "
                f"({staff / occupied:.2f} a bed, minimum {rule.min_per_bed:g}: {need:g} needed)"
            ),
            details={
                "rule_id": rule.id,
                "site_id": site,
                "staff_item": rule.staff,
                "on_hand": staff,
                "bed_item": rule.per,
                "occupied": occupied,
                "min_per_bed": rule.min_per_bed,
                "needed": need,
            },
            subject=f"{site}/{rule.staff}",
            gone=gone,
        )

    show(ns, subject, wanted, build, out)
