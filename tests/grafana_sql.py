"""Turn a Grafana panel's ClickHouse SQL into the SQL the server receives, so tests and
benchmarks can run every panel's query.

Grafana with ``grafana-clickhouse-datasource`` (v4) rewrites a query in three passes, and
this module does the same, in the same order:

1. frontend, ``applyConditionalAll``: ``$__conditionalAll(condition, $var)`` becomes
   ``1=1`` when ``$var`` is "All" (``$__all``) or empty, else ``condition``;
2. frontend, template variables (``$var``, ``${var}``, ``${var:format}``): a multi-value
   variable (a list) becomes ``'a','b'``; a single value is inserted as it is; the
   ``singlequote`` format quotes every value and escapes ``'`` as ``\\'``;
3. backend, ``pkg/macros/macros.go``: ``$__timeFilter(c)`` →
   ``c >= toDateTime(<from>) AND c <= toDateTime(<to>)``, ``$__fromTime`` /
   ``$__toTime`` → ``toDateTime(<unix s>)``, ``$__timeInterval(c)`` →
   ``toStartOfInterval(toDateTime(c), INTERVAL <n> second)``, ``$__interval_s`` → ``<n>``
   (``n`` = the panel interval in whole seconds, at least 1), and the ``_ms`` variants.

Stricter than Grafana on purpose: an unknown variable or macro, an "All" value used
outside ``$__conditionalAll`` (Grafana would splice in every option), or a
``$__conditionalAll`` whose arguments do not split into two raises
:class:`GrafanaSqlError` instead of reaching ClickHouse half-expanded.

It also walks dashboards: :func:`sql_targets` lists every SQL query of a dashboard
(panels, panels inside rows, query variables) for one datasource uid.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ALL = "$__all"  # the value Grafana gives a variable when "All" is selected

VariableValue = str | Sequence[str]

DASHBOARDS = Path(__file__).resolve().parents[1] / "deploy" / "grafana" / "dashboards"
CLICKHOUSE_UID = "tierflow-clickhouse"
PROMETHEUS_UID = "tierflow-prometheus"


class GrafanaSqlError(ValueError):
    """A panel query that Grafana would not turn into valid SQL."""


# --- 1. $__conditionalAll (CHDatasource.applyConditionalAll) --------------------------

_CONDITIONAL_ALL = "$__conditionalAll("
_VAR_IN_ARG = re.compile(r"(?<=\$\{)\w+(?=\})|(?<=\$)\w+")


def _macro_args(sql: str, open_paren: int) -> tuple[list[str], int]:
    """The arguments of the call whose ``(`` is at ``open_paren`` and the index just past
    its ``)``: the plugin's ``getMacroArgs``, which splits on commas at depth 1 and counts
    only parentheses. ``([], -1)`` when the parentheses do not balance."""
    args: list[str] = []
    depth = 0
    start = open_paren + 1
    for match in re.finditer(r"[(),]", sql[open_paren:]):
        token, end = match.group(), open_paren + match.end()
        depth += {"(": 1, ")": -1}.get(token, 0)
        if token == "," and depth == 1:
            args.append(sql[start : end - 1])
            start = end
        if depth == 0:
            args.append(sql[start : end - 1])
            return args, end
    return [], -1


def _is_all(value: VariableValue | None) -> bool:
    # The plugin compares `current.value.toString()` with '' and '$__all'.
    if value is None:
        return False
    text = value if isinstance(value, str) else ",".join(value)
    return text in ("", ALL)


def apply_conditional_all(sql: str, variables: Mapping[str, VariableValue]) -> str:
    """Replace every ``$__conditionalAll(condition, $var)``, innermost-last as the plugin
    does (it scans from the end)."""
    at = sql.rfind(_CONDITIONAL_ALL)
    while at != -1:
        args, _ = _macro_args(sql, at + len(_CONDITIONAL_ALL) - 1)
        if len(args) != 2:
            raise GrafanaSqlError(
                f"$__conditionalAll needs exactly two arguments (a condition without "
                f"top-level commas, then $var): {sql[at : at + 80]!r}"
            )
        name = _VAR_IN_ARG.search(args[1].strip())
        if name is None or name.group() not in variables:
            raise GrafanaSqlError(f"$__conditionalAll names no known variable: {args[1]!r}")
        phrase = "1=1" if _is_all(variables[name.group()]) else args[0]
        sql = sql.replace(f"{_CONDITIONAL_ALL}{args[0]},{args[1]})", phrase, 1)
        at = sql.rfind(_CONDITIONAL_ALL)
    return sql


# --- 2. template variables (templateSrv.replace with the plugin's format) -------------

# Grafana's variable regex: $name | [[name:fmt]] | ${name.path:fmt}
_VARIABLE = re.compile(
    r"\$(\w+)|\[\[(\w+?)(?::(\w+))?\]\]|\$\{(\w+)(?:\.([^:^}]+))?(?::([^}]+))?\}"
)


def _singlequote(value: str) -> str:
    return "'" + value.replace("'", "\\'") + "'"


def _format(name: str, value: VariableValue, fmt: str | None) -> str:
    values = [value] if isinstance(value, str) else list(value)
    if ALL in values:
        raise GrafanaSqlError(
            f"${name} is 'All' outside $__conditionalAll: Grafana would splice in every "
            "option; wrap the condition in $__conditionalAll(..., $" + name + ")"
        )
    if fmt is None:
        # The plugin's own format(): arrays become 'a','b' (no escaping), scalars stay raw.
        return value if isinstance(value, str) else ",".join(f"'{v}'" for v in values)
    if fmt == "singlequote":
        return ",".join(_singlequote(v) for v in values)
    if fmt == "raw":
        return ",".join(values)
    raise GrafanaSqlError(f"${{{name}:{fmt}}}: format {fmt!r} is not supported here")


def apply_variables(sql: str, variables: Mapping[str, VariableValue]) -> str:
    """Interpolate template variables; names starting with ``__`` (macros, Grafana's
    built-ins) are left for the backend, any other unknown name raises."""

    def replace(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2) or match.group(4)
        fmt = match.group(3) or match.group(6)
        if name.startswith("__"):
            return match.group()
        if name not in variables:
            raise GrafanaSqlError(f"unknown template variable ${name}")
        return _format(name, variables[name], fmt)

    return _VARIABLE.sub(replace, sql)


# --- 3. backend macros (pkg/macros/macros.go) -----------------------------------------


@dataclass(frozen=True)
class QueryWindow:
    """The time picker's range and the panel's interval, as the backend receives them."""

    start: datetime
    end: datetime
    interval: timedelta = timedelta(minutes=1)

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise GrafanaSqlError("the time range must be timezone-aware")


def _unix(t: datetime) -> int:
    return math.floor(t.timestamp())


def _unix_ms(t: datetime) -> int:
    return math.floor(t.timestamp() * 1000)


def _one_arg(name: str, args: list[str]) -> str:
    if len(args) != 1:
        raise GrafanaSqlError(f"$__{name} expects 1 argument, received {len(args)}")
    return args[0].strip()


def _expand_macro(name: str, args: list[str] | None, window: QueryWindow) -> str:
    seconds = max(int(window.interval.total_seconds()), 1)
    dt_from, dt_to = f"toDateTime({_unix(window.start)})", f"toDateTime({_unix(window.end)})"
    ms_from = f"fromUnixTimestamp64Milli({_unix_ms(window.start)})"
    ms_to = f"fromUnixTimestamp64Milli({_unix_ms(window.end)})"
    plain = {
        "fromTime": dt_from,
        "toTime": dt_to,
        "fromTime_ms": ms_from,
        "toTime_ms": ms_to,
        "interval_s": str(seconds),
    }
    if name in plain:
        return plain[name]
    if args is None:
        raise GrafanaSqlError(f"unknown macro $__{name} (or it needs arguments)")
    if name == "timeFilter":
        col = _one_arg(name, args)
        return f"{col} >= {dt_from} AND {col} <= {dt_to}"
    if name == "timeFilter_ms":
        col = _one_arg(name, args)
        return f"{col} >= {ms_from} AND {col} <= {ms_to}"
    if name == "timeInterval":
        col = _one_arg(name, args)
        return f"toStartOfInterval(toDateTime({col}), INTERVAL {seconds} second)"
    if name == "timeInterval_ms":
        col = _one_arg(name, args)
        ms = max(int(window.interval.total_seconds() * 1000), 1)
        return f"toStartOfInterval(toDateTime64({col}, 3), INTERVAL {ms} millisecond)"
    raise GrafanaSqlError(f"unknown macro $__{name}")


_MACRO = re.compile(r"\$__(\w+)")


def apply_macros(sql: str, window: QueryWindow) -> str:
    """Expand the backend's time macros (a macro inside another's arguments first)."""
    out: list[str] = []
    pos = 0
    for match in _MACRO.finditer(sql):
        if match.start() < pos:  # inside the arguments of a macro already expanded
            continue
        out.append(sql[pos : match.start()])
        args: list[str] | None = None
        pos = match.end()
        if sql.startswith("(", pos):
            args, pos = _macro_args(sql, pos)
            if pos < 0:
                raise GrafanaSqlError(f"unbalanced parentheses after $__{match.group(1)}")
            args = [apply_macros(arg, window) for arg in args]  # innermost first
        out.append(_expand_macro(match.group(1), args, window))
    out.append(sql[pos:])
    return "".join(out)


def expand(sql: str, window: QueryWindow, variables: Mapping[str, VariableValue]) -> str:
    """The SQL ClickHouse receives for a panel's ``rawSql`` with these variable values
    (a list for a multi-value variable, :data:`ALL` for "All") over ``window``."""
    return apply_macros(apply_variables(apply_conditional_all(sql, variables), variables), window)


# --- dashboards ------------------------------------------------------------------------


@dataclass(frozen=True)
class SqlTarget:
    """One SQL query of a dashboard: a panel target, or a query variable's query."""

    dashboard: str
    title: str  # the panel's title, or "variable <name>"
    panel_type: str  # "variable" for a variable query
    ref_id: str
    raw_sql: str
    format: int | None  # sqlds format: 0 time series, 1 table


