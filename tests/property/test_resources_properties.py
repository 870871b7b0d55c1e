"""The core's invariants over dense streams of resources (issue 15): ICU and isolation beds,
ICU nurses (staff_ratio_low), gowns of the stockpile catalogue (stockpile_short and its
replenishment task), ticks (the task going overdue), and a two-week outbreak with
critical cases against few ICU beds (capacity_forecast). The general streams of
``test_core_properties`` carry these rarely; here most examples raise and retract them."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.property.core_streams import FAST, build, nurses, run
from tests.property.test_core_properties import same_for_any_order_and_batching
from topics.outputs import Alert

hospitals = st.sampled_from(["H1", "H2", "H3"])
beds = st.fixed_dictionaries(
    {
        "kind": st.just("stock"),
        "site_id": hospitals,
        "site_type": st.just("hospital"),
        "item": st.sampled_from(["bed.icu", "bed.isolation"]),
        "on_hand": st.sampled_from([0.0, 2.0, 9.0]),
        "baseline": st.sampled_from([None, 10.0, 20.0]),
    }
)
# 30 days x 25 gowns a day x 10–60 isolation beds: 7 500–45 000 needed
gowns = st.fixed_dictionaries(
    {
        "kind": st.just("stock"),
        "site_id": st.sampled_from(["D1", "H1"]),
        "site_type": st.just("depot"),
        "item": st.just("ppe.gown"),
        "on_hand": st.sampled_from([0.0, 5000.0, 9000.0, 30000.0]),
    }
)


def city_streams(
    payloads: st.SearchStrategy[dict[str, Any]],
    hours: st.SearchStrategy[int],
    *,
    min_size: int = 0,
    max_size: int,
) -> st.SearchStrategy[list[Any]]:
    """Lists of events of ``payloads`` at ``hours`` after T0, in one county of Chengdu."""
    rows = st.tuples(payloads, hours, st.just("510104"), st.just("Actual"), st.just(0))
    return st.lists(rows, min_size=min_size, max_size=max_size).map(
        lambda rows: [build(i, row) for i, row in enumerate(rows)]
    )


resource_streams = city_streams(
    st.one_of(beds, beds, nurses, gowns, gowns, st.just({"kind": "tick"})),
    st.integers(0, 72),
    max_size=30,
)


def test_the_streams_raise_what_they_are_for() -> None:
    """The strategy is not vacuous: a fixed example raises both kinds."""
    rows = [
        ({"kind": "stock", "site_id": "H1", "site_type": "hospital", "item": "bed.isolation",
          "on_hand": 2.0, "baseline": 20.0}, 0),
        ({"kind": "stock", "site_id": "D1", "site_type": "depot", "item": "ppe.gown",
          "on_hand": 5000.0}, 1),
        ({"kind": "stock", "site_id": "H1", "site_type": "hospital", "item": "bed.icu",
          "on_hand": 2.0, "baseline": 20.0}, 2),
        ({"kind": "stock", "site_id": "H1", "site_type": "hospital", "item": "staff.icu_nurse",
          "on_hand": 10.0}, 3),
    ]  # fmt: skip
    events = [build(i, (p, h, "510104", "Actual", 0)) for i, (p, h) in enumerate(rows)]
    kinds = {o.alert_kind for o in run(events)[1] if isinstance(o, Alert)}
    assert {"stockpile_short", "staff_ratio_low"} <= kinds


# Cholera over two weeks, three times as dense in the second (growth, a doubling time), a third of
# the cases critical, against few free ICU beds: capacity_forecast raised, moved, retracted.
outbreak_cases = st.fixed_dictionaries(
    {
        "kind": st.just("case"),
        "case_id": st.sampled_from([f"c{i}" for i in range(30)]),
        "patient_ref": st.just("p"),
        "disease": st.just("cholera"),
        "classification": st.sampled_from(["confirmed", "confirmed", "suspected"]),
        "severity": st.sampled_from(["mild", "mild", "critical"]),
        "outcome": st.sampled_from(["none", "none", "none", "died"]),
        "facility_id": st.just("H1"),
    }
)
icu_beds = st.fixed_dictionaries(
    {
        "kind": st.just("stock"),
        "site_id": hospitals,
        "site_type": st.just("hospital"),
        "item": st.just("bed.icu"),
        "on_hand": st.sampled_from([0.0, 2.0, 9.0]),
        "baseline": st.sampled_from([None, 20.0]),
    }
)
forecast_streams = city_streams(
    st.one_of(outbreak_cases, outbreak_cases, outbreak_cases, icu_beds),
    st.one_of(st.integers(0, 168), *(st.integers(168, 336),) * 3),
    min_size=15,  # enough cases for two windows to compare
    max_size=45,
)


@FAST
@given(
    st.one_of(resource_streams, forecast_streams),
    st.randoms(use_true_random=False),
    st.lists(st.integers(0, 45), max_size=4),
)
def test_resources_shown_are_the_same_for_any_order_and_batching(
    events: list[Any], rnd: Any, cuts: list[int]
) -> None:
    same_for_any_order_and_batching(events, rnd, cuts)


def test_the_forecast_streams_raise_what_they_are_for() -> None:
    """Not vacuous: 2 cases in the first week, 4 in the second (2 of them critical), 1
    free ICU bed: doubling in 7 days, 2 critical outgrow 3 beds in 7 log2 1.5 = 4.1 days."""
    rows = [
        ({"kind": "stock", "site_id": "H1", "site_type": "hospital", "item": "bed.icu",
          "on_hand": 1.0, "baseline": 20.0}, 0),
        *(({"kind": "case", "case_id": f"c{n}", "patient_ref": "p", "disease": "cholera",
            "classification": "confirmed", "severity": "critical" if n > 3 else "mild",
            "facility_id": "H1"}, h) for n, h in enumerate((24, 48, 200, 220, 240, 260))),
    ]  # fmt: skip
    events = [build(i, (p, h, "510104", "Actual", 0)) for i, (p, h) in enumerate(rows)]
    kinds = {o.alert_kind for o in run(events)[1] if isinstance(o, Alert)}
    assert "capacity_forecast" in kinds
