"""The rulebook: the default validates and carries DESIGN.md section 4's thresholds, bad
rulebooks fail with every problem named by path and line, and `tierflow rules check`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from streams.cli import app
from streams.core import RulebookError, default_rulebook, load_rulebook, parse_rulebook
from topics.errors import TierflowError

DEFAULT = Path(__file__).resolve().parents[2] / "streams" / "rulebooks" / "default.yaml"
MINIMAL = """\
version: "t1"
tiers:
  - {tier: I, name: a, color: red}
  - {tier: II, name: b, color: orange}
  - {tier: III, name: c, color: yellow}
  - {tier: IV, name: d, color: blue}
diseases:
  cholera: {class: A, max_incubation_days: 5}
rules:
  - {id: r0, tier: IV, diseases: [cholera], metric: confirmed, window: 7, threshold: 1}
"""


def _rule(book_rules: str) -> str:
    return MINIMAL + book_rules


def test_default_rulebook_carries_the_national_thresholds() -> None:
    book = default_rulebook()
    rules = {r.id: r for r in book.rules}
    assert (rules["cholera-week-II"].threshold, rules["cholera-week-II"].window) == (30, 7)
    assert rules["cholera-week-III"].threshold == 10
    assert rules["pneumonic-county-II"].scope == "county"
    assert rules["pneumonic-county-II"].window == "incubation"
    mc2 = rules["mass-casualty-II"]
    assert (mc2.threshold, mc2.also[0].metric, mc2.also[0].threshold) == (50, "dead_or_critical", 6)
    assert rules["mass-casualty-I"].threshold == 100
    assert book.diseases["cholera"].max_incubation_days == 5
    assert book.diseases["plague_pneumonic"].max_incubation_days == 3
    assert book.reporting_limit_hours == 2
    assert (book.stock.yellow_days, book.stock.orange_days, book.stock.red_days) == (30, 14, 7)
    assert all(r.source for r in book.rules), "every rule names the plan it comes from"
    assert load_rulebook(DEFAULT) == book


def test_default_rulebook_comments_cite_the_plans() -> None:
    text = DEFAULT.read_text(encoding="utf-8")
    for plan in ("国家突发公共卫生事件应急预案", "国家突发公共事件医疗卫生救援应急预案"):
        assert plan in text


def test_errors_name_path_and_line() -> None:
    text = _rule(
        "  - {id: r1, tier: V, categories: [mass_casualty], metric: casualties, "
        "threshold: 1}\n"
        "  - {id: r2, tier: II, categories: [mass_casualty], metric: casualties, "
        "threshold: -3}\n"
    )
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(text, "book.yaml")
    problems = [(p.path, p.line) for p in caught.value.problems]
    assert problems == [("rules[1].tier", 11), ("rules[2].threshold", 12)]
    assert (
        str(caught.value)
        .splitlines()[1]
        .startswith("book.yaml:12: rules[2].threshold: Input should be greater than 0")
    )
    assert isinstance(caught.value, TierflowError)


def test_cross_checks_references_and_combinations() -> None:
    text = _rule(
        "  - {id: r0, tier: III, diseases: [cholerra], metric: confirmed, threshold: 2}\n"
        "  - {id: r2, tier: II, categories: [food_poisoning], metric: dead, window: 3, "
        "threshold: 1}\n"
        "  - {id: r3, tier: II, categories: [mass_casualty], metric: confirmed, threshold: 1}\n"
    )
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(text)
    assert [p.path for p in caught.value.problems] == [
        "rules[1].id",
        "rules[1].diseases[0]",
        "rules[2].window",
        "rules[3].metric",
    ]
    assert "unknown disease 'cholerra'" in caught.value.problems[1].message


def test_baseline_conditions_are_checked() -> None:
    text = _rule(
        "  - {id: b1, tier: III, diseases: [cholera], metric: baseline_ratio, window: 7,"
        " threshold: 1}\n"
        "  - {id: b2, tier: II, diseases: [cholera], metric: baseline_counties, scope: county,"
        " window: 7, threshold: 2}\n"
        "  - {id: b3, tier: II, diseases: [cholera], metric: confirmed, window: 7, threshold: 1,"
        " ratio: 2}\n"
        "  - {id: b4, tier: II, diseases: [cholera], metric: baseline_ratio, scope: county,"
        " threshold: 2}\n"
    )
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(text)
    assert [p.path for p in caught.value.problems] == [
        "rules[1].scope",
        "rules[2].ratio",
        "rules[3].ratio",
        "rules[4].window",
    ]


def test_a_rollup_rule_names_exactly_one_level() -> None:
    text = MINIMAL + (
        "rollup:\n"
        "  - {id: u1, tier: II, diseases: [cholera], min_cities: 2, min_provinces: 2}\n"
        "  - {id: u2, tier: II, diseases: [cholera]}\n"
        "  - {id: u3, tier: I, diseases: [cholera], min_provinces: 2}\n"
    )
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(text)
    assert [p.path for p in caught.value.problems] == ["rollup[0]", "rollup[1]"]
    assert "exactly one of `min_cities`, `min_provinces`" in caught.value.problems[0].message


def test_yaml_syntax_error_has_a_line() -> None:
    with pytest.raises(RulebookError) as caught:
        parse_rulebook("version: 1\nrules: [\n", "x.yaml")
    assert caught.value.problems[0].line == 3


def test_stock_thresholds_must_be_ordered() -> None:
    text = MINIMAL + "stock: {red_days: 20, orange_days: 14, yellow_days: 30}\n"
    with pytest.raises(RulebookError, match="red_days < orange_days"):
        parse_rulebook(text)


def test_cli_check_prints_every_error_and_exits_non_zero(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        _rule(
            "  - {id: r1, tier: V, categories: [mass_casualty], metric: casualties, threshold: 1}\n"
            "  - {id: r2, tier: II, categories: [mass_casualty], metric: casualties, "
            "threshold: 0}\n"
        ),
        encoding="utf-8",
    )
    result = CliRunner().invoke(app, ["rules", "check", str(bad)])
    assert result.exit_code == 1
    assert f"{bad}:11: rules[1].tier:" in result.output
    assert f"{bad}:12: rules[2].threshold:" in result.output


def test_cli_check_summarises_a_valid_rulebook() -> None:
    result = CliRunner().invoke(app, ["rules", "check", str(DEFAULT)])
    assert result.exit_code == 0, result.output
    assert "national-default" in result.output
    assert "cholera-week-II" in result.output
    assert "重大" in result.output
    shown = " ".join(result.output.split())
    assert "resources: staffing staff.icu_nurse 2.5/bed.icu, staff.icu_doctor 0.8/bed.icu;" in shown
    assert (
        "stockpile ppe.gown 30 d (health), ppe.n95 30 d (health); facility registry none" in shown
    )


def test_cli_check_unreadable_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["rules", "check", str(tmp_path / "missing.yaml")])
    assert result.exit_code == 1
    assert "cannot read" in result.output


def test_tiers_must_be_monotone_in_their_thresholds(tmp_path: Path) -> None:
    """Tier II at 3 confirmed a week under Tier III at 10: wherever III holds, II holds
    already. Named at the higher tier's threshold, with the rule it contradicts."""
    inverted = DEFAULT.read_text(encoding="utf-8").replace(
        "metric: confirmed, window: 7, threshold: 30,",
        "metric: confirmed, window: 7, threshold: 3,",
    )
    path = tmp_path / "inverted.yaml"
    path.write_text(inverted, encoding="utf-8")
    result = CliRunner().invoke(app, ["rules", "check", str(path)])
    assert result.exit_code == 1
    lines = [ln for ln in result.output.splitlines() if ln.startswith(str(path))]
    line = next(n for n, text in enumerate(inverted.splitlines(), 1) if "threshold: 3," in text)
    assert lines == [
        f"{path}:{line}: rules[2].threshold: tier II at confirmed >= 3 is below tier III's rule "
        "'cholera-week-III' (rules[1]) at 10: a higher tier needs a higher threshold"
    ]


