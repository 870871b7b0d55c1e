"""The per-key state records (issue 14 item 1) under the core's generated streams, the
logistics and the resources ones (issue 15) among them: folded in any batches, each commit
writing only what its batches touched, the records read back by a worker that recovers
them are the state that wrote them, to the byte (ledger included)."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from streams.core import encode_state, initial_state, step_many
from streams.stages.state_records import RecordStore
from tests.folding import send_unsent
from tests.property.core_streams import FAST, RULES, logistics_streams, streams
from tests.property.test_resources_properties import resource_streams


@FAST
@given(
    st.one_of(streams, logistics_streams, resource_streams),
    st.lists(st.integers(0, 30), max_size=4),
)
def test_records_read_back_are_the_state_after_every_commit(
    events: list[Any], cuts: list[int]
) -> None:
    store = RecordStore({}, RULES)
    changelog: dict[bytes, bytes] = {}
    state = first = initial_state("5101")
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(events)), len(events)]
    for lo, hi in itertools.pairwise(bounds):
        after, _ = step_many(state, events[lo:hi], RULES)
        if after is not state:
            store.changed("5101", state, after)
        state = after
        store.flush()
        send_unsent(store, changelog)
        recovered = RecordStore(dict(changelog), RULES).get("5101")
        if state is first:  # nothing changed yet: nothing written
            assert recovered is None
        else:
            assert recovered is not None and encode_state(recovered) == encode_state(state)