def load_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON under deploy/grafana/dashboards, by file name."""
    return {p.name: json.loads(p.read_text()) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: Mapping[str, Any]) -> Iterator[dict[str, Any]]:
    """Every panel, including those nested in (collapsed) rows; rows themselves excluded."""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            yield from panel.get("panels", [])
        else:
            yield panel


def _uid(ref: Any, fallback: Any) -> str | None:
    source = ref if isinstance(ref, Mapping) else fallback
    return source.get("uid") if isinstance(source, Mapping) else None


def sql_targets(uid: str = CLICKHOUSE_UID) -> list[SqlTarget]:
    """Every SQL query against datasource ``uid`` in the provisioned dashboards."""
    found: list[SqlTarget] = []
    for file, dashboard in load_dashboards().items():
        for variable in dashboard.get("templating", {}).get("list", []):
            if variable.get("type") == "query" and _uid(variable.get("datasource"), None) == uid:
                query = variable["query"]
                sql = query["rawSql"] if isinstance(query, Mapping) else query
                found.append(
                    SqlTarget(file, f"variable {variable['name']}", "variable", "", sql, 1)
                )
        for panel in panels(dashboard):
            for target in panel.get("targets", []):
                if _uid(target.get("datasource"), panel.get("datasource")) == uid:
                    found.append(
                        SqlTarget(
                            file,
                            panel["title"],
                            panel["type"],
                            target["refId"],
                            target["rawSql"],
                            target.get("format"),
                        )
                    )
    return found
