"""The facility registry as CSV (issue 15 item 3): the same rows and the same validation as
the YAML form (:mod:`streams.core.registry`), for registries kept in a spreadsheet.

The file: comment lines start with ``#``; one of them is ``# version: <version>`` (the
registry's version, required). The first other line is the header, naming columns among
``id, name, type, designation, level, lat, lon, jurisdiction`` (``id``, ``name`` and
``jurisdiction`` required; ``lat`` and ``lon`` together or neither); every later line is a
facility. An empty cell is a missing value (the field's default, or the error a required
field gives). Every problem is reported with the file's line and the row's field
(``facilities[2].designation``), as the YAML form reports them.
"""

from __future__ import annotations

import csv
from typing import Any

from pydantic import ValidationError

from streams.core.facilities import Registry
from streams.core.registry import RegistryError, cross_checks
from streams.core.rulebook import Problem
from topics.codec import error_path

COLUMNS = ("id", "name", "type", "designation", "level", "lat", "lon", "jurisdiction")
REQUIRED = ("id", "name", "jurisdiction")
VERSION = "# version:"


def parse_registry_csv(text: str, source: str = "<registry.csv>") -> Registry:
    """Validate CSV text as a facility registry; raise :class:`RegistryError` with every
    problem, each naming its line."""
    version: str | None = None
    version_line = 1
    rows: list[tuple[int, list[str]]] = []
    for number, fields in _lines(text):
        first = fields[0].strip() if fields else ""
        if first.startswith("#"):
            if ",".join(fields).lower().startswith(VERSION):
                version, version_line = ",".join(fields)[len(VERSION) :].strip(), number
            continue
        if any(f.strip() for f in fields):
            rows.append((number, fields))
    if not rows:
        raise RegistryError(source, [Problem("", "no header line (id,name,…,jurisdiction)", 1)])
    (header_line, header), body = rows[0], rows[1:]
    columns = [c.strip() for c in header]
    problems = _header_problems(columns, header_line)
    if problems:
        raise RegistryError(source, problems)
    facilities: list[dict[str, Any]] = []
    lines: list[int] = []
    for number, fields in body:
        if len(fields) != len(columns):
            problems.append(
                Problem(
                    f"facilities[{len(facilities)}]",
                    f"{len(fields)} fields where the header has {len(columns)}",
                    number,
                )
            )
        facilities.append(_facility(dict(zip(columns, fields, strict=False))))
        lines.append(number)
    if problems:
        raise RegistryError(source, problems)
    data = {"version": version, "facilities": facilities}
    try:
        registry = Registry.model_validate(data)
    except ValidationError as exc:
        raise RegistryError(
            source,
            [
                Problem(_csv_path(err["loc"]), err["msg"], _line(err["loc"], lines, version_line))
                for err in exc.errors(include_url=False)
            ],
        ) from exc
    found = [
        Problem(error_path(loc), message, _line(loc, lines, version_line))
        for loc, message in cross_checks(registry)
    ]
    if found:
        raise RegistryError(source, found)
    return registry


def _lines(text: str) -> list[tuple[int, list[str]]]:
    """(line number, fields) of each CSV record (a quoted field may span lines: the
    record's first line)."""
    reader = csv.reader(text.splitlines(keepends=True))
    out: list[tuple[int, list[str]]] = []
    start = 1
    for fields in reader:
        out.append((start, fields))
        start = reader.line_num + 1
    return out


def _header_problems(columns: list[str], line: int) -> list[Problem]:
    problems = [
        Problem(column or f"column {i + 1}", f"unknown column (known: {', '.join(COLUMNS)})", line)
        for i, column in enumerate(columns)
        if column not in COLUMNS
    ]
    problems += [
        Problem(column, "column appears twice in the header", line)
        for i, column in enumerate(columns)
        if column in columns[:i]
    ]
    problems += [
        Problem(column, "required column missing from the header", line)
        for column in REQUIRED
        if column not in columns
    ]
    if ("lat" in columns) != ("lon" in columns):
        problems.append(Problem("lat, lon", "give both columns or neither", line))
    return problems


def _facility(cells: dict[str, str]) -> dict[str, Any]:
    """A row's cells as the YAML form's mapping: empty cells left out, lat and lon as its
    ``location``."""
    row: dict[str, Any] = {k: v.strip() for k, v in cells.items() if v.strip()}
    lat, lon = row.pop("lat", None), row.pop("lon", None)
    if lat is not None or lon is not None:
        row["location"] = {"lat": lat, "lon": lon}
    return row


def _csv_path(loc: tuple[int | str, ...]) -> str:
    """The field a validation error names, as the CSV has it (``location.lat`` is ``lat``)."""
    if loc[:1] == ("facilities",) and len(loc) >= 4 and loc[2] == "location":
        loc = (*loc[:2], *loc[3:])
    return error_path(loc)


def _line(loc: tuple[int | str, ...], lines: list[int], version_line: int) -> int:
    if len(loc) >= 2 and loc[0] == "facilities" and isinstance(loc[1], int):
        return lines[loc[1]]
    return version_line
