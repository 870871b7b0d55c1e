"""ICU occupancy of a jurisdiction: ``icu_capacity_low``.

At an instant T the jurisdiction's ICU ratio is the sum, over the sites that reported the
rulebook's ``icu.item`` (``bed.icu``: free beds, EDXL-HAVE AvailableCount) with a
``baseline`` in their latest snapshot at or before T, of free beds over the sum of those
baselines (None: no such site), each sum with the beds acked conversions opened at or
before T (:mod:`streams.core.icu_line`). A site whose latest snapshot carries no baseline
counts in neither sum. The ratio is evaluated at every instant some site reported and at
every opening; the alert is raised at each reported instant where the ratio is below
``icu.threshold`` and the instant before was not (the first instant counts as not low; an
opening only raises the ratio, so it raises none itself). As ``stock_low``, the alerts
depend on the snapshots and the conversions, not on their arrival: a late snapshot
re-evaluates the instants from its own time to that site's next snapshot, a changed
conversion every instant from its opening, and what no longer holds is retracted.
"""

from __future__ import annotations

from typing import Any

from streams.core.alerts import alert, show
from streams.core.compiled import Compiled
from streams.core.icu_line import IcuFigures, IcuLine
from streams.core.state import NO_TIME, Namespace
from topics.outputs import Alert


def icu_changed(
    ns: Namespace,
    jurisdiction: str,
    line: IcuLine,
    span: tuple[int, int],
    *,
    comp: Compiled,
    out: list[Any],
) -> None:
    """The figures of ``line`` may have changed at the instants of ``span`` (from, to;
    inclusive; NEVER: every later one): re-evaluate the alerts there. A snapshot at ``t``
    spans ``t`` to the site's next snapshot; a conversion that came or went, its opening
    onwards."""
    threshold = comp.icu_threshold
    if threshold is None:
        return
    t, end = span
    openings = [c.opens_at for c in line.conversions()]
    reported = [at for at in sorted(line.points_from(t)) if at <= end]
    before = max([line.last_before(t), *(o for o in openings if o < t)])
    was_low = before != NO_TIME and _low(line.figures(before), threshold)
    for at in sorted({*reported, *(o for o in openings if t <= o <= end)}):
        figures = line.figures(at)
        low = _low(figures, threshold)
        if at in reported:
            opened = line.opened(at)
            wanted: tuple[tuple[Any, ...], ...] = ()
            if low and not was_low and figures is not None:
                wanted = ((at, *figures, opened) if opened else (at, *figures),)
            _show(ns, jurisdiction, (line.item, at, threshold), wanted, out)
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
        t, free, base, *opened = params  # opened: the converted beds among them, if any
        ratio = free / base
        details = {"item": item, "free": free, "baseline": base, "ratio": ratio}
        with_converted = ""
        if opened:
            details["converted"] = opened[0]
            with_converted = f" (converted beds: {opened[0]:g})"
        return alert(
            ns,
            jurisdiction,
            "icu_capacity_low",
            "orange",
            about=(item, *params),
            at=t,
            message=(
                f"{item} in {jurisdiction}: {free:g} free of {base:g}{with_converted} "
                f"({ratio:.0%}, below {threshold:.0%})"
            ),
            details=details,
            subject=f"{jurisdiction}/{item}",
            gone=gone,
        )

    show(ns, subject, wanted, build, out)
