"""What the schema of a tier rule cannot say about its conditions: which metric takes a
window, a scope, a ratio, and what a rule must list or combine (errors by path)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from streams.core.rulebook import Condition, Rule

Found = list[tuple[tuple[int | str, ...], str]]

CASE_METRICS: frozenset[str] = frozenset(
    {"confirmed", "counties", "baseline_ratio", "baseline_counties"}
)
BASELINE_METRICS: frozenset[str] = frozenset({"baseline_ratio", "baseline_counties"})
ICU_OCCUPANCY = "icu_occupancy"


def rule_checks(rule: Rule, where: tuple[int | str, ...]) -> Found:
    """The problems of ``rule``'s conditions (``where``: the rule's path)."""
    found: Found = []
    conds = (rule, *rule.also)
    for j, cond in enumerate(conds):
        at = where if j == 0 else (*where, "and", j - 1)
        if cond.metric in CASE_METRICS and rule.diseases is None:
            found.append(((*at, "metric"), f"{cond.metric} counts cases: list `diseases`"))
        if cond.metric not in CASE_METRICS and cond.window is not None:
            read = (
                "is the jurisdiction's occupancy at the instant"
                if cond.metric == ICU_OCCUPANCY
                else "is read from the latest incident report"
            )
            found.append(((*at, "window"), f"{cond.metric} {read} and takes no window"))
        if cond.metric not in CASE_METRICS and cond.scope != "city":
            found.append(((*at, "scope"), f"{cond.metric} is per incident: scope city"))
        if cond.metric == "counties" and cond.scope != "city":
            found.append(((*at, "scope"), "counties are counted over the city"))
        if cond.metric == ICU_OCCUPANCY and cond.threshold > 1:
            found.append(((*at, "threshold"), "icu_occupancy is a fraction: at most 1"))
        found += _baseline_checks(cond, at)
    if any(c.metric == ICU_OCCUPANCY for c in conds) and not any(
        c.metric in CASE_METRICS for c in conds
    ):
        # a full ICU alone (a road crash, another disease's patients) is no outbreak
        found.append(
            ((*where, "metric"), "icu_occupancy alone sets no tier: `and` it with a case metric")
        )
    return found


def _baseline_checks(cond: Condition, at: tuple[int | str, ...]) -> Found:
    found: Found = []
    if (cond.metric == "baseline_counties") != (cond.ratio is not None):
        found.append(((*at, "ratio"), "`ratio` goes with metric baseline_counties, and only"))
    if cond.metric not in BASELINE_METRICS:
        return found
    if not isinstance(cond.window, float | int):
        found.append(((*at, "window"), f"{cond.metric} compares a week's count: window in days"))
    if cond.scope != "county":
        found.append(((*at, "scope"), f"{cond.metric} compares counties: scope county"))
    return found
