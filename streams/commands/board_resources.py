"""The board's resource sections: beds (free, convertible, converted), staff and teams,
forecasts, transfers, redirects and stock with its days of cover."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from sinks.display import unique_names
from streams.commands.board_cells import Row, forecast_row
from streams.commands.board_layout import Column, Section, View
from topics.regions import place_name


def _share(free: float | None, total: float | None) -> Text:
    if free is None:
        return Text("-", style="dim")
    if not total:
        return Text(f"{free:.0f} free")
    ratio = free / total
    style = "bold red" if ratio < 0.05 else "dark_orange" if ratio < 0.15 else "green"
    return Text(f"{free:.0f}/{total:.0f}", style=style)


def beds_section(view: View) -> Section:
    by_site: dict[str, dict[str, dict[str, Any]]] = {}
    for row in view.board.beds:
        by_site.setdefault(row["site_id"], {})[row["item"]] = row
    rows: list[Row] = []
    for site, items in sorted(by_site.items(), key=lambda kv: _pressure(kv[1])):
        icu, iso = items.get("bed.icu", {}), items.get("bed.isolation", {})
        latest = max(r["latest_at"] for r in items.values())
        rows.append(
            (
                site,
                _share(icu.get("free"), icu.get("baseline")).append(_convertible(icu)),
                _converted(icu),
                _share(iso.get("free"), iso.get("baseline")).append(_convertible(iso)),
                view.clock.short(latest),
            )
        )
    columns = (
        Column("hospital", ratio=1),
        Column("ICU free/beds", width=13, justify="right"),
        Column("converted", width=9, justify="right"),
        Column("isolation free/beds", width=19, justify="right"),
        Column("as of", width=11),
    )
    return Section(
        "Beds free of capacity (+ convertible within the surge lead time)", columns, rows
    )


def _converted(row: dict[str, Any]) -> str:
    """The ICU beds an acked conversion opened at the hospital (平战转换), besides the beds
    it reports; nothing when none did."""
    beds = row.get("converted")
    return f"{beds:g}" if beds else ""


def _convertible(row: dict[str, Any]) -> str:
    """`` +N`` for the beds a hospital can open (平战转换), nothing when it reported none."""
    beds = row.get("convertible")
    return f" +{beds:g}" if beds else ""


def staff_section(view: View) -> Section:
    """Staff and teams available now, by jurisdiction (each site's latest count, summed)."""
    columns = (
        Column("jurisdiction", width=12),
        Column("staff / team", ratio=1),
        Column("available", width=9, justify="right"),
        Column("sites", width=5, justify="right"),
        Column("as of", width=11),
    )
    rows: list[Row] = [
        (r["jurisdiction"], r["item"], f"{r['available']:g}", str(r["sites"]),
         view.clock.short(r["latest_at"]))
        for r in view.board.staff
    ]  # fmt: skip
    return Section("Staff and teams by jurisdiction", columns, rows)


def _pressure(items: dict[str, dict[str, Any]]) -> float:
    """Sort key: the hospital's lowest share of free beds first."""
    shares = [r["free"] / r["baseline"] for r in items.values() if r.get("baseline")]
    return min(shares, default=1.0)


def _cover(days: float | None) -> Text:
    if days is None:
        return Text("-", style="dim")
    style = (
        "red" if days < 7 else "dark_orange" if days < 14 else "yellow" if days < 30 else "green"
    )
    return Text(f"{days:.1f} d", style=style)


def logistics_sections(view: View) -> list[Section]:
    board, short = view.board, view.clock.short
    transfers = Section(
        "Transfers in flight",
        (
            Column("transfer", ratio=1),
            Column("triage", width=9),
            Column("from → to", ratio=2),
            Column("bed", width=9),
            Column("state", width=10),
            Column("eta", width=11),
        ),
        [
            (
                r["transfer_id"],
                r["triage"] or "-",
                f"{r['from_facility']} → {r['to_facility']}",
                r["required_bed"],
                r["transfer_status"],
                short(r["eta"]),
            )
            for r in board.transfers
        ],
    )
    # "by": the city's own redirect, or its province's into another city (issue 15)
    redirects = Section(
        "Capacity redirects",
        (
            Column("transfer", ratio=1),
            Column("by", width=10),
            Column("at", width=11),
            Column("redirect", ratio=3),
        ),
        [
            (r["subject_id"], place_name(r["jurisdiction"]), short(r["at"]), r["message"])
            for r in board.redirects
        ],
    )
    stock = Section(
        "Stock days of cover (target 30 d)",
        (
            Column("site", ratio=1),
            Column("item", ratio=1),
            Column("on hand", width=9, justify="right"),
            Column("cover", width=9, justify="right"),
            Column("full load", width=9, justify="right"),
            Column("as of", width=11),
        ),
        [
            (
                r["site_id"],
                r["item"],
                f"{r['latest_on_hand']:.0f}",
                _cover(r["latest_days_of_cover"]),
                _cover(r["latest_days_at_full_load"]),
                short(r["latest_at"]),
            )
            for r in board.stock
        ],
    )
    return [transfers, redirects, stock]


def forecast_section(view: View) -> Section:
    """Each open incident's growth and ICU outlook (streams/core/forecast.py)."""
    names = unique_names(view.board.forecasts)
    columns = (
        Column("incident", ratio=1),
        Column("week before → week", width=18),
        Column("doubling", width=9, justify="right"),
        Column("critical / ICU cap.", width=19, justify="right"),
        Column("ICU full", width=9, justify="right"),
    )
    rows = [forecast_row(r, names[r["incident_id"]]) for r in view.board.forecasts]
    return Section("Forecasts", columns, rows)
