"""Names of GB/T 2260 administrative divisions, for people (the board, the report).

The wire and the core carry codes only; this table (``topics/reference/regions.yaml``)
turns a province (2 digits), city (4) or county (6) code into its name. It holds the
divisions the scenarios and tests use; an unknown code is shown as the code itself, so
a missing entry never hides where something happened. The file is validated by
pydantic when first read: keys are codes of the right shape whose parent division is in
the table too, errors name the key.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Annotated

import yaml
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from topics.errors import TierflowError

REGIONS_FILE = Path(__file__).parent / "reference" / "regions.yaml"
NATION = "nation"  # the national roll-up stage's jurisdiction
_CODE = re.compile(r"^[1-8]\d(\d\d){0,2}$")  # province, city or county


class RegionTableError(TierflowError):
    """The region table does not validate."""


class Division(BaseModel):
    """One administrative division: its official name and its usual English form."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: Annotated[str, StringConstraints(min_length=1)]
    name_en: Annotated[str, StringConstraints(min_length=1)]


def parse_regions(text: str, source: str = "<regions>") -> dict[str, Division]:
    """The table from YAML text; raises :class:`RegionTableError` naming every bad key."""
    data = yaml.safe_load(text)
    if not isinstance(data, dict):
        raise RegionTableError(f"{source}: a mapping of GB/T 2260 codes to names")
    problems: list[str] = []
    table: dict[str, Division] = {}
    for key, value in data.items():
        code = str(key)
        if not isinstance(key, str) or not _CODE.match(code):
            problems.append(f"{code}: not a quoted 2-, 4- or 6-digit GB/T 2260 code")
            continue
        try:
            table[code] = Division.model_validate(value)
        except ValidationError as exc:
            problems += [
                f"{code}.{'.'.join(map(str, e['loc']))}: {e['msg']}"
                for e in exc.errors(include_url=False)
            ]
    problems += [
        f"{code}: its parent division {code[:-2]} is not in the table"
        for code in table
        if len(code) > 2 and code[:-2] not in table
    ]
    if problems:
        raise RegionTableError("\n".join(f"{source}: {p}" for p in problems))
    return table


@cache
def regions() -> dict[str, Division]:
    """The shipped table (read and validated once)."""
    return parse_regions(REGIONS_FILE.read_text(encoding="utf-8"), str(REGIONS_FILE))


def place_name(code: str, *, chinese: bool = False) -> str:
    """A jurisdiction or region code as people say it: ``5101`` → ``Chengdu`` (with
    ``chinese``: ``成都市 Chengdu``); ``nation`` → ``national``; unknown codes as given."""
    if code == NATION:
        return "national"
    division = regions().get(code)
    if division is None:
        return code
    return f"{division.name} {division.name_en}" if chinese else division.name_en
