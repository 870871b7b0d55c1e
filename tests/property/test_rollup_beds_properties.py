"""The province's cross-city redirect (streams.core.rollup_beds) as Hypothesis properties:
over generated ICU reports of Chengdu's and Zigong's hospitals and transfers to Chengdu's,
the city stage's feed (bed levels and "no free bed" redirects, raised and retracted) in any
order, batching and repetition gives the same standing province redirects, equal to the
hand rule: for each standing city redirect, Zigong's designated H-510302-01 if it had a
free bed as of the request, else H-510303-01 if it had one, else none; and a state encoded
and decoded mid-stream goes on to the same answer."""

from __future__ import annotations

import os
import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import decode_rollup, encode_rollup, rollup_many
from tests.beds_feed import HOUR, RULES, T0, city_feed, icu, standing, transfer

EXAMPLES = settings(max_examples=int(os.environ.get("TIERFLOW_EXAMPLES", "60")), deadline=None)
CHENGDU = ("H-510104-01", "H-510105-01")
ZIGONG = ("H-510302-01", "H-510303-01")  # designated, then none: the rank by hand

# per site: {hour: free beds} (one report an hour at most: the city orders same-instant
# reports by event id, which the feed does not carry)
reports = st.dictionaries(st.integers(0, 12), st.integers(0, 2), max_size=4)
transfers = st.lists(
    st.tuples(st.integers(0, 12), st.sampled_from(CHENGDU), st.none() | st.integers(0, 12)),
    max_size=4,
)


def _events(beds: list[dict[int, int]], moves: list[Any]) -> list[Any]:
    events: list[Any] = [
        icu(site, free, hour)
        for site, series in zip((*CHENGDU, *ZIGONG), beds, strict=True)
        for hour, free in series.items()
    ]
    for n, (hour, dest, ended) in enumerate(moves):
        events.append(transfer(f"T-{n}", dest, hour))
        if ended is not None:
            events.append(transfer(f"T-{n}", dest, ended, state="arrived"))
    return events


def _free_as_of(series: dict[int, int], hour: int) -> int:
    known = [h for h in series if h <= hour]
    return series[max(known)] if known else 0


def _by_hand(outputs: list[Any], zigong: list[dict[int, int]]) -> set[tuple[str, str, str]]:
    """(transfer, destination, Zigong hospital) of each standing city redirect."""
    found = set()
    for a in standing(outputs, "5101").values():
        if a.details["suggested_facility"] is not None:
            continue
        hour = int((a.at - T0) / HOUR)
        site = next((s for s, b in zip(ZIGONG, zigong, strict=True) if _free_as_of(b, hour)), None)
        if site is not None:
            found.add((a.subject_id, a.details["to_facility"], site))
    return found


def _answer(rolled: list[Any]) -> set[tuple[str, str, str]]:
    return {
        (a.subject_id, a.details["to_facility"], a.details["suggested_facility"])
        for a in standing(rolled, "51").values()
    }


@EXAMPLES
@given(st.lists(reports, min_size=4, max_size=4), transfers, st.randoms(use_true_random=False))
def test_any_order_batching_and_repetition_gives_the_hand_ranked_redirects(
    beds: list[dict[int, int]], moves: list[Any], rnd: random.Random
) -> None:
    outputs, feed = city_feed(_events(beds, moves))
    _, in_order = rollup_many({}, feed, RULES)
    want = _by_hand(outputs, beds[2:])
    assert _answer(in_order) == want

    shuffled = feed + rnd.sample(feed, k=len(feed) // 2)
    rnd.shuffle(shuffled)
    areas: dict[str, Any] = {}
    rolled: list[Any] = []
    cut = rnd.randint(0, len(shuffled))
    for i in range(0, len(shuffled), rnd.randint(1, 4)):
        if i >= cut:  # a restart: the stage goes on from its encoded states
            areas = {a: decode_rollup(encode_rollup(s)) for a, s in areas.items()}
            cut = len(shuffled) + 1
        areas, out = rollup_many(areas, shuffled[i : i + 4], RULES)
        rolled += out
    assert _answer(rolled) == want
    # everything again changes nothing
    _, again = rollup_many(areas, feed, RULES)
    assert again == []
