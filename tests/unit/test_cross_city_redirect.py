"""The province's capacity redirect into another of its cities (issue 15 item 3), on
hand-computed examples over the example registry (streams/registries/sichuan-example.yaml):
Chengdu (5101) H-510104-01 designated, H-510105-01 reserve; Zigong (5103) H-510302-01
designated, H-510303-01 none.

Distances, by hand on a flat map (1 degree of latitude 111.19 km, of longitude 111.19 x
cos 30 deg): H-510104-01 (30.657, 104.083) to H-510302-01 (29.337, 104.777): 146.8 km
north-south and 66.8 east-west, 161.3 km; to H-510303-01 (29.346, 104.715): 145.8 and
60.9, 158.0 km (the haversine gives the same to 0.1 km)."""

from __future__ import annotations

from typing import Any

import orjson

from streams.core import (
    decode_rollup,
    default_rulebook,
    encode_rollup,
    output_feeds_rollup,
    rollup_many,
)
from streams.stages.topology import decode_feed
from tests.beds_feed import RULES, city_feed, icu, standing, transfer
from topics.outputs import Alert, StockLevel

CHENGDU_FULL = [icu("H-510104-01", 0), icu("H-510105-01", 0)]
ZIGONG = [icu("H-510302-01", 3), icu("H-510303-01", 9)]
T1 = transfer("T-1", "H-510104-01", hour=2)


def _province(events: list[Any]) -> tuple[dict[str, Alert], dict[str, Alert], dict[str, Any]]:
    """(standing city redirects, standing province redirects, the areas) of ``events``."""
    outputs, feed = city_feed(events)
    areas, rolled = rollup_many({}, feed, RULES)
    return standing(outputs, "5101"), standing(rolled, "51"), areas


def test_a_city_with_no_free_bed_is_redirected_to_the_designated_hospital_of_another() -> None:
    city, province, _ = _province([*CHENGDU_FULL, *ZIGONG, T1])
    (mine,) = city.values()
    assert mine.details["suggested_facility"] is None  # "no free bed in the jurisdiction"
    (crossed,) = province.values()
    # designated H-510302-01 (3 free) before H-510303-01 (9 free, not designated)
    assert (crossed.jurisdiction, crossed.subject_id, crossed.level) == ("51", "T-1", "orange")
    assert crossed.at == T1.occurred_at
    assert crossed.incident_id is None
    assert crossed.message == (
        "H-510104-01 has no free icu bed in 5101: redirect to H-510302-01 自流井区第一医院 "
        "in 5103 (designated, 3 free, 161.3 km from H-510104-01)"
    )
    assert crossed.details == {
        "to_facility": "H-510104-01",
        "required_bed": "icu",
        "from_city": "5101",
        "suggested_city": "5103",
        "suggested_facility": "H-510302-01",
        "suggested_name": "自流井区第一医院",
        "suggested_free": 3.0,
        "reason": "designated, 3 free, 161.3 km from H-510104-01",
        "registry_version": "2026.1-example",
    }


def test_a_late_snapshot_of_the_other_city_moves_the_redirect() -> None:
    # H-510302-01 full as of 09:00 (reported after the request): the next best is taken
    late = icu("H-510302-01", 0, hour=1)
    _, province, _ = _province([*CHENGDU_FULL, *ZIGONG, T1, late])
    (crossed,) = province.values()
    assert crossed.details["suggested_facility"] == "H-510303-01"
    assert crossed.details["reason"] == "none, 9 free, 158.0 km from H-510104-01"
    # ... and both full: the province has nowhere to send it either
    _, province, _ = _province([*CHENGDU_FULL, *ZIGONG, T1, late, icu("H-510303-01", 0, 1)])
    assert province == {}


def test_a_snapshot_after_the_request_changes_nothing() -> None:
    _, province, _ = _province([*CHENGDU_FULL, *ZIGONG, T1, icu("H-510302-01", 0, hour=3)])
    assert [a.details["suggested_facility"] for a in province.values()] == ["H-510302-01"]


def test_a_bed_freed_in_the_city_retracts_the_province_s_redirect() -> None:
    freed = icu("H-510105-01", 2, hour=1)  # reported late: the city has a bed after all
    city, province, _ = _province([*CHENGDU_FULL, *ZIGONG, T1, freed])
    assert [a.details["suggested_facility"] for a in city.values()] == ["H-510105-01"]
    assert province == {}
    # in the order it happened live: raised, then retracted
    _, feed = city_feed([*CHENGDU_FULL, *ZIGONG, T1])
    _, more = city_feed([*CHENGDU_FULL, *ZIGONG, T1, freed])
    _, rolled = rollup_many({}, [*feed, *more], RULES)
    assert [(a.retracted, a.revision) for a in rolled if isinstance(a, Alert)] == [
        (False, 0),
        (True, 1),
    ]


