"""The rulebook: response tiers, the disease table, tier rules, early-warning triggers, the
response plan and alert thresholds, as data (DESIGN.md section 4).

A rulebook is YAML validated by pydantic. Nothing in it is evaluated as code: a rule is a
metric, a threshold (``>=``), a window and a scope, optionally AND-ed with further
conditions. Tier bands ("cholera 10–29 a week → III") are written as one rule per tier
with its lower bound; the highest tier whose rule holds wins.

:func:`parse_rulebook` turns YAML text into a :class:`Rulebook` or raises
:class:`RulebookError` listing every problem with its path (``rules[3].threshold``) and
line, so ``tierflow rules check`` can print them all at once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from streams.core.rulebook_checks import rule_checks
from streams.core.rulebook_decisions import Authority, Verification
from streams.core.rulebook_input import InputChecks
from streams.core.rulebook_resources import Resources
from streams.core.yaml_keys import duplicate_keys
from topics.codec import error_path
from topics.errors import TierflowError
from topics.vocabulary import AgencyType, IncidentCategory, Tier

TIER_ORDER: tuple[Tier, ...] = ("IV", "III", "II", "I")
TIER_RANK: dict[Tier, int] = {tier: rank for rank, tier in enumerate(TIER_ORDER, start=1)}

CaseMetric = Literal["confirmed", "counties", "baseline_ratio", "baseline_counties"]
ReportMetric = Literal["casualties", "dead", "critical", "dead_or_critical", "declared"]
# the jurisdiction's ICU occupancy at t (streams.core.icu_line), a fraction 0..1
Metric = Literal[CaseMetric, ReportMetric, "icu_occupancy"]
PositiveDays = Annotated[float, Field(gt=0)]
M = TypeVar("M", bound=BaseModel)


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class TierName(_Strict):
    tier: Tier
    name: str
    color: Literal["red", "orange", "yellow", "blue"]


class Disease(_Strict):
    """One row of the disease table; ``max_incubation_days`` is both the window of
    "within one incubation period" rules and the quiet period before de-escalation."""

    name: str = ""
    disease_class: Literal["A", "B", "C", "new"] = Field(alias="class")
    managed_as_a: bool = False
    max_incubation_days: PositiveDays


class Condition(_Strict):
    """``metric >= threshold``. Case metrics count confirmed cases (by confirmation time)
    in the window ``(t - window, t]``; ``window: incubation`` is the disease's maximum
    incubation period, a number is days, null is the whole incident. Report metrics read
    the latest incident report (by occurred_at) at or before ``t`` and take no window.

    Baseline metrics compare each county's count in the window with the county's
    ``baselines`` figure for the disease: ``baseline_ratio`` is the highest count/baseline
    among the counties, ``baseline_counties`` the number of counties whose count/baseline
    is at least ``ratio``. Counties without a figure do not count.

    ``icu_occupancy`` is the jurisdiction's ICU occupancy at ``t``, 1 - free / capacity
    over the sites reporting the rulebook's ``icu.item`` with a baseline, beds opened by
    acked conversions counted in both (:mod:`streams.core.icu_line`); 0 while no site has
    reported. It takes no window, and a rule must AND it with a case metric: a full ICU
    alone is no outbreak."""

    metric: Metric
    threshold: Annotated[float, Field(gt=0)]
    window: Literal["incubation"] | PositiveDays | None = None
    scope: Literal["city", "county"] = "city"
    ratio: Annotated[float, Field(gt=0)] | None = None  # baseline_counties only


class Rule(Condition):
    id: Annotated[str, Field(min_length=1)]
    tier: Tier
    diseases: tuple[str, ...] | None = None
    categories: tuple[IncidentCategory, ...] | None = None
    also: tuple[Condition, ...] = Field(default=(), alias="and")
    source: str = ""  # the plan and clause the threshold comes from


class WarningTrigger(_Strict):
    """Multi-point early warning: ``min`` matching signals (first reports of cases, any
    classification but discarded) open a warning incident before any agency declares one.
    ``distinct: facility`` counts distinct reporting facilities instead of cases."""

    id: Annotated[str, Field(min_length=1)]
    min: Annotated[int, Field(ge=1)]
    diseases: tuple[str, ...] | None = None  # None: every disease in the table
    settings: tuple[str, ...] | None = None
    triaged: bool = False  # only cases that carry a START triage (120 dispatch)
    distinct: Literal["facility"] | None = None
    window_days: PositiveDays | None = None
    source: str = ""


class PlanTask(_Strict):
    agency: AgencyType
    action: Annotated[str, Field(min_length=1)]
    due_hours: Annotated[float, Field(gt=0)]


class StockThresholds(_Strict):
    """Days of cover below which an item raises ``stock_low`` at that level."""

    items: tuple[str, ...] = ("ppe.*",)  # fnmatch patterns
    yellow_days: PositiveDays = 30.0
    orange_days: PositiveDays = 14.0
    red_days: PositiveDays = 7.0
    burn_window_days: PositiveDays = 7.0


class IcuCapacity(_Strict):
    """``icu_capacity_low``: a jurisdiction's free ``item`` beds over their baseline below
    ``threshold`` (None: not watched)."""

    item: str = "bed.icu"
    threshold: Annotated[float, Field(gt=0, lt=1)] | None = None
    source: str = ""


class RollupRule(_Strict):
    """A rule over several jurisdictions, decided by a roll-up stage: the disease has a
    tier in at least ``min_cities`` cities of one province (the provincial stage), or in
    some city of at least ``min_provinces`` provinces (the national stage). Exactly one
    of the two is given."""

    id: Annotated[str, Field(min_length=1)]
    tier: Tier
    diseases: tuple[str, ...]
    min_cities: Annotated[int, Field(ge=2)] | None = None
    min_provinces: Annotated[int, Field(ge=2)] | None = None
    source: str = ""

    @property
    def level(self) -> RollupLevel:
        """The stage that decides the rule."""
        return "province" if self.min_cities is not None else "nation"

    @property
    def min_units(self) -> int:
        """How many cities (provincial stage) or provinces (national stage) it needs."""
        return self.min_cities or self.min_provinces or 0


RollupLevel = Literal["province", "nation"]


PlanKey = Literal["I", "II", "III", "IV", "stand_down"]


class Rulebook(_Strict):
    """A validated rulebook. ``version`` lands on every decision made with it."""

    version: Annotated[str, Field(min_length=1)]
    name: str = ""
    tiers: tuple[TierName, ...]
    reporting_limit_hours: PositiveDays = 2.0
    diseases: dict[str, Disease]
    rules: tuple[Rule, ...]
    warnings: tuple[WarningTrigger, ...] = ()
    plan: dict[PlanKey, tuple[PlanTask, ...]] = Field(default_factory=dict)
    stock: StockThresholds = StockThresholds()
    icu: IcuCapacity = IcuCapacity()
    rollup: tuple[RollupRule, ...] = ()
    # true: every recommendation is declared at once (simulations, drills with no person)
    auto_declare: bool = False
    authority: Authority = Authority()
    verification: Verification = Verification()
    # disease -> county (6-digit code) -> 5-year average of confirmed cases per week
    baselines: dict[str, dict[str, Annotated[float, Field(gt=0)]]] = Field(default_factory=dict)
    input_checks: InputChecks = InputChecks()
    resources: Resources = Resources()
    _compiled: Any = PrivateAttr(default=None)


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = f"line {self.line}: " if self.line is not None else ""
        return f"{where}{self.path}: {self.message}" if self.path else where + self.message


class RulebookError(TierflowError):
    """A rulebook that does not validate; ``problems`` lists every error with its path."""

    def __init__(self, source: str, problems: Sequence[Problem]) -> None:
        self.source = source
        self.problems = tuple(problems)
        lines = [
            f"{source}:{p.line or 1}: {p.path + ': ' if p.path else ''}{p.message}"
            for p in self.problems
        ]
        super().__init__("\n".join(lines))


def parse_rulebook(text: str, source: str = "<rulebook>") -> Rulebook:
    """Validate YAML text as a rulebook; raise :class:`RulebookError` with every problem."""
    return parse_yaml(text, source, Rulebook, _cross_checks, RulebookError)


def parse_yaml(
    text: str,
    source: str,
    model: type[M],
    cross_checks: Callable[[M], list[tuple[tuple[int | str, ...], str]]],
    error: type[RulebookError],
) -> M:
    """Validate YAML text as ``model`` (a rulebook, a facility registry), then by
    ``cross_checks``; raise ``error`` listing every problem with its path and line."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise error(source, [Problem("", f"not valid YAML: {exc}", line)]) from exc
    if not isinstance(data, dict):
        raise error(source, [Problem("", "expected a YAML mapping", 1)])
    repeated = [
        Problem(
            error_path(loc), "appears twice in its mapping (YAML would keep only the last)", line
        )
        for loc, line in duplicate_keys(node)
    ]
    if repeated:
        raise error(source, repeated)
    try:
        found = model.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(error_path(err["loc"]), err["msg"], _line_of(node, err["loc"]))
            for err in exc.errors(include_url=False)
        ]
        raise error(source, problems) from exc
    problems = [
        Problem(error_path(loc), message, _line_of(node, loc))
        for loc, message in cross_checks(found)
    ]
    if problems:
        raise error(source, problems)
    return found


