"""An item's sums over the jurisdiction's sites (streams.core.totals), kept as snapshots
arrive, equal the sums worked out afresh from each site's latest snapshot (an independent
walk over the sites with ``snapshot_at``, in exact arithmetic), at every instant, for any
arrival order and batching, through bytes or not; fractional counts and snapshots at one
instant included."""

from __future__ import annotations

import itertools
from fractions import Fraction
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.core import decode_state, encode_state, initial_state, step_many
from streams.core.state import Namespace
from streams.core.stock import snapshot_at
from streams.core.totals import totals_of
from tests.property.core_streams import FAST, RULES
from tests.property.test_resources_properties import city_streams

ITEMS = ("ppe.gown", "bed.isolation")
SITES = ("D1", "H1", "H2", "H3")
snapshots = st.fixed_dictionaries(
    {
        "kind": st.just("stock"),
        "site_id": st.sampled_from(SITES),
        "site_type": st.just("hospital"),
        "item": st.sampled_from(ITEMS),
        "on_hand": st.sampled_from([0.0, 0.1, 2.5, 9.0, 30000.0]),
        "baseline": st.sampled_from([None, None, 0.0, 10.0, 20.0, 0.3, 20000.0]),
    }
)
streams = city_streams(snapshots, st.integers(0, 6), min_size=1, max_size=25)


def afresh(ns: Namespace, item: str, t: int) -> tuple[Fraction, Fraction, int]:
    on_hand, baseline, counted = Fraction(0), Fraction(0), 0
    for site in SITES:
        snap = snapshot_at(ns, site, item, t)
        if snap is not None:
            on_hand += Fraction(snap.on_hand)
            baseline += Fraction(snap.baseline or 0.0)
            counted += 1
    return on_hand, baseline, counted


def check(state: Any) -> None:
    ns = state.namespaces.get("Actual")
    if ns is None:
        return  # every snapshot so far refused (on_hand above twice its baseline)
    times = sorted({t for s in ns.stock.values() for t in s.times[: s.n]})
    for item, t in itertools.product(ITEMS, [times[0] - 1, *times, times[-1] + 1]):
        on_hand, baseline, counted = afresh(ns, item, t)
        got = totals_of(ns, item).at(t)
        assert (got.on_hand, got.baseline, got.counted) == (
            float(on_hand),
            float(baseline),
            counted,
        ), (item, t)


@FAST
@given(streams, st.randoms(use_true_random=False), st.lists(st.integers(0, 25), max_size=4))
def test_totals_equal_the_sums_afresh(events: list[Any], rnd: Any, cuts: list[int]) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(shuffled)), len(shuffled)]
    state = initial_state("5101")
    for n, (lo, hi) in enumerate(itertools.pairwise(bounds)):
        if n % 2:  # every other batch from bytes: totals built afresh, then kept
            state = decode_state(encode_state(state))
        state, _ = step_many(state, shuffled[lo:hi], RULES)
        check(state)
