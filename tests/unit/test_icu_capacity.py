"""ICU occupancy (issue 13 item 3): a jurisdiction's free bed.icu beds over their baseline
below the default rulebook's 15 % raise icu_capacity_low, once per fall below; worked out
by hand, then checked for arrival order."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from streams.core import default_rulebook, initial_state, step_many
from streams.core.rulebook import Rulebook
from tests.folding import fold_shuffled
from topics.models import StockEvent
from topics.outputs import Alert

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=CST)
RULES = default_rulebook()


def icu(site: str, hour: int, free: float, baseline: float | None) -> StockEvent:
    at = T0 + timedelta(hours=hour)
    return StockEvent(
        event_id=f"{site}-{hour}",
        kind="stock",
        source={"agency_id": site, "agency_type": "health"},
        occurred_at=at,
        reported_at=at,
        region="510104",
        site_id=site,
        site_type="hospital",
        item="bed.icu",
        on_hand=free,
        baseline=baseline,
    )


# H1 has 20 ICU beds, H2 40: together 60, low below 0.15 x 60 = 9 free.
SNAPSHOTS = [
    icu("H1", 0, 6, 20),  # 6/20 = 30 %      (only H1 has reported)
    icu("H2", 1, 10, 40),  # 16/60 = 26.7 %
    icu("H1", 2, 2, 20),  # 12/60 = 20 %
    icu("H2", 3, 5, 40),  # 7/60 = 11.7 %   below: the alert
    icu("H1", 4, 1, 20),  # 6/60 = 10 %     still below: no second alert
    icu("H2", 5, 20, 40),  # 21/60 = 35 %    recovered
    icu("H3", 5, 0, None),  # no baseline: counts in neither sum
    icu("H1", 6, 0, 20),  # 20/60 = 33.3 %
    icu("H2", 7, 3, 40),  # 3/60 = 5 %      below again: the second alert
]


def standing(out: list[object]) -> dict[str, tuple[datetime, float, float]]:
    """The icu alerts in force after ``out``: emitted and not retracted."""
    alive: dict[str, tuple[datetime, float, float]] = {}
    for a in out:
        if isinstance(a, Alert) and a.alert_kind == "icu_capacity_low":
            if a.retracted:
                del alive[a.alert_id]
            else:
                alive[a.alert_id] = (a.at, a.details["free"], a.details["baseline"])
    return alive


def test_each_fall_below_the_threshold_raises_one_alert() -> None:
    _, out = step_many(initial_state("5101"), SNAPSHOTS, RULES)
    got = sorted(standing(out).values())
    assert got == [(T0 + timedelta(hours=3), 7.0, 60.0), (T0 + timedelta(hours=7), 3.0, 60.0)]
    first = next(a for a in out if isinstance(a, Alert) and a.alert_kind == "icu_capacity_low")
    assert first.level == "orange"
    assert first.subject_id == "5101/bed.icu"
    assert first.message == "bed.icu in 5101: 7 free of 60 (12%, below 15%)"


def test_a_late_snapshot_moves_the_alert() -> None:
    # without H2's 3 h snapshot: 4 h has 1 + 10 = 11 free (18.3 %), not low; the only fall
    # is at 7 h. The late snapshot brings back the 3 h alert and keeps the 7 h one.
    late = SNAPSHOTS[3]
    _, out = step_many(initial_state("5101"), [e for e in SNAPSHOTS if e is not late], RULES)
    assert sorted(v[0] for v in standing(out).values()) == [T0 + timedelta(hours=7)]
    state, out2 = step_many(initial_state("5101"), [e for e in SNAPSHOTS if e is not late], RULES)
    _, more = step_many(state, [late], RULES)
    assert sorted(standing(out2 + more).values()) == sorted(
        standing(step_many(initial_state("5101"), SNAPSHOTS, RULES)[1]).values()
    )


@pytest.mark.parametrize("seed", range(8))
def test_the_alerts_do_not_depend_on_arrival_order(seed: int) -> None:
    _, want = step_many(initial_state("5101"), SNAPSHOTS, RULES)
    assert standing(fold_shuffled(SNAPSHOTS, RULES, seed)) == standing(want)


def test_no_threshold_no_alert() -> None:
    book = Rulebook.model_validate({**RULES.model_dump(), "icu": {"threshold": None}})
    _, out = step_many(initial_state("5101"), SNAPSHOTS, book)
    assert standing(out) == {}