def test_a_transfer_ended_before_its_request_is_not_redirected() -> None:
    arrived = transfer("T-1", "H-510104-01", hour=1, state="arrived")
    city, province, _ = _province([*CHENGDU_FULL, *ZIGONG, T1, arrived])
    assert city == province == {}


def test_the_request_s_own_city_and_other_provinces_are_not_crossed_into() -> None:
    # Zigong has no report: nowhere else in province 51 to go
    city, province, areas = _province([*CHENGDU_FULL, T1])
    assert len(city) == 1
    assert province == {}
    assert set(areas) == {"51"}


def test_drills_stay_apart_from_actual_beds() -> None:
    drill = [icu("H-510302-01", 5, status="Exercise"), icu("H-510303-01", 5, status="Exercise")]
    _, province, _ = _province([*CHENGDU_FULL, *drill, T1])
    assert province == {}


def test_without_a_registry_nothing_is_forwarded() -> None:
    outputs, feed = city_feed([*CHENGDU_FULL, *ZIGONG, T1], default_rulebook())
    assert any(isinstance(o, StockLevel) for o in outputs)
    assert any(isinstance(o, Alert) and o.alert_kind == "capacity_redirect" for o in outputs)
    assert feed == []


def test_only_hospital_beds_and_no_bed_redirects_are_forwarded() -> None:
    outputs, feed = city_feed([*CHENGDU_FULL, *ZIGONG, T1])
    assert {(type(f).__name__, getattr(f, "site_id", None)) for f in feed} == {
        ("StockLevel", "H-510104-01"),
        ("StockLevel", "H-510105-01"),
        ("StockLevel", "H-510302-01"),
        ("StockLevel", "H-510303-01"),
        ("Alert", None),
    }
    # the city's icu_capacity_low and the province's own redirect do not go round again
    _, rolled = rollup_many({}, feed, RULES)
    assert [o for o in [*outputs, *rolled] if output_feeds_rollup(o, RULES)] == feed


def test_the_feed_records_decode_as_they_were_written() -> None:
    _, feed = city_feed([*CHENGDU_FULL, *ZIGONG, T1])
    for item in feed:
        assert decode_feed(item.model_dump_json().encode()) == item


def test_a_province_state_encodes_decodes_and_goes_on_alike() -> None:
    _, feed = city_feed([*CHENGDU_FULL, *ZIGONG, T1])
    late = icu("H-510302-01", 0, hour=1)
    _, after = city_feed([*CHENGDU_FULL, *ZIGONG, T1, late])
    areas, _ = rollup_many({}, feed, RULES)
    again = {a: decode_rollup(encode_rollup(s)) for a, s in areas.items()}
    assert {a: encode_rollup(s) for a, s in again.items()} == {
        a: encode_rollup(s) for a, s in areas.items()
    }
    _, straight = rollup_many(areas, after, RULES)
    _, resumed = rollup_many(again, after, RULES)
    assert resumed == straight
    assert [a.details["suggested_facility"] for a in standing(resumed, "51").values()] == [
        "H-510303-01"
    ]


def test_a_province_state_written_before_beds_decodes_and_encodes_as_before() -> None:
    areas, _ = rollup_many({}, [], RULES)
    _, feed = city_feed([*CHENGDU_FULL, *ZIGONG, T1])
    areas, _ = rollup_many({}, feed, RULES)
    blob = orjson.loads(encode_rollup(areas["51"]))
    assert len(blob) == 8  # area, incidents, timeline, revisions, seq, ledger, beds, redirects
    old = orjson.dumps(blob[:6], option=orjson.OPT_SORT_KEYS)
    decoded = decode_rollup(old)
    assert (decoded.beds, decoded.redirects) == ({}, {})
    assert encode_rollup(decoded) == old


def test_a_report_at_the_request_s_instant_counts_though_it_comes_after() -> None:
    # the feed brings Zigong's level after Chengdu's redirect (cities in turn)
    at_request = icu("H-510302-01", 3, hour=2)
    _, feed = city_feed([*CHENGDU_FULL, at_request, T1])
    assert isinstance(feed[-1], StockLevel)
    _, province, _ = _province([*CHENGDU_FULL, at_request, T1])
    assert [a.details["suggested_facility"] for a in province.values()] == ["H-510302-01"]