def test_a_higher_tier_may_ask_for_more_at_an_equal_threshold() -> None:
    """Food poisoning: II at > 100 people *and* a death, III at > 100 people: not inverted
    (II asks for a death III does not); a different window or metric is no comparison."""
    book = parse_rulebook(
        _rule(
            "  - {id: f3, tier: III, categories: [food_poisoning], metric: casualties, "
            "threshold: 101}\n"
            "  - {id: f2, tier: II, categories: [food_poisoning], metric: casualties, "
            "threshold: 50, and: [{metric: dead, threshold: 1}]}\n"
            "  - {id: c2, tier: II, diseases: [cholera], metric: confirmed, window: 1, "
            "threshold: 5}\n"
        )
    )
    assert [r.id for r in book.rules] == ["r0", "f3", "f2", "c2"]
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(
            _rule(
                "  - {id: r1, tier: I, diseases: [cholera], metric: confirmed, window: 7, "
                "threshold: 1}\n"
                "rollup:\n"
                "  - {id: u2, tier: II, diseases: [cholera], min_cities: 3}\n"
                "  - {id: u1, tier: I, diseases: [cholera], min_cities: 2}\n"
            )
        )
    paths = [p.path for p in caught.value.problems]
    assert paths == ["rollup[1].min_cities"]  # r1 at 1 equals r0 at 1: not below


def test_a_key_given_twice_is_refused_with_its_line() -> None:
    # Two `authority:` sections: YAML would keep the second and drop the first's declare_by.
    text = DEFAULT.read_text() + "\nauthority:\n  ack_by: {}\n"
    repeat_line = len(DEFAULT.read_text().splitlines()) + 2
    with pytest.raises(RulebookError) as caught:
        parse_rulebook(text, "twice.yaml")
    (problem,) = caught.value.problems
    assert (problem.path, problem.line) == ("authority", repeat_line)
    assert "appears twice" in problem.message
    nested = DEFAULT.read_text().replace(
        "  declare_within_hours: 12\n", "  declare_within_hours: 12\n  declare_by: [health]\n"
    )
    with pytest.raises(RulebookError, match=r"authority\.declare_by: appears twice"):
        parse_rulebook(nested)
