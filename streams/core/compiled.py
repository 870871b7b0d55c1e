"""A rulebook turned into plain tuples for the hot path (built once, cached on the rulebook)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import NamedTuple, TypeVar

from streams.core.eventtime import HOUR, MINUTE, days_to_us
from streams.core.facilities import FacilityIndex, index
from streams.core.rulebook import TIER_RANK, Condition, Rule, Rulebook
from streams.core.rulebook_checks import BASELINE_METRICS, ICU_OCCUPANCY
from streams.core.rulebook_resources import Forecasts, StaffMinimum, StockpileItem, Surge

T = TypeVar("T")
STAND_DOWN = 0  # plan key "stand_down" and the rank of "no tier"


class Cond(NamedTuple):
    metric: str
    threshold: float
    window: int | None  # microseconds; None = whole incident
    county: bool
    label: str  # evidence key, e.g. "confirmed.city.7d"
    ratio: float | None = None  # baseline_counties: a county counts at count/baseline >= ratio
    baselines: dict[str, float] | None = None  # county -> weekly average (baseline metrics)


class CRule(NamedTuple):
    rank: int
    rule_id: str
    conds: tuple[Cond, ...]


class Trigger(NamedTuple):
    trigger_id: str
    min: int
    settings: frozenset[str] | None
    triaged: bool
    distinct: bool
    window: int | None


# A case of a disease the rulebook does not list opens a warning at once (category
# unknown_cluster): 200 cases of it must not pass unseen.
UNKNOWN_DISEASE = (Trigger("unknown_disease", 1, None, False, False, None),)


class PlanItem(NamedTuple):
    agency: str
    action: str
    due: int  # microseconds after the tier change


@dataclass
class Compiled:
    """What the core reads per event, precomputed from a :class:`Rulebook`."""

    version: str
    reporting_limit: int
    quiet: dict[str, int]
    plan: dict[int, tuple[PlanItem, ...]]
    stock_patterns: tuple[str, ...]
    stock_levels: tuple[tuple[float, str], ...]  # (days, level), most severe first
    burn_window: int
    icu_item: str
    icu_threshold: float | None  # free/baseline below it: icu_capacity_low
    occurred_slack: timedelta  # occurred_at may exceed reported_at by this much
    occurred_slack_us: int  # the same, in microseconds
    received_slack: timedelta  # reported_at may exceed the broker's receipt by this much
    ahead_limit: int | None  # microseconds ahead of the newest tick before an event is held
    max_casualties: int
    max_stock: float
    on_hand_over_baseline: float
    unknown_ack_keep: int  # microseconds an ack of an unknown task is kept
    ack_by: dict[str, frozenset[str]]  # action -> types / agency ids that may also ack it
    categories: dict[str, frozenset[str]]  # agency type -> incident categories it may send
    auto_declare: bool
    declare_by: frozenset[str]
    assessment: tuple[PlanItem, ...]  # the command agency's task on a recommendation change
    declare_within: int  # microseconds a declared tier may lag below the recommended one
    verification: PlanItem  # the task a warning issues
    staffing: dict[str, tuple[StaffMinimum, ...]]  # staff or bed item -> minimums reading it
    stockpile: dict[str, tuple[StockpileItem, ...]]  # item or bed item -> entries reading it
    facilities: FacilityIndex  # the facility registry's version and rows by id
    surge: Surge | None  # peacetime/wartime conversion (streams.core.surge)
    forecast: Forecasts  # the incident forecasts' window and horizon
    # the diseases of the rules that read the ICU occupancy (None: a rule of any disease)
    icu_diseases: frozenset[str] | None
    _rules: tuple[Rule, ...]
    _triggers: dict[str, tuple[Trigger, ...]]
    _baselines: dict[str, dict[str, float]]
    _by_track: dict[tuple[str | None, str], tuple[CRule, ...]] = field(default_factory=dict)
    _stock_item: dict[str, bool] = field(default_factory=dict)
    _icu_track: dict[tuple[str | None, str], bool] = field(default_factory=dict)

    def rules_for(self, disease: str | None, category: str) -> tuple[CRule, ...]:
        """The rules that apply to an incident of this disease (None: no disease) and
        category and can hold, most severe tier first."""
        key = (disease, category)
        found = self._by_track.get(key)
        if found is None:
            found = tuple(
                sorted(
                    (
                        compiled
                        for rule in self._rules
                        if _applies(rule, disease, category)
                        and _can_hold(compiled := self._compile(rule, disease))
                    ),
                    key=lambda r: (-r.rank, r.rule_id),
                )
            )
            self._by_track[key] = found
        return found

    def reads_icu(self, disease: str | None, category: str) -> bool:
        """Whether a rule of :meth:`rules_for` reads the jurisdiction's ICU occupancy."""
        key = (disease, category)
        found = self._icu_track.get(key)
        if found is None:
            found = self._icu_track[key] = any(
                c.metric == ICU_OCCUPANCY for r in self.rules_for(*key) for c in r.conds
            )
        return found

    def triggers_for(self, disease: str) -> tuple[Trigger, ...]:
        """The early-warning triggers of ``disease`` (one not in the table: unknown_disease)."""
        return self._triggers.get(disease, UNKNOWN_DISEASE)

    def knows(self, disease: str) -> bool:
        """Whether ``disease`` is in the rulebook's disease table."""
        return disease in self.quiet

    def watches_stock(self, item: str) -> bool:
        hit = self._stock_item.get(item)
        if hit is None:
            hit = any(fnmatchcase(item, pattern) for pattern in self.stock_patterns)
            self._stock_item[item] = hit
        return hit

    def _compile(self, rule: Rule, disease: str | None) -> CRule:
        conds = tuple(self._cond(c, disease) for c in (rule, *rule.also))
        return CRule(TIER_RANK[rule.tier], rule.id, conds)

    def _cond(self, cond: Condition, disease: str | None) -> Cond:
        window: int | None
        if cond.window == "incubation":
            window = self.quiet[disease] if disease is not None else None
            name = "incubation"
        elif cond.window is None:
            window, name = None, "all"
        else:
            window, name = days_to_us(cond.window), f"{cond.window:g}d"
        county = cond.scope == "county"
        label = (
            cond.metric
            if cond.metric not in ("confirmed", "counties")
            else (f"{cond.metric}.{cond.scope}.{name}")
        )
        if cond.metric not in BASELINE_METRICS:
            return Cond(cond.metric, cond.threshold, window, county, label)
        if cond.ratio is not None:
            label = f"{label}.x{cond.ratio:g}"
        baselines = self._baselines.get(disease, {}) if disease is not None else {}
        return Cond(
            cond.metric, cond.threshold, window, county, f"{label}.{name}", cond.ratio, baselines
        )


