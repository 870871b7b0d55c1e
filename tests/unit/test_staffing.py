"""Staff and teams (issue 15 item 1): ``staff.<role>`` and ``team.<kind>`` are stock items;
the default rulebook's ICU minimums (2.5 nurses and 0.8 doctors per occupied ICU bed)
raise ``staff_ratio_low`` once per fall below, worked out by hand, then checked for
arrival order and for a rulebook without minimums."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from streams.core import default_rulebook, initial_state, step_many
from streams.core.rulebook import Rulebook
from tests.folding import fold_shuffled, snapshot
from topics.outputs import Alert, StockLevel

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=CST)
RULES = default_rulebook()


def snap(site: str, item: str, hour: int, on_hand: float, baseline: float | None = None) -> Any:
    return snapshot(T0 + timedelta(hours=hour), site, item, on_hand, baseline)


# H1 has 20 ICU beds. Nurses needed: 2.5 x occupied; doctors: 0.8 x occupied.
SNAPSHOTS = [
    snap("H1", "bed.icu", 0, 12, 20),  # 8 occupied; no staff reported yet: nothing known
    snap("H1", "staff.icu_nurse", 1, 24),  # 24 >= 20 needed
    snap("H1", "staff.icu_doctor", 1, 10),  # 10 >= 6.4
    snap("H1", "bed.icu", 2, 8, 20),  # 12 occupied: 24 < 30 nurses: ALERT; 10 >= 9.6 doctors
    snap("H1", "staff.icu_nurse", 3, 28),  # 28 < 30: still short, no second alert
    snap("H1", "staff.icu_nurse", 4, 30),  # 30 >= 30: recovered
    snap("H1", "bed.icu", 5, 20, 20),  # none occupied
    snap("H1", "bed.icu", 6, 6, 20),  # 14 occupied: 30 < 35 nurses, 10 < 11.2 doctors: ALERTS
    snap("H2", "bed.icu", 2, 0, None),  # no baseline: occupancy unknown
    snap("H2", "staff.icu_nurse", 2, 0),
    snapshot(T0 + timedelta(hours=2), "PLA-MT-1", "team.military_medical", 3, agency="military"),
]


def standing(out: list[object]) -> dict[str, tuple[datetime, str, float, float]]:
    """The staff alerts in force after ``out``: emitted and not retracted."""
    alive: dict[str, tuple[datetime, str, float, float]] = {}
    for a in out:
        if isinstance(a, Alert) and a.alert_kind == "staff_ratio_low":
            if a.retracted:
                del alive[a.alert_id]
            else:
                d = a.details
                alive[a.alert_id] = (a.at, d["staff_item"], d["on_hand"], d["occupied"])
    return alive


def test_each_fall_below_the_minimum_raises_one_alert() -> None:
    _, out = step_many(initial_state("5101"), SNAPSHOTS, RULES)
    assert sorted(standing(out).values()) == [
        (T0 + timedelta(hours=2), "staff.icu_nurse", 24.0, 12.0),
        (T0 + timedelta(hours=6), "staff.icu_doctor", 10.0, 14.0),
        (T0 + timedelta(hours=6), "staff.icu_nurse", 30.0, 14.0),
    ]
    first = next(a for a in out if isinstance(a, Alert) and a.alert_kind == "staff_ratio_low")
    assert (first.level, first.subject_id) == ("orange", "H1/staff.icu_nurse")
    assert first.message == (
        "staff.icu_nurse at H1: 24 for 12 occupied bed.icu (2.00 a bed, minimum 2.5: 30 needed)"
    )
    assert first.details["rule_id"] == "icu-nurses" and first.details["needed"] == 30.0


def test_teams_of_a_military_agency_are_stock_the_view_reads() -> None:
    _, out = step_many(initial_state("5101"), SNAPSHOTS, RULES)
    (team,) = [o for o in out if isinstance(o, StockLevel) and o.item.startswith("team.")]
    assert (team.site_id, team.item, team.on_hand, team.jurisdiction) == (
        "PLA-MT-1",
        "team.military_medical",
        3.0,
        "5101",
    )


def test_a_late_snapshot_moves_the_alert() -> None:
    # without the 2 h bed snapshot, 8 beds stay occupied until 5 h: 24 and 28 nurses are
    # enough (20 needed), so the only falls are at 6 h; the late snapshot brings 2 h back.
    late = SNAPSHOTS[3]
    early = [e for e in SNAPSHOTS if e is not late]
    state, out = step_many(initial_state("5101"), early, RULES)
    assert sorted(v[0] for v in standing(out).values()) == [T0 + timedelta(hours=6)] * 2
    _, more = step_many(state, [late], RULES)
    want = standing(step_many(initial_state("5101"), SNAPSHOTS, RULES)[1])
    assert standing(out + more) == want


@pytest.mark.parametrize("seed", range(8))
def test_the_alerts_do_not_depend_on_arrival_order(seed: int) -> None:
    _, want = step_many(initial_state("5101"), SNAPSHOTS, RULES)
    assert standing(fold_shuffled(SNAPSHOTS, RULES, seed)) == standing(want)


def test_no_minimums_no_alert() -> None:
    book = Rulebook.model_validate({**RULES.model_dump(), "resources": {"staffing": []}})
    _, out = step_many(initial_state("5101"), SNAPSHOTS, book)
    assert standing(out) == {}