def _cross_checks(book: Rulebook) -> list[tuple[tuple[int | str, ...], str]]:
    """What a schema cannot say: references, uniqueness, combinations, orderings."""
    found: list[tuple[tuple[int | str, ...], str]] = []
    if sorted(t.tier for t in book.tiers) != sorted(TIER_ORDER):
        found.append((("tiers",), "must name each of the tiers I, II, III, IV exactly once"))
    seen: set[str] = set()
    for i, rule in enumerate(book.rules):
        where: tuple[int | str, ...] = ("rules", i)
        if rule.id in seen:
            found.append(((*where, "id"), f"duplicate rule id {rule.id!r}"))
        seen.add(rule.id)
        if rule.diseases is None and rule.categories is None:
            found.append((where, "needs `diseases` or `categories` to say what it applies to"))
        found += _unknown_diseases(book, (*where, "diseases"), rule.diseases)
        found += rule_checks(rule, where)
    for i, trigger in enumerate(book.warnings):
        found += _unknown_diseases(book, ("warnings", i, "diseases"), trigger.diseases)
        if trigger.distinct is not None and trigger.window_days is not None:
            found.append(
                (
                    ("warnings", i, "window_days"),
                    "distinct facilities are counted over the whole incident",
                )
            )
    for code in book.baselines:
        if code not in book.diseases:
            found.append((("baselines", code), f"unknown disease {code!r} (not in the table)"))
    for i, roll in enumerate(book.rollup):
        found += _unknown_diseases(book, ("rollup", i, "diseases"), roll.diseases)
        if (roll.min_cities is None) == (roll.min_provinces is None):
            found.append((("rollup", i), "needs exactly one of `min_cities`, `min_provinces`"))
    actions = {task.action for tasks in book.plan.values() for task in tasks}
    for action in book.authority.ack_by:
        if action not in actions:
            found.append((("authority", "ack_by", action), f"no task of the plan does {action!r}"))
    stock = book.stock
    if not stock.red_days < stock.orange_days < stock.yellow_days:
        found.append((("stock",), "need red_days < orange_days < yellow_days"))
    return found + _inverted_tiers(book)