def _can_hold(rule: CRule) -> bool:
    """False for a baseline rule of a disease with no baseline figure: no county counts,
    so the rule never holds; leaving it out spares every evaluation of it."""
    return all(c.baselines is None or c.baselines for c in rule.conds)


def _icu_diseases(rules: Iterable[Rule]) -> frozenset[str] | None:
    """The diseases an incident must have for a rule reading the ICU occupancy to apply
    (empty: no rule reads it; None: one applies whatever the disease)."""
    found: set[str] = set()
    for rule in rules:
        if any(c.metric == ICU_OCCUPANCY for c in (rule, *rule.also)):
            if rule.diseases is None:
                return None
            found.update(rule.diseases)
    return frozenset(found)


def _applies(rule: Rule, disease: str | None, category: str) -> bool:
    if rule.diseases is not None and disease not in rule.diseases:
        return False
    return rule.categories is None or category in rule.categories


def _by_item(entries: Iterable[tuple[T, tuple[str, ...]]]) -> dict[str, tuple[T, ...]]:
    """Each item -> the entries that read it (in rulebook order)."""
    found: dict[str, tuple[T, ...]] = {}
    for entry, items in entries:
        for item in items:
            found[item] = (*found.get(item, ()), entry)
    return found


def compile_rulebook(book: Rulebook) -> Compiled:
    """The compiled form of ``book``, built on first use and kept on the (frozen) rulebook."""
    # the private attributes' dict itself: ``book._compiled`` goes through pydantic's
    # __getattr__ (~2.6 µs), and this is asked once per batch and per output
    private = book.__pydantic_private__
    cached = private.get("_compiled") if private else None
    if isinstance(cached, Compiled):
        return cached
    triggers: dict[str, list[Trigger]] = {code: [] for code in book.diseases}
    for w in book.warnings:
        trig = Trigger(
            w.id,
            w.min,
            frozenset(w.settings) if w.settings is not None else None,
            w.triaged,
            w.distinct is not None,
            days_to_us(w.window_days) if w.window_days is not None else None,
        )
        for code in w.diseases if w.diseases is not None else tuple(book.diseases):
            triggers[code].append(trig)
    checks = book.input_checks
    auth = book.authority
    plan_rank: dict[str, int] = {"stand_down": STAND_DOWN}
    plan_rank.update((str(tier), rank) for tier, rank in TIER_RANK.items())
    compiled = Compiled(
        version=book.version,
        reporting_limit=round(book.reporting_limit_hours * HOUR),
        quiet={code: days_to_us(d.max_incubation_days) for code, d in book.diseases.items()},
        plan={
            plan_rank[key]: tuple(
                PlanItem(t.agency, t.action, round(t.due_hours * HOUR)) for t in tasks
            )
            for key, tasks in book.plan.items()
        },
        stock_patterns=book.stock.items,
        stock_levels=(
            (book.stock.red_days, "red"),
            (book.stock.orange_days, "orange"),
            (book.stock.yellow_days, "yellow"),
        ),
        burn_window=days_to_us(book.stock.burn_window_days),
        icu_item=book.icu.item,
        icu_threshold=book.icu.threshold,
        occurred_slack=timedelta(minutes=checks.occurred_after_reported_minutes),
        occurred_slack_us=round(checks.occurred_after_reported_minutes * MINUTE),
        received_slack=timedelta(minutes=checks.reported_after_received_minutes),
        ahead_limit=(
            None
            if checks.ahead_of_clock_minutes is None
            else round(checks.ahead_of_clock_minutes * MINUTE)
        ),
        max_casualties=checks.max_casualties,
        max_stock=checks.max_stock,
        on_hand_over_baseline=checks.on_hand_over_baseline,
        unknown_ack_keep=round(checks.unknown_ack_keep_hours * HOUR),
        ack_by={action: frozenset(who) for action, who in book.authority.ack_by.items()},
        categories={kind: frozenset(cats) for kind, cats in book.authority.categories.items()},
        auto_declare=book.auto_declare,
        declare_by=frozenset(auth.declare_by),
        assessment=(
            PlanItem(
                auth.declare_by[0], auth.assessment_action, round(auth.assessment_due_hours * HOUR)
            ),
        ),
        declare_within=round(auth.declare_within_hours * HOUR),
        verification=PlanItem(
            book.verification.agency,
            book.verification.action,
            round(book.verification.due_hours * HOUR),
        ),
        staffing=_by_item((m, (m.staff, m.per)) for m in book.resources.staffing),
        stockpile=_by_item((s, (s.item, s.beds)) for s in book.resources.stockpile),
        facilities=index(book.resources.facilities),
        surge=book.resources.surge,
        forecast=book.resources.forecast,
        icu_diseases=_icu_diseases(book.rules),
        _rules=book.rules,
        _triggers={code: tuple(found) for code, found in triggers.items()},
        _baselines=book.baselines,
    )
    book._compiled = compiled
    return compiled
