"""What one decoded event may claim: the rulebook's ``input_checks`` and ``authority``.

Every reason starts with a fixed phrase and a colon (``occurred after reported: …``): the
DLQ's metrics and ``tierflow dlq list`` group rejections by what comes before it.

:func:`input_problem` is pure and looks at the event alone (no state), so both shells ask
it right after decoding and send a failing event to the DLQ with the reason, and the core
asks it again and skips such an event (a caller that skipped the shells' check still
cannot move a tier with it). What the wire schema refuses by itself (negative counts,
``dead`` > ``total``, NaN, dates outside 2000-2100, an ``eta`` before ``occurred_at``) never
gets here: :mod:`topics.models` rejects it while decoding.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from streams.core.compiled import Compiled
from topics.models import IncidentEvent, StockEvent

Problem = tuple[str | None, str]  # (field path, reason a person can act on)


def _span(delta: timedelta) -> str:
    minutes = delta.total_seconds() / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    if minutes < 2 * 1440:
        return f"{minutes / 60:.1f} h"
    return f"{minutes / 1440:.0f} days"


def input_problem(event: Any, comp: Compiled) -> Problem | None:
    """Why ``event`` (an input event) must not be decided on, or None when it may."""
    ahead = event.occurred_at - event.reported_at
    if ahead > comp.occurred_slack:
        return (
            "occurred_at",
            f"occurred after reported: occurred_at {event.occurred_at.isoformat()} is "
            f"{_span(ahead)} after reported_at "
            f"{event.reported_at.isoformat()} (allowed: {_span(comp.occurred_slack)}); "
            "an event cannot be reported before it happens: correct the time and publish again",
        )
    return value_problem(event, comp)


def received_problem(event: Any, received_at: datetime, comp: Compiled) -> Problem | None:
    """Why ``event`` claims a time its record cannot have, given when the broker received
    the record (its LogAppendTime stamp), or None. An agency cannot report after its record
    reached the broker: a ``reported_at`` later than that by more than the rulebook allows
    (clocks drift) is wrong or hostile data, and would carry the jurisdiction's clock
    forward with it (tasks overdue, tiers stood down, on one record's word)."""
    ahead = event.reported_at - received_at
    if ahead > comp.received_slack:
        return (
            "reported_at",
            f"reported after received: reported_at {event.reported_at.isoformat()} is "
            f"{_span(ahead)} after the broker received the record at "
            f"{received_at.isoformat()} (allowed: {_span(comp.received_slack)}); "
            "the sender's clock is wrong: correct it and publish again",
        )
    return None


def value_problem(event: Any, comp: Compiled) -> Problem | None:
    """:func:`input_problem` but the event-time check (the core checks that in integers)."""
    kind = type(event)
    if kind is IncidentEvent:
        return _incident_problem(event, comp)
    if kind is StockEvent:
        return _stock_problem(event, comp)
    return None


def _incident_problem(event: IncidentEvent, comp: Compiled) -> Problem | None:
    if event.msg_type != "Ack":
        allowed = comp.categories.get(event.source.agency_type)
        if allowed is not None and event.category not in allowed:
            return (
                "category",
                f"category not authorised: a {event.source.agency_type} agency may not report "
                f"{event.category} "
                f"incidents (rulebook authority.categories allows: {', '.join(sorted(allowed))})",
            )
    casualties = event.casualties
    if casualties is not None and casualties.total > comp.max_casualties:
        return (
            "casualties.total",
            f"above a rulebook bound: casualties.total {casualties.total} is above "
            f"input_checks.max_casualties {comp.max_casualties}: check the count",
        )
    return None


def _stock_problem(event: StockEvent, comp: Compiled) -> Problem | None:
    known = comp.facilities.by_id.get(event.site_id)
    if known is not None and not event.region.startswith(known.jurisdiction):
        # a registered site reports its own levels: beds counted in another city would
        # fill that city's ICU line and redirect its patients to a hospital not there
        return (
            "region",
            f"site outside its registered jurisdiction: {event.site_id} ({known.name}) is "
            f"in {known.jurisdiction} by facility registry {comp.facilities.version}, the "
            f"record says region {event.region}: publish the site's own region, or correct "
            "the registry",
        )
    if event.convertible is not None and not event.item.startswith("bed."):
        return (
            "convertible",
            f"convertible is for beds: {event.item} is not a bed.* item "
            "(convertible counts beds a hospital can open within the surge lead time)",
        )
    for name in ("on_hand", "baseline", "received", "convertible"):
        value = getattr(event, name)
        if value is not None and value > comp.max_stock:
            return (
                name,
                f"above a rulebook bound: {name} {value:g} is above input_checks.max_stock "
                f"{comp.max_stock:g}: check the count and its unit",
            )
    baseline = event.baseline
    if baseline is not None and event.on_hand > baseline * comp.on_hand_over_baseline:
        return (
            "on_hand",
            f"on_hand above baseline: on_hand {event.on_hand:g} is more than "
            f"{comp.on_hand_over_baseline:g} x baseline "
            f"{baseline:g} (input_checks.on_hand_over_baseline): check both counts",
        )
    return None
