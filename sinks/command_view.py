"""The command view's read side: what the room asks ClickHouse, as plain rows.

Used by ``tierflow board`` and by the demo; every query reads ``FINAL`` (the latest
version of each row) and only ``status = 'Actual'`` rows, so drills never show up here —
unless asked for: ``tierflow board --status Exercise`` reads a drill's rows (in
``<database>_exercise``) with the same queries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, get_args

from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.client import Client
from clickhouse_connect.driver.exceptions import DatabaseError

from sinks.display import printable
from topics.vocabulary import Status

TIER_ORDER = "multiIf(tier = 'I', 1, tier = 'II', 2, tier = 'III', 3, tier = 'IV', 4, 5)"

# ``tier`` is the rules' recommendation, ``declared_tier`` the declaration the plan's
# tasks follow (with the lag of the latest declaration); the board shows both.
ACTIVE_INCIDENTS = f"""
SELECT incident_id, jurisdiction, category, disease, tier, declared_tier, decision_lag_s,
       warning, phase, updated_at, headline
FROM incidents FINAL
WHERE status = 'Actual' AND phase != 'closed'
  AND (tier IS NOT NULL OR declared_tier IS NOT NULL
       -- a warning the multi-point trigger opened, until it escalates or stands down
       OR (warning AND incident_id NOT IN (
           SELECT incident_id FROM tier_timeline FINAL
           WHERE status = 'Actual' AND NOT retracted)))
ORDER BY {TIER_ORDER}, updated_at DESC
LIMIT 50
"""

# Incidents whose tier was dropped after the disease's quiet period: the room still wants
# their story (and their open or overdue tasks) after they left the active list.
STOOD_DOWN = """
SELECT incident_id, jurisdiction, category, disease, tier, declared_tier, decision_lag_s,
       warning, phase, updated_at, headline
FROM incidents FINAL
WHERE status = 'Actual' AND tier IS NULL AND declared_tier IS NULL
  AND incident_id IN (
      SELECT incident_id FROM tier_timeline FINAL WHERE status = 'Actual' AND NOT retracted)
