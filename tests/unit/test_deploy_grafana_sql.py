"""The test helper that expands panel SQL must agree with the ClickHouse plugin: the
vectors below are the plugin's own (pkg/macros/macros_test.go, CHDatasource.test.ts) and
Grafana's documented variable formats."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.grafana_sql import (
    ALL,
    GrafanaSqlError,
    QueryWindow,
    apply_conditional_all,
    apply_macros,
    apply_variables,
    expand,
)

# The plugin tests' range: 2014-11-12T11:45:26.123Z .. 2015-11-12T11:45:26.456Z.
WINDOW = QueryWindow(
    datetime(2014, 11, 12, 11, 45, 26, 123_000, tzinfo=UTC),
    datetime(2015, 11, 12, 11, 45, 26, 456_000, tzinfo=UTC),
    timedelta(minutes=1),
)


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "select * from foo where $__timeFilter(cast(sth as timestamp))",
            "select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) AND "
            "cast(sth as timestamp) <= toDateTime(1447328726)",
        ),
        (
            "select * from foo where $__timeFilter(cast(sth as timestamp) )",
            "select * from foo where cast(sth as timestamp) >= toDateTime(1415792726) AND "
            "cast(sth as timestamp) <= toDateTime(1447328726)",
        ),
        (
            "select * from foo where $__timeFilter_ms(cast(sth as timestamp))",
            "select * from foo where cast(sth as timestamp) >= "
            "fromUnixTimestamp64Milli(1415792726123) AND cast(sth as timestamp) <= "
            "fromUnixTimestamp64Milli(1447328726456)",
        ),
        (
            "select * from foo where ( date >= $__fromTime ) and ( date <= $__toTime ) limit 100",
            "select * from foo where ( date >= toDateTime(1415792726) ) and "
            "( date <= toDateTime(1447328726) ) limit 100",
        ),
        (
            "SELECT $__timeInterval($__fromTime) AS from_time",
            "SELECT toStartOfInterval(toDateTime(toDateTime(1415792726)), INTERVAL 60 second)"
            " AS from_time",
        ),
        (
            "SELECT $__timeInterval_ms($__fromTime_ms)",
            "SELECT toStartOfInterval(toDateTime64(fromUnixTimestamp64Milli(1415792726123), 3),"
            " INTERVAL 60000 millisecond)",
        ),
        (
            "select * from foo where $__timeFilter(coalesce(closed_at, $__toTime))",
            "select * from foo where coalesce(closed_at, toDateTime(1447328726)) >= "
            "toDateTime(1415792726) AND coalesce(closed_at, toDateTime(1447328726)) <= "
            "toDateTime(1447328726)",
        ),
        ("SELECT $__interval_s", "SELECT 60"),
    ],
)
def test_backend_macros_match_the_plugin(sql: str, expected: str) -> None:
    assert apply_macros(sql, WINDOW) == expected


def test_interval_is_whole_seconds_at_least_one() -> None:
    window = QueryWindow(WINDOW.start, WINDOW.end, timedelta(milliseconds=300))
    assert apply_macros("$__interval_s", window) == "1"
    assert apply_macros("$__timeInterval(t)", window) == (
        "toStartOfInterval(toDateTime(t), INTERVAL 1 second)"
    )


CONDITIONAL = (
    "select stuff from table where $__conditionalAll(fieldVal in ($fieldVal), $fieldVal)"
    " and $__conditionalAll(fieldVal in ($fieldVal2), $fieldVal2);"
)


def test_conditional_all_matches_the_plugin() -> None:
    assert apply_conditional_all(CONDITIONAL, {"fieldVal": ["val1"], "fieldVal2": ALL}) == (
        "select stuff from table where fieldVal in ($fieldVal) and 1=1;"
    )
    assert apply_conditional_all(CONDITIONAL, {"fieldVal": [ALL], "fieldVal2": []}) == (
        "select stuff from table where 1=1 and 1=1;"
    )


def test_conditional_all_with_nested_commas_and_braced_variable() -> None:
    sql = "$__conditionalAll(arrayExists(j -> startsWith(r, j), [${v:singlequote}]), ${v})"
    assert apply_conditional_all(sql, {"v": ["5101"]}) == (
        "arrayExists(j -> startsWith(r, j), [${v:singlequote}])"
    )


def test_conditional_all_with_a_top_level_comma_is_refused() -> None:
    with pytest.raises(GrafanaSqlError, match="two arguments"):
        apply_conditional_all("$__conditionalAll(a, b, $v)", {"v": ALL})


@pytest.mark.parametrize(
    ("sql", "value", "expected"),
    [
        # The plugin's own format(): arrays quoted and joined, scalars raw.
        ("x IN ($v)", ["a", "b"], "x IN ('a','b')"),
        ("FROM ${v}.t", "db1", "FROM db1.t"),
        # Grafana's singlequote format escapes quotes with a backslash.
        ("x IN (${v:singlequote})", ["o'k", "b"], "x IN ('o\\'k','b')"),
        ("x = ${v:singlequote}", "a", "x = 'a'"),
        ("$__timeFilter(t) AND $__fromTime", "unused", "$__timeFilter(t) AND $__fromTime"),
    ],
)
def test_template_variables(sql: str, value: str | list[str], expected: str) -> None:
    assert apply_variables(sql, {"v": value}) == expected


def test_strict_about_unknown_names_and_all_outside_conditional_all() -> None:
    with pytest.raises(GrafanaSqlError, match="unknown template variable"):
        apply_variables("$nope", {})
    with pytest.raises(GrafanaSqlError, match="outside"):
        apply_variables("x IN (${v:singlequote})", {"v": ALL})
    with pytest.raises(GrafanaSqlError, match="unknown macro"):
        apply_macros("$__timeGroup(t, 5m)", WINDOW)


def test_expand_runs_the_three_passes_in_grafana_order() -> None:
    sql = (
        "SELECT count() FROM ${db}.t WHERE $__timeFilter(at)"
        " AND $__conditionalAll(j IN (${j:singlequote}), $j)"
        " AND $__conditionalAll(d IN (${d:singlequote}), $d)"
    )
    assert expand(sql, WINDOW, {"db": "x", "j": ALL, "d": ["cholera"]}) == (
        "SELECT count() FROM x.t WHERE at >= toDateTime(1415792726) AND "
        "at <= toDateTime(1447328726) AND 1=1 AND d IN ('cholera')"
    )
