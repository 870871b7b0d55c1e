"""Cases and transfers at rest are packed (``streams.core.state.pack``): a folded state
holds each as one bytes object, a fraction of its record's objects; what the core reads
back is the record it wrote, whatever strings an agency sent, so a hostile id cannot
reach into another case's record; a state read back from its changelog records holds them
packed again."""

from __future__ import annotations

import sys
from datetime import timedelta
from typing import Any

from streams.core import initial_state, state_fingerprint, step_many
from streams.core.state import CoreState, Namespace, all_cases, unpack
from streams.stages.state_records import RecordStore
from tests.core_events import RULES, T0, case, transfer
from tests.folding import send_unsent

# another case's changelog key, control characters, bidi and CJK text: 128 characters,
# the most an id may have
HOSTILE = "5101|Actual|c|case-1\n\x00\x1f|\u202e病例" + "\x81" * 101


def _objects(rec: Any, seen: set[Any]) -> int:
    """The bytes of a record's tuples and of the atoms they hold, each distinct atom
    counted once over all records (as if every equal string and int were shared: fewer
    bytes than the records held unpacked took)."""
    if isinstance(rec, tuple):
        return sys.getsizeof(rec) + sum(_objects(x, seen) for x in rec)
    if rec is None or isinstance(rec, bool) or (type(rec), rec) in seen:
        return 0
    seen.add((type(rec), rec))
    return sys.getsizeof(rec)


def _fold(events: list[Any]) -> CoreState:
    state, _ = step_many(initial_state("5101"), events, RULES)
    return state


def _events(n: int) -> list[Any]:
    cases = [case(k, T0 + timedelta(minutes=k), event_id=f"c-{k}") for k in range(n)]
    moves = [
        transfer(f"x-{k}", T0 + timedelta(minutes=k), state, eta=T0 + timedelta(hours=2))
        for k, state in enumerate(("requested", "dispatched", "en_route"))
    ]
    return [*cases, *moves]


def _actual(state: CoreState) -> Namespace:
    return state.namespaces["Actual"]


def test_a_folded_state_holds_its_cases_and_transfers_packed() -> None:
    ns = _actual(_fold(_events(200)))
    packed = [*ns.cases.values(), *ns.transfers.values()]  # type: ignore[union-attr]
    assert len(ns.cases) == 200 and len(ns.transfers) == 1  # type: ignore[arg-type]
    assert all(type(p) is bytes for p in packed)
    # one bytes object against the tuple, its times and event ids: under half
    seen: set[Any] = set()
    assert sum(map(sys.getsizeof, packed)) * 2 < sum(_objects(unpack(p), seen) for p in packed)


def test_a_hostile_case_id_and_event_id_stay_in_their_own_record() -> None:
    plain = _events(3)
    hostile = case(9, T0, event_id=HOSTILE).model_copy(update={"case_id": HOSTILE})
    with_hostile = _actual(_fold([plain[0], hostile, *plain[1:]]))
    without = _actual(_fold(plain))
    records = dict(all_cases(with_hostile))
    assert records[HOSTILE][2] == HOSTILE  # its latest event id, as sent
    del records[HOSTILE]
    assert records == dict(all_cases(without))
    assert unpack(with_hostile.transfers["TR-1"]) == unpack(without.transfers["TR-1"])  # type: ignore[index]


def test_a_state_read_back_from_its_records_holds_them_packed() -> None:
    state = _fold([*_events(50), case(9, T0, event_id=HOSTILE)])
    store = RecordStore({}, RULES)
    store.changed("5101", initial_state("5101"), state)
    store.flush()
    changelog: dict[bytes, bytes] = {}
    send_unsent(store, changelog)
    back = RecordStore(changelog, RULES).get("5101")
    assert back is not None
    assert state_fingerprint(back) == state_fingerprint(state)
    ns = _actual(back)
    assert all(type(p) is bytes for p in [*ns.cases.values(), *ns.transfers.values()])  # type: ignore[union-attr]
