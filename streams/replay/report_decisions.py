"""Declarations in the after-action report: who declared which tier when, and the
**decision lag** of each: the declaration's time minus the effective time of the
recommendation of that tier (the latest recommended change to the same tier at or before
the declaration; none when the leading group declared a tier the rules had not
recommended by then). The question reviews exist for: how long from the evidence to the
decision? Pure functions of the landed rows (``tier_timeline``, ``basis``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class DeclarationRow:
    """One declared tier change (``tier`` None: stood down)."""

    declared_at: datetime
    tier: str | None
    previous_tier: str | None
    declared_by: str | None
    reason: str
    lag: timedelta | None  # None: no recommendation of that tier before it


@dataclass(frozen=True)
class DecisionLags:
    """Median (upper) and worst decision lag over the review's declarations."""

    median: timedelta | None = None
    worst: timedelta | None = None
    declarations: int = 0
    without_recommendation: int = 0  # declared ahead of (or against) the rules


def is_declared(row: dict[str, Any]) -> bool:
    """Whether a tier_timeline row is a declaration (rows before migration 0006: no)."""
    return row.get("basis") == "declared"


def declarations(
    declared: Iterable[dict[str, Any]], recommended: Sequence[tuple[datetime, str | None]]
) -> list[DeclarationRow]:
    """The declared rows of one incident, with their decision lags against its
    ``recommended`` changes ``(effective_at, tier)`` in time order."""
    out = []
    for row in sorted(declared, key=lambda r: r["effective_at"]):
        at, tier = row["effective_at"], row["tier"]
        source = [t for t, rec in recommended if rec == tier and t <= at]
        out.append(
            DeclarationRow(
                at,
                tier,
                row.get("previous_tier"),
                row.get("declared_by"),
                row.get("reason") or "",
                at - source[-1] if source else None,
            )
        )
    return out


def decision_lags(rows: Iterable[DeclarationRow]) -> DecisionLags:
    """The summary figure over every declaration of the review."""
    rows = list(rows)
    lags = sorted(r.lag for r in rows if r.lag is not None)
    if not lags:
        return DecisionLags(declarations=len(rows), without_recommendation=len(rows))
    return DecisionLags(lags[len(lags) // 2], lags[-1], len(rows), len(rows) - len(lags))
