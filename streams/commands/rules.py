"""`tierflow rules check FILE…`: validate rulebooks, print every error or a summary."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from streams.commands import term

rules_app = typer.Typer(help="Validate and inspect rulebooks.", no_args_is_help=True)


@rules_app.command("check")
def check(
    files: Annotated[list[Path], typer.Argument(help="rulebook YAML files to validate")],
) -> None:
    """Validate each rulebook: print ``FILE:LINE: path: reason`` for every error and exit 1,
    or print a summary of its tiers, diseases and rules."""

    from streams.core.rulebook_loader import load_rulebook

    check_each(files, load_rulebook, _summary)


def check_each(
    files: list[Path], load: Callable[[Path], Any], summary: Callable[[Any, str, Any], None]
) -> None:
    """``load`` each file: print ``summary(console, path, loaded)``, or every problem of
    a file that does not validate, one a line, and exit 1 at the end."""
    from streams.core.rulebook import RulebookError

    out = term.console()
    failed = False
    for path in files:
        try:
            loaded = load(path)
        except RulebookError as exc:  # a RegistryError too
            failed = True
            for line in str(exc).splitlines():
                typer.echo(line, err=True)  # plain: one error per line, never wrapped
            continue
        summary(out, str(path), loaded)
    if failed:
        raise typer.Exit(1)


def _summary(out: object, path: str, book: object) -> None:
    from rich.console import Console
    from rich.table import Table

    from streams.core.rulebook import Rulebook

    assert isinstance(out, Console) and isinstance(book, Rulebook)
    out.print(
        term.labelled(
            f"{path}:", "bold", f"rulebook {book.name or '(unnamed)'} version {book.version} OK"
        )
    )
    tiers = Table("tier", "name", "color", "rules", "plan tasks", title="tiers")
    for t in book.tiers:
        tiers.add_row(
            t.tier,
            t.name,
            t.color,
            str(sum(r.tier == t.tier for r in book.rules)),
            str(len(book.plan.get(t.tier, ()))),
        )
    out.print(tiers)
    diseases = Table("code", "name", "class", "max incubation (d)", title="diseases")
    for code, d in book.diseases.items():
        cls = d.disease_class + (" (managed as A)" if d.managed_as_a else "")
        diseases.add_row(code, d.name, cls, f"{d.max_incubation_days:g}")
    out.print(diseases)
    rules = Table("id", "tier", "applies to", "condition", title="rules")
    for r in book.rules:
        applies = ", ".join(r.diseases or r.categories or ())
        conds = " and ".join(
            f"{c.metric} >= {c.threshold:g}"
            + (f" (at >= {c.ratio:g}x baseline)" if c.ratio is not None else "")
            + (f" in {c.window:g} d" if isinstance(c.window, float) else "")
            + (" in one incubation period" if c.window == "incubation" else "")
            + (" per county" if c.scope == "county" else "")
            for c in (r, *r.also)
        )
        rules.add_row(r.id, r.tier, applies, conds)
    out.print(rules)
    out.print(
        f"warnings: {len(book.warnings)}, roll-up rules: {len(book.rollup)}, "
        f"baselines for {len(book.baselines)} diseases, "
        f"reporting limit: {book.reporting_limit_hours:g} h, stock alerts below "
        f"{book.stock.yellow_days:g}/{book.stock.orange_days:g}/{book.stock.red_days:g} "
        "days of cover"
    )
    res = book.resources
    registry = res.facilities
    out.print(
        "resources: staffing "
        + (", ".join(f"{m.staff} {m.min_per_bed:g}/{m.per}" for m in res.staffing) or "none")
        + "; stockpile "
        + (", ".join(f"{s.item} {s.target_days:g} d ({s.agency})" for s in res.stockpile) or "none")
        + "; facility registry "
        + (f"{registry.version} ({len(registry.facilities)})" if registry else "none")
        + "; surge "
        + (
            f"{res.surge.item} at declared {res.surge.level}, {res.surge.lead_hours:g} h"
            if res.surge
            else "none"
        )
    )
