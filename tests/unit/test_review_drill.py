"""`review drill`'s figures per agency, by hand on made rows (issue 13 item 5)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from streams.replay.drill import AgencyScore, agency_scores

T0 = datetime(2026, 3, 5, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)


def task(agency: str, issued_h: float, due_h: float, acked_h: float | None, state: str) -> dict:
    return {
        "agency_type": agency,
        "issued_at": T0 + issued_h * H,
        "due_at": T0 + due_h * H,
        "acked_at": None if acked_h is None else T0 + acked_h * H,
        "state": state,
    }


def test_on_time_late_overdue_median_and_worst() -> None:
    rows = [
        task("health", 0, 2, 1, "acked"),  # 1 h, on time
        task("health", 0, 2, 2, "acked"),  # 2 h, on time (at the due instant)
        task("health", 1, 3, 4, "acked"),  # 3 h, late
        task("health", 1, 3, None, "overdue"),
        task("health", 1, 3, None, "retracted"),  # withdrawn: not counted
        task("transport", 0, 4, None, "open"),  # neither acked nor overdue yet
    ]
    assert agency_scores(rows) == [
        AgencyScore("health", 4, 2, 1, 1, 2 * H, 3 * H),  # waits 1, 2, 3 h: median 2 h
        AgencyScore("transport", 1, 0, 0, 0, None, None),
    ]
