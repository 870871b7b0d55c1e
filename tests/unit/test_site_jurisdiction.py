"""A registered site reports for itself, in its own jurisdiction: a stock record of a
registry hospital whose ``region`` lies outside the jurisdiction the facility registry
gives it is refused (the DLQ, with a reason naming the field), and changes nothing in the
city it claimed. Planted here: Zigong's H-510302-01 (5103) reporting 20 free ICU beds as
Chengdu (510104) while Chengdu's own hospitals are full."""

from __future__ import annotations

from datetime import datetime

import orjson

from streams.core import compile_rulebook, default_rulebook
from streams.core.checks import value_problem
from streams.stages.batch import Record
from streams.stages.decide import Decider
from streams.stages.ticks import TickClock
from streams.stages.topology import partition_for
from tests.beds_feed import RULES, T0, city_feed, icu, standing, transfer
from topics.outputs import Rejection, StockLevel

CHENGDU_FULL = [icu("H-510104-01", 0), icu("H-510105-01", 0)]
FORGED = icu("H-510302-01", 20).model_copy(update={"region": "510104", "event_id": "forged"})
T1 = transfer("T-1", "H-510104-01", hour=2)


def test_a_registered_site_outside_its_jurisdiction_is_refused_naming_the_field() -> None:
    field, reason = value_problem(FORGED, compile_rulebook(RULES)) or ("", "")
    assert field == "region"
    assert reason == (
        "site outside its registered jurisdiction: H-510302-01 (自流井区第一医院) is in 5103 "
        "by facility registry 2026.1-example, the record says region 510104: publish the "
        "site's own region, or correct the registry"
    )


def test_its_own_region_an_unregistered_site_or_no_registry_pass() -> None:
    comp = compile_rulebook(RULES)
    assert value_problem(icu("H-510302-01", 20), comp) is None  # 510302, inside 5103
    stranger = FORGED.model_copy(update={"site_id": "H-UNLISTED"})
    assert value_problem(stranger, comp) is None  # not in the registry: nothing to compare
    assert value_problem(FORGED, compile_rulebook(default_rulebook())) is None


def test_the_forged_record_changes_nothing_in_the_city_it_claimed() -> None:
    # without it: Chengdu has no free ICU bed, the city's redirect suggests none
    honest, _ = city_feed([*CHENGDU_FULL, T1])
    forged, _ = city_feed([*CHENGDU_FULL, FORGED, T1])
    (alert,) = standing(honest, "5101").values()
    assert alert.details["suggested_facility"] is None
    assert standing(forged, "5101") == standing(honest, "5101")
    assert not [o for o in forged if isinstance(o, StockLevel) and o.site_id == "H-510302-01"]


def test_the_decide_stage_sends_it_to_the_dlq_with_the_reason() -> None:
    stage = Decider(
        prefix="unit",
        digits=4,
        pseudonym_key=b"k",
        rulebook=RULES,
        store=None,
        clock=TickClock("event"),
        now=lambda: datetime(2026, 3, 9, tzinfo=T0.tzinfo),
    )
    records = [
        Record("unit.stock.v1", partition_for("5101"), offset, None, body)
        for offset, body in enumerate(
            orjson.dumps(e.model_dump(mode="json")) for e in [*CHENGDU_FULL, FORGED]
        )
    ]
    out = stage.decide(records).out
    (rejected,) = [o.model for o in out if isinstance(o.model, Rejection)]
    assert (rejected.offset, rejected.field) == (2, "region")
    assert rejected.reason.startswith("site outside its registered jurisdiction: H-510302-01")
    levels = [o.model for o in out if isinstance(o.model, StockLevel)]
    assert {level.site_id for level in levels} == {"H-510104-01", "H-510105-01"}
