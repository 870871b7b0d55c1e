"""`tierflow registry check FILE…`: validate facility registries, print every error or a
summary."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

from streams.commands import term
from streams.commands.rules import check_each

registry_app = typer.Typer(help="Validate facility registries.", no_args_is_help=True)


@registry_app.command("check")
def check(
    files: Annotated[
        list[Path], typer.Argument(help="facility registry files to validate (YAML, or CSV: *.csv)")
    ],
) -> None:
    """Validate each registry: print ``FILE:LINE: path: reason`` for every error and exit 1,
    or print its version and its facilities by jurisdiction and designation."""
    from streams.core.rulebook_loader import load_registry

    check_each(files, load_registry, _summary)


def _summary(out: Any, path: str, registry: Any) -> None:
    from rich.table import Table

    out.print(
        term.labelled(
            f"{path}:",
            "bold",
            f"registry version {registry.version} OK: {len(registry.facilities)} facilities",
        )
    )
    counts = Counter((f.jurisdiction, f.designation) for f in registry.facilities)
    table = Table("jurisdiction", "designated", "reserve", "none", title="facilities")
    for jurisdiction in sorted({j for j, _ in counts}):
        table.add_row(
            jurisdiction,
            *(str(counts[(jurisdiction, d)]) for d in ("designated", "reserve", "none")),
        )
    out.print(table)
