"""The board's cells that say what a tier is: badges, declared beside recommended tiers,
decision lags and the tier timeline in one line."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.text import Text

from sinks.display import LocalTime

TIER_STYLE = {
    "I": "bold white on red",
    "II": "bold black on dark_orange",
    "III": "bold black on yellow",
    "IV": "bold white on blue",
}
TIER_NAME = {"I": "I 特别重大", "II": "II 重大", "III": "III 较大", "IV": "IV 一般"}
Cell = Text | str
Row = tuple[Cell, ...]


def tier_badge(tier: str | None, *, warning: bool = False, stood_down: bool = False) -> Text:
    if tier is not None:
        return Text(f" {TIER_NAME.get(tier, tier)} ", style=TIER_STYLE.get(tier, ""))
    if warning:
        return Text("warning", style="bold magenta")
    return Text("stood down" if stood_down else "-", style="dim")


def lag_text(seconds: float) -> str:
    """A decision lag, short: ``15m``, ``3h05``, ``2d03h``."""
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes}m"
    if minutes < 24 * 60:
        return f"{minutes // 60}h{minutes % 60:02d}"
    return f"{minutes // (24 * 60)}d{minutes % (24 * 60) // 60:02d}h"


def declared_cell(row: dict[str, Any]) -> Text:
    """The declared tier beside the recommended one: ``II +15m`` (declared, and how long
    after its recommendation), ``undeclared`` (red) while the rules recommend a tier no
    one has declared, ``-`` otherwise."""
    declared, lag = row.get("declared_tier"), row.get("decision_lag_s")
    if declared is None:
        if row.get("tier") is not None:
            return Text("undeclared", style="bold red")
        return Text("-", style="dim")
    text = Text(f" {declared} ", style=TIER_STYLE.get(declared, ""))
    if lag is not None:
        text.append(f"+{lag_text(lag)}")
    return text


def timeline_text(changes: Sequence[dict[str, Any]], clock: LocalTime) -> str:
    """``IV 03-02 09:18 → III 09:37 → II 03-03 01:52``: the date only when it changes."""
    parts, last_day = [], None
    for change in changes:
        local = clock.local(change["effective_at"])
        day = local.strftime("%m-%d")
        at = local.strftime("%H:%M") if day == last_day else f"{day} {local:%H:%M}"
        parts.append(f"{change['tier'] or 'stood down'} {at}")
        last_day = day
    return " → ".join(parts) or "-"


def forecast_row(row: dict[str, Any], name: str) -> Row:
    """One incident's forecast (a FORECASTS row): its weekly counts, the doubling time
    (undefined without growth) and when its ICU demand outgrows the beds it can have."""
    doubling = row["doubling_days"]
    days = row["icu_days_to_exceed"]
    capacity = row["icu_capacity"]
    if days is None:
        icu = Text("-", style="dim")
    else:
        style = "bold red" if days <= 7 else "dark_orange" if days <= 14 else "green"
        icu = Text(f"in {days:.0f} d", style=style)
    return (
        name,
        f"{row['confirmed_window_before']:.0f} → {row['confirmed_window']:.0f}",
        Text("no growth", style="dim") if doubling is None else f"{doubling:.1f} d",
        f"{row['critical']:.0f}" + ("" if capacity is None else f" / {capacity:.0f}"),
        icu,
    )
