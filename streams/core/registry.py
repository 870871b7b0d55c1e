"""The facility registry (issue 15 item 3): versioned reference data, YAML validated by
pydantic with errors that name their path and line, as the rulebook's
(``tierflow registry check FILE``).

One row a facility: id (the ``site_id`` / ``facility_id`` its events carry), name, type,
designation (``designated`` 定点 | ``reserve`` 后备定点 | ``none``), level (tertiary 三级,
secondary 二级, primary 一级, other), location and jurisdiction (a city, 4 digits, or a
county, 6 digits, of GB/T 2260).
"""

from __future__ import annotations

from streams.core.facilities import Registry
from streams.core.rulebook import RulebookError, parse_yaml


class RegistryError(RulebookError):
    """A registry that does not validate; ``problems`` lists every error with its path."""


def parse_registry(text: str, source: str = "<registry>") -> Registry:
    """Validate YAML text as a facility registry; raise :class:`RegistryError` with every
    problem."""
    return parse_yaml(text, source, Registry, cross_checks, RegistryError)


def cross_checks(registry: Registry) -> list[tuple[tuple[int | str, ...], str]]:
    """What the schema cannot say: each facility id once."""
    seen: dict[str, int] = {}
    found: list[tuple[tuple[int | str, ...], str]] = []
    for i, facility in enumerate(registry.facilities):
        if facility.id in seen:
            found.append(
                (
                    ("facilities", i, "id"),
                    f"duplicate facility id {facility.id!r} (facilities[{seen[facility.id]}])",
                )
            )
        seen.setdefault(facility.id, i)
    return found