ORDER BY updated_at DESC
LIMIT 10
"""

TIMELINE = """
SELECT incident_id, effective_at, previous_tier, tier, rule_ids, decided_at
FROM tier_timeline FINAL
WHERE status = 'Actual' AND NOT retracted AND basis = 'recommended'
ORDER BY incident_id, effective_at
"""

# Overdue tasks of live tiers only: those the incident's current tier changes issued (the
# declared one's plan tasks, the recommended one's joint assessment). Tasks of a tier it
# has since left (superseded) or of an incident that stood down are history for the
# after-action review, not work for the room; the board counts them apart.
CURRENT_TIERS = """
SELECT incident_id, basis, tier, effective_at AS since
FROM tier_timeline FINAL
WHERE status = 'Actual' AND NOT retracted
ORDER BY incident_id, basis, effective_at DESC, decision_id DESC
LIMIT 1 BY incident_id, basis
"""

# A stockpile replenishment task (incident ``stockpile/<jurisdiction>/<item>``) follows no
# tier: it is work for the room while overdue.
OVERDUE_TASKS = f"""
SELECT * FROM (
  SELECT DISTINCT t.task_id AS task_id, t.incident_id AS incident_id, t.tier AS tier,
         t.agency_type AS agency_type, t.action AS action, t.due_at AS due_at
  FROM tasks AS t FINAL
  INNER JOIN ({CURRENT_TIERS}) AS current ON t.incident_id = current.incident_id
  WHERE t.status = 'Actual' AND t.state = 'overdue'
    AND current.tier IS NOT NULL AND t.tier = current.tier AND t.issued_at >= current.since
  UNION ALL
  SELECT task_id, incident_id, tier, agency_type, action, due_at
  FROM tasks FINAL
  WHERE status = 'Actual' AND state = 'overdue' AND startsWith(incident_id, 'stockpile/')
)
ORDER BY incident_id, due_at, agency_type
"""

OVERDUE_COUNT = "SELECT count() FROM tasks FINAL WHERE status = 'Actual' AND state = 'overdue'"

# Free beds of the kinds a transfer most often waits for, against each hospital's capacity
# (EDXL-HAVE AvailableCount / BaselineCount), the beds it can open within the surge lead
# time (convertible, 平战转换), and those an acked conversion opened by now (the standing
# beds_converted alert of the site and item, streams/core/surge.py). A report without a
# baseline or a convertible count keeps the last one known (argMax skips NULLs).
BEDS = """
SELECT site_id, item, free, baseline, convertible, converted, latest_at
FROM (
  SELECT site_id, item, argMax(on_hand, at) AS free, argMax(baseline, at) AS baseline,
         argMax(convertible, at) AS convertible, max(at) AS latest_at
  FROM stock_levels FINAL
  WHERE status = 'Actual' AND site_type = 'hospital' AND item IN ('bed.icu', 'bed.isolation')
  GROUP BY site_id, item
) AS reported
LEFT JOIN (
  SELECT splitByChar('/', subject_id)[1] AS site_id, splitByChar('/', subject_id)[2] AS item,
         argMax(JSONExtractFloat(details, 'beds'), at) AS converted
  FROM alerts FINAL
  WHERE status = 'Actual' AND alert_kind = 'beds_converted' AND NOT retracted AND at <= now64(3)
  GROUP BY site_id, item
) AS opened USING (site_id, item)
ORDER BY site_id, item
"""

TRANSFERS_IN_FLIGHT = """
SELECT transfer_id, triage, from_facility, to_facility, required_bed, transfer_status, eta
FROM transfers FINAL
WHERE status = 'Actual' AND transfer_status IN ('requested', 'dispatched', 'en_route')
ORDER BY eta NULLS LAST, transfer_id
LIMIT 30
"""

REDIRECTS = """
SELECT subject_id, jurisdiction, at, message
FROM alerts FINAL
WHERE status = 'Actual' AND alert_kind = 'capacity_redirect' AND NOT retracted
ORDER BY at DESC
LIMIT 20
"""

DAYS_OF_COVER = """
SELECT site_id, item, argMax(on_hand, at) AS latest_on_hand,
       argMax(days_of_cover, at) AS latest_days_of_cover,
       argMax(days_at_full_load, at) AS latest_days_at_full_load, max(at) AS latest_at
FROM stock_levels FINAL
WHERE status = 'Actual' AND item NOT LIKE 'bed.%' AND item NOT LIKE 'staff.%'
  AND item NOT LIKE 'team.%'
GROUP BY site_id, item
ORDER BY latest_days_of_cover ASC NULLS LAST
LIMIT 30
"""

# Staff and teams available now (issue 15): each site's latest count, summed by jurisdiction.
STAFF = """
SELECT jurisdiction, item, sum(latest) AS available, count() AS sites, max(latest_at) AS latest_at
FROM (
  SELECT jurisdiction, site_id, item, argMax(on_hand, at) AS latest, max(at) AS latest_at
  FROM stock_levels FINAL
  WHERE status = 'Actual' AND (item LIKE 'staff.%' OR item LIKE 'team.%')
  GROUP BY jurisdiction, site_id, item
)
GROUP BY jurisdiction, item
ORDER BY jurisdiction, item
"""

# The incidents' forecasts (issue 15 item 5, streams/core/forecast.py): the figures the
# core put in each open incident's metrics; a figure the core left undefined is NULL.
FORECASTS = """
SELECT incident_id, jurisdiction, category, disease,
       metrics['confirmed_window'] AS confirmed_window,
       metrics['confirmed_window_before'] AS confirmed_window_before,
       if(mapContains(metrics, 'doubling_days'), metrics['doubling_days'], NULL)
         AS doubling_days,
       metrics['cases_critical'] AS critical,
       if(mapContains(metrics, 'icu_capacity'), metrics['icu_capacity'], NULL) AS icu_capacity,
       if(mapContains(metrics, 'icu_days_to_exceed'), metrics['icu_days_to_exceed'], NULL)
         AS icu_days_to_exceed
