"""ICU occupancy of a jurisdiction: ``icu_capacity_low``.

At an instant T the jurisdiction's ICU ratio is the sum, over the sites that reported the
rulebook's ``icu.item`` (``bed.icu``: free beds, EDXL-HAVE AvailableCount) with a
``baseline`` in their latest snapshot at or before T, of free beds over the sum of those
baselines (None: no such site). A site whose latest snapshot carries no baseline counts in
neither sum. The ratio is evaluated at every instant some site reported; the alert is
raised at each instant where the ratio is below ``icu.threshold`` and the instant before
was not (the first instant counts as not low), so, as ``stock_low``, the alerts depend on
the snapshots, not on their arrival: a late snapshot re-evaluates the instants from its
own time to that site's next snapshot and retracts what no longer holds.
"""

from __future__ import annotations

from typing import Any

from streams.core.alerts import alert, show
from streams.core.compiled import Compiled
from streams.core.icu_line import IcuFigures, icu_figures
from streams.core.state import Namespace
from streams.core.stock import instants_from
from topics.models import Alert


def icu_changed(
    ns: Namespace, jurisdiction: str, site: str, t: int, *, comp: Compiled, out: list[Any]
) -> None:
    """A new ``icu.item`` snapshot of ``site`` at ``t``: re-evaluate the instants whose
    alert it can change (from ``t`` to the site's next snapshot, inclusive)."""
    threshold = comp.icu_threshold
    if threshold is None:
        return
    item = comp.icu_item
    sites = ns.beds.get(item, ())
    before, instants = instants_from(ns, ((s, item) for s in sites), (site, item), t)
    was_low = before >= 0 and _low(icu_figures(ns, sites, item, before), threshold)
    for at in instants:
        figures = icu_figures(ns, sites, item, at)
        low = _low(figures, threshold)
        wanted = ((at, *figures),) if low and not was_low and figures is not None else ()
        _show(ns, jurisdiction, (item, at, threshold), wanted, out)
        was_low = low


def _low(figures: IcuFigures | None, threshold: float) -> bool:
    return figures is not None and figures[0] < threshold * figures[1]


def _show(
    ns: Namespace,
    jurisdiction: str,
    instant: tuple[str, int, float],
    wanted: tuple[tuple[Any, ...], ...],
    out: list[Any],
) -> None:
    """Instant (item, time, threshold)'s alert: ``wanted`` (one or none)."""
    item, at, threshold = instant
    subject = f"icu:{item}/{at}"
    if not wanted and subject not in ns.shown:
        return

    def build(params: tuple[Any, ...], gone: bool) -> Alert:
        t, free, base = params
        ratio = free / base
        return alert(
            ns,
            jurisdiction,
            "icu_capacity_low",
            "orange",
            about=(item, t, free, base),
            at=t,
            message=(
                f"{item} in {jurisdiction}: {free:g} free of {base:g} "
                f"({ratio:.0%}, below {threshold:.0%})"
            ),
            details={"item": item, "free": free, "baseline": base, "ratio": ratio},
            subject=f"{jurisdiction}/{item}",
            gone=gone,
        )

    show(ns, subject, wanted, build, out)