def _conditions(rule: Rule) -> dict[tuple[object, ...], tuple[float, tuple[int | str, ...]]]:
    """(metric, window, scope, ratio) → (threshold, path below the rule) of each condition."""
    return {
        (c.metric, c.window, c.scope, c.ratio): (c.threshold, () if j == 0 else ("and", j - 1))
        for j, c in enumerate((rule, *rule.also))
    }


def _inverted_tiers(book: Rulebook) -> list[tuple[tuple[int | str, ...], str]]:
    """Tiers must be monotone in their thresholds. A rule of a higher tier is inverted
    against a lower tier's rule for a disease or category both apply to when it asks
    nothing the lower one does not (each of its conditions is one of the lower rule's,
    metric, window, scope and ratio alike) and at a lower threshold somewhere: wherever
    the lower tier holds, the higher one holds already (Tier II at 3 cases under Tier
    III at 10). The same for roll-up rules of one level: fewer cities or provinces for a
    higher tier."""
    found: list[tuple[tuple[int | str, ...], str]] = []
    for i, high in enumerate(book.rules):
        for j, low in enumerate(book.rules):
            if TIER_RANK[high.tier] <= TIER_RANK[low.tier] or not _overlap(high, low):
                continue
            ours, theirs = _conditions(high), _conditions(low)
            if not ours.keys() <= theirs.keys():
                continue
            lower = [k for k in ours if ours[k][0] < theirs[k][0]]
            if lower and all(ours[k][0] <= theirs[k][0] for k in ours):
                key = lower[0]
                found.append(
                    (
                        ("rules", i, *ours[key][1], "threshold"),
                        f"tier {high.tier} at {key[0]} >= {ours[key][0]:g} is below tier "
                        f"{low.tier}'s rule {low.id!r} (rules[{j}]) at {theirs[key][0]:g}: "
                        "a higher tier needs a higher threshold",
                    )
                )
    for i, up in enumerate(book.rollup):
        for j, down in enumerate(book.rollup):
            if (
                TIER_RANK[up.tier] > TIER_RANK[down.tier]
                and up.level == down.level
                and set(up.diseases) & set(down.diseases)
                and up.min_units < down.min_units
            ):
                field = "min_cities" if up.level == "province" else "min_provinces"
                found.append(
                    (
                        ("rollup", i, field),
                        f"tier {up.tier} at {up.min_units} is below tier {down.tier}'s "
                        f"roll-up rule {down.id!r} (rollup[{j}]) at {down.min_units}: a "
                        "higher tier needs more",
                    )
                )
    return found


def _overlap(a: Rule, b: Rule) -> bool:
    """Whether two rules can apply to one incident (a disease or a category in common)."""
    return bool(set(a.diseases or ()) & set(b.diseases or ())) or bool(
        set(a.categories or ()) & set(b.categories or ())
    )


def _unknown_diseases(
    book: Rulebook, where: tuple[int | str, ...], codes: tuple[str, ...] | None
) -> list[tuple[tuple[int | str, ...], str]]:
    return [
        ((*where, k), f"unknown disease {code!r} (not in the disease table)")
        for k, code in enumerate(codes or ())
        if code not in book.diseases
    ]


def _line_of(node: yaml.Node | None, loc: Sequence[int | str]) -> int | None:
    """1-based line of the deepest YAML node on ``loc`` (the line an editor should open)."""
    if node is None:
        return None
    line = node.start_mark.line + 1
    for part in loc:
        child: yaml.Node | None = None
        if isinstance(node, yaml.MappingNode):
            child = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            child = node.value[part] if 0 <= part < len(node.value) else None
        if child is None:
            break
        node, line = child, child.start_mark.line + 1
    return line
