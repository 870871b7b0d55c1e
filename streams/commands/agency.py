"""`tierflow agency add|list|rotate|revoke`: agencies, their Kafka principals and keys."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, cast, get_args

import typer
from rich.table import Table

from streams.commands import term
from streams.config.settings import load_settings
from topics.errors import TierflowError
from topics.vocabulary import AgencyType

agency_app = typer.Typer(
    help="Agencies: Kafka credentials and ACLs, signing keys.", no_args_is_help=True
)
console = term.console()
errors = term.console(stderr=True)
TYPES = get_args(AgencyType)

OutDir = Annotated[
    Path, typer.Option("--out", help="folder for ID.properties and ID.key (mode 0600)")
]


def _fail(exc: TierflowError) -> typer.Exit:
    errors.print(term.error(exc))
    return typer.Exit(1)


@agency_app.command("add")
def add(
    agency_id: Annotated[
        str, typer.Argument(metavar="ID", help="the agency's id (source.agency_id)")
    ],
    agency_type: Annotated[str, typer.Option("--type", help=f"one of {', '.join(TYPES)}")],
    out: OutDir,
    name: Annotated[str | None, typer.Option(help="a name people read")] = None,
    jurisdiction: Annotated[
        str | None,
        typer.Option(
            help="its area, a province (2 digits), city (4) or county (6) code: its"
            " declarations of a tier count only there (default: anywhere)"
        ),
    ] = None,
) -> None:
    """Create the agency's Kafka credentials (SCRAM-SHA-512), its ACLs (write the inputs,
    read the outputs) and its signing key; write OUT/ID.properties (kcat -F) and OUT/ID.key."""
    from streams.ops.agencies import add_agency

    if agency_type not in TYPES:
        errors.print(term.error(f"--type {agency_type!r}: one of {', '.join(TYPES)}"))
        raise typer.Exit(2)
    try:
        kind = cast("AgencyType", agency_type)  # checked against TYPES above
        properties, key = add_agency(load_settings(), agency_id, kind, name, out, jurisdiction)
    except TierflowError as exc:
        raise _fail(exc) from exc
    console.print(f"agency {agency_id} ({agency_type}): {properties}, {key}")


@agency_app.command("list")
def list_agencies() -> None:
    """Agencies and their keys (never the secrets)."""
    from topics.agencies import load_registry

    try:
        registry = load_registry(load_settings().agency_registry())
    except TierflowError as exc:
        raise _fail(exc) from exc
    table = Table("agency", "type", "area", "name", "state", "keys in force", "revoked keys")
    for agency in sorted(registry.agencies.values(), key=lambda a: a.agency_id):
        keys = registry.keys_of(agency.agency_id)
        table.add_row(
            agency.agency_id,
            agency.agency_type,
            agency.jurisdiction or "any",
            agency.name,
            "revoked" if agency.revoked_at else "active",
            " ".join(k.kid for k in keys if k.revoked_at_offsets is None),
            " ".join(k.kid for k in keys if k.revoked_at_offsets is not None),
        )
    console.print(table)


@agency_app.command("rotate")
def rotate(
    agency_id: Annotated[str, typer.Argument(metavar="ID")],
    out: OutDir,
) -> None:
    """A new signing key (OUT/ID.key); the old ones stay valid until `agency revoke --key`."""
    from streams.ops.agencies import rotate_key

    try:
        key, path = rotate_key(load_settings(), agency_id, out)
    except TierflowError as exc:
        raise _fail(exc) from exc
    console.print(f"agency {agency_id}: new key {key.kid} in {path}")


@agency_app.command("revoke")
def revoke(
    agency_id: Annotated[str, typer.Argument(metavar="ID")],
    key: Annotated[
        str | None, typer.Option("--key", help="revoke this key id only (after a rotation)")
    ] = None,
) -> None:
    """Revoke the agency (credentials, ACLs and keys) or one of its keys: records it signs
    from now on go to the DLQ; records already in the log stay accepted."""
    from streams.ops.agencies import revoke as revoke_agency

    try:
        revoked = revoke_agency(load_settings(), agency_id, key)
    except TierflowError as exc:
        raise _fail(exc) from exc
    what = f"key {key}" if key else "agency"
    console.print(f"{agency_id}: {what} revoked (keys {', '.join(revoked) or 'none in force'})")
