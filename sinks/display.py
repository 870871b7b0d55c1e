"""How the command view's rows read to people, the same on the board and in the report.

- **Incidents by name**: disease (or category) and place, ``cholera · Chengdu``; ids are
  for machines and shown only on demand. Two incidents of one name get the start of
  their ids to tell them apart.
- **Local time with its zone**: ClickHouse holds UTC; people read the display zone
  (setting ``DISPLAY_TZ``, default Asia/Shanghai), and every view names it once.
- **Only what can be shown**: a control character or a bidirectional override an agency
  put in a field is shown escaped (``\x1b``), never acted on by the terminal.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

from topics.regions import place_name

# What a terminal acts on rather than shows: C0 and C1 controls (ESC starts a screen
# command, a newline breaks a row), DEL, and the marks, overrides and isolates that
# reorder the text around them ("Trojan Source").
_UNSHOWN = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _escaped(found: re.Match[str]) -> str:
    return found.group(0).encode("unicode_escape").decode("ascii")


def printable(value: Any) -> Any:
    """``value`` as a view may print it: in a string (or a list or tuple of them) every
    character of :data:`_UNSHOWN` written as its escape; anything else as it is."""
    if isinstance(value, str):
        return _UNSHOWN.sub(_escaped, value)
    if isinstance(value, list | tuple):
        return type(value)(printable(item) for item in value)
    return value


def incident_name(row: Mapping[str, Any], *, chinese: Mapping[str, str] | None = None) -> str:
    """``disease · place`` of an incident row (``category`` when it has no disease).
    ``chinese`` (disease code → Chinese name, from the rulebook) also gives the Chinese
    names of the disease and the place: ``霍乱 cholera · 成都市 Chengdu``."""
    disease: str = row.get("disease") or ""
    what = (disease or row.get("category") or "incident").replace("_", " ")
    if chinese is not None and disease in chinese:
        what = f"{chinese[disease]} {what}"
    return f"{what} · {place_name(row.get('jurisdiction') or '', chinese=chinese is not None)}"


def unique_names(rows: Sequence[Mapping[str, Any]], **options: Any) -> dict[str, str]:
    """incident_id → name for ``rows``; names two incidents share get ``#`` and the
    first 6 characters of their ids (``cholera · Chengdu #141e1f``)."""
    names = {row["incident_id"]: incident_name(row, **options) for row in rows}
    shared = Counter(names.values())
    return {
        incident: f"{name} #{incident[:6]}" if shared[name] > 1 else name
        for incident, name in names.items()
    }


@dataclass(frozen=True)
class LocalTime:
    """Formats instants in one zone; naive values are UTC (what clickhouse-connect
    returns for ``DateTime64(3, 'UTC')`` columns)."""

    zone: tzinfo

    def local(self, value: datetime) -> datetime:
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return aware.astimezone(self.zone)

    def short(self, value: datetime | None) -> str:
        """``03-02 09:52`` (``-`` for none)."""
        return self.local(value).strftime("%m-%d %H:%M") if value else "-"

    def full(self, value: datetime | None) -> str:
        """``2026-03-02 09:52:00`` (``-`` for none)."""
        return self.local(value).strftime("%Y-%m-%d %H:%M:%S") if value else "-"

    def label(self, at: datetime) -> str:
        """The zone as people read it, with its offset at ``at``:
        ``Asia/Shanghai (UTC+08:00)``."""
        offset = self.local(at).strftime("%z")
        utc = f"UTC{offset[:3]}:{offset[3:]}"
        name = str(self.zone)
        return utc if name in ("UTC", utc) else f"{name} ({utc})"