FROM incidents FINAL
WHERE status = 'Actual' AND phase != 'closed' AND mapContains(metrics, 'confirmed_window')
ORDER BY icu_days_to_exceed ASC NULLS LAST, doubling_days ASC NULLS LAST, incident_id
LIMIT 20
"""

DLQ_COUNT = "SELECT count() FROM rejected_events FINAL"


@dataclass(frozen=True)
class Board:
    """One snapshot of the command view."""

    incidents: list[dict[str, Any]]
    stood_down: list[dict[str, Any]]
    timeline: dict[str, list[dict[str, Any]]]
    overdue_tasks: list[dict[str, Any]]
    transfers: list[dict[str, Any]]
    redirects: list[dict[str, Any]]
    stock: list[dict[str, Any]]
    dlq_count: int
    beds: list[dict[str, Any]] = field(default_factory=list)
    staff: list[dict[str, Any]] = field(default_factory=list)  # staff and teams
    forecasts: list[dict[str, Any]] = field(default_factory=list)  # growth and ICU outlook
    # Overdue tasks of stood-down incidents and superseded tiers, left off the board.
    overdue_elsewhere: int = 0


def named_rows(
    client: Client, sql: str, parameters: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """The rows of ``sql`` by column name, their text made printable
    (:func:`sinks.display.printable`): agencies wrote much of it."""
    return [
        {name: printable(value) for name, value in row.items()}
        for row in client.query(sql, parameters=parameters).named_results()
    ]


def of_status(sql: str, status: Status) -> str:
    """``sql`` (a query of this module) reading ``status`` rows instead of Actual ones."""
    if status not in get_args(Status):
        raise ValueError(f"status {status!r}: one of {', '.join(get_args(Status))}")
    return sql.replace("status = 'Actual'", f"status = '{status}'")


def read_board(client: Client, status: Status = "Actual") -> Board:
    """Read the command view from the client's database: its ``status`` rows (a drill's
    are ``Exercise``, in ``<database>_exercise``)."""

    def rows(sql: str) -> list[dict[str, Any]]:
        return named_rows(client, of_status(sql, status))

    timeline: dict[str, list[dict[str, Any]]] = {}
    for row in rows(TIMELINE):
        timeline.setdefault(row["incident_id"], []).append(row)
    overdue = rows(OVERDUE_TASKS)
    return Board(
        incidents=rows(ACTIVE_INCIDENTS),
        stood_down=rows(STOOD_DOWN),
        timeline=timeline,
        overdue_tasks=overdue,
        transfers=rows(TRANSFERS_IN_FLIGHT),
        redirects=rows(REDIRECTS),
        stock=rows(DAYS_OF_COVER),
        dlq_count=_count(client, DLQ_COUNT),
        beds=rows(BEDS),
        staff=rows(STAFF),
        forecasts=rows(FORECASTS),
        overdue_elsewhere=int(rows(OVERDUE_COUNT)[0]["count()"]) - len(overdue),
    )


def database_exists(client: Client, database: str) -> bool:
    """Whether ``database`` exists, asked the way the read-only user may (it reads no
    system tables): ClickHouse answers UNKNOWN_DATABASE for one that does not."""
    try:
        client.query(f"SELECT 1 FROM {quote_identifier(database)}.incidents LIMIT 0")
    except DatabaseError as exc:
        if "UNKNOWN_DATABASE" in str(exc):
            return False
        raise
    return True


def _count(client: Client, sql: str) -> int:
    return int(client.query(sql).result_rows[0][0])


TIER_CHANGES = """
SELECT incident_id, effective_at, tier, rule_ids, decided_at, basis, declared_by
FROM tier_timeline FINAL
WHERE status = 'Actual' AND NOT retracted
ORDER BY incident_id, effective_at
"""


def read_tier_changes(client: Client, status: Status = "Actual") -> list[dict[str, Any]]:
    """Every ``status`` tier change of the client's database, by incident then time."""
    return named_rows(client, of_status(TIER_CHANGES, status))


# --- after-action review (``tierflow review report``): the whole record, not a snapshot --

REVIEW_INCIDENTS = """
SELECT incident_id, jurisdiction, category, disease, headline, phase, warning, tier,
       declared_tier, opened_at, updated_at, rulebook_version
FROM incidents FINAL
WHERE status = 'Actual' AND merged_into IS NULL
ORDER BY opened_at, incident_id
"""

REVIEW_TIMELINE = """
SELECT incident_id, effective_at, previous_tier, tier, rule_ids, evidence, decided_at,
       rulebook_version, basis, declared_by, reason
FROM tier_timeline FINAL
WHERE status = 'Actual' AND NOT retracted
ORDER BY incident_id, effective_at, decision_id
"""

REVIEW_TASKS = """
SELECT task_id, incident_id, tier, agency_type, action, issued_at, due_at, state, acked_at
FROM tasks FINAL
WHERE status = 'Actual' AND state != 'retracted'
ORDER BY incident_id, issued_at, agency_type, task_id
"""

REVIEW_TRANSFERS = """
SELECT transfer_id, incident_id, triage, from_facility, to_facility, required_bed,
       transfer_status, occurred_at, eta
FROM transfers FINAL
WHERE status = 'Actual'
ORDER BY occurred_at, transfer_id
"""

REVIEW_LOGISTICS_ALERTS = """
SELECT alert_kind, level, subject_id, incident_id, at, message
FROM alerts FINAL
WHERE status = 'Actual' AND alert_kind IN ('capacity_redirect', 'transfer_delayed')
  AND NOT retracted
ORDER BY at, alert_id
"""

REVIEW_DAYS_OF_COVER = """
SELECT site_id, item, at, on_hand, days_of_cover, days_at_full_load
FROM stock_levels FINAL
WHERE status = 'Actual' AND days_of_cover IS NOT NULL
ORDER BY site_id, item, at
"""

# The forecasts the run made (issue 15 item 5) and the ICU beds that tell what happened.
REVIEW_FORECASTS = """
SELECT incident_id, jurisdiction, at, details
FROM alerts FINAL
WHERE status = 'Actual' AND alert_kind = 'capacity_forecast' AND NOT retracted
ORDER BY at, alert_id
"""

REVIEW_ICU = """
SELECT site_id, jurisdiction, at, on_hand
FROM stock_levels FINAL
WHERE status = 'Actual' AND item = 'bed.icu'
ORDER BY at, site_id
"""


@dataclass(frozen=True)
class ReviewRecord:
    """Everything an after-action report shows of one database (Actual rows, retracted
    decisions left out)."""

    incidents: list[dict[str, Any]]
    timeline: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    transfers: list[dict[str, Any]]
    logistics_alerts: list[dict[str, Any]]
    days_of_cover: list[dict[str, Any]]
    forecasts: list[dict[str, Any]] = field(default_factory=list)  # capacity_forecast alerts
    icu: list[dict[str, Any]] = field(default_factory=list)  # bed.icu snapshots


def read_review_record(client: Client, status: Status = "Actual") -> ReviewRecord:
    """Read the after-action record of the client's database (a review's or the live one):
    its ``status`` rows (a drill's: Exercise, in an exercise database)."""

    def rows(sql: str) -> list[dict[str, Any]]:
        return named_rows(client, of_status(sql, status))

    return ReviewRecord(
        incidents=rows(REVIEW_INCIDENTS),
        timeline=rows(REVIEW_TIMELINE),
        tasks=rows(REVIEW_TASKS),
        transfers=rows(REVIEW_TRANSFERS),
        logistics_alerts=rows(REVIEW_LOGISTICS_ALERTS),
        days_of_cover=rows(REVIEW_DAYS_OF_COVER),
        forecasts=rows(REVIEW_FORECASTS),
        icu=rows(REVIEW_ICU),
    )
