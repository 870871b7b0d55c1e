"""Per-key state records (streams.core.changelog) through the worker's RecordStore: read
back after any batch they are the state that wrote them (every byte of ``encode_state``,
ledger included, so the fingerprint too); a batch that changes one case writes a fixed
number of records however many cases there are, and a snapshot one segment of its stock
series however long the series; a whole state of the format before, or a series written
whole, is read and rewritten as records."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from streams.core import (
    CoreState,
    Rulebook,
    default_rulebook,
    encode_state,
    initial_state,
    state_fingerprint,
    step_many,
)
from streams.core.changelog import SEGMENT_ROWS, decode_records
from streams.core.compact import dumps
from streams.core.persist import StateDecodeError, _series_out
from streams.simulate import DEFAULT_START, generate, rulebook_for
from streams.stages.state_records import RecordStore
from tests.core_events import case, stock
from tests.folding import send_unsent, valid_records
from topics.models import CaseEvent, StockEvent
from topics.outputs import Tick
from topics.registry import jurisdiction_of

RULES = default_rulebook()
SCENARIOS = ("cholera", "road-mci", "supply-squeeze", "chemical-poisoning", "ili-school", "surge")


def _records(name: str, status: str) -> list[Any]:
    return valid_records(generate(name, 1, status=status).jsonl().splitlines())


def _fold(
    store: RecordStore, states: dict[str, CoreState], batch: list[Any], rules: Rulebook = RULES
) -> None:
    by_place: dict[str, list[Any]] = {}
    for record in batch:
        if isinstance(record, Tick) and record.jurisdiction is None:
            for jurisdiction in states:
                by_place.setdefault(jurisdiction, []).append(record)
            continue
        place = record.jurisdiction if isinstance(record, Tick) else record.region
        by_place.setdefault(jurisdiction_of(place, 4), []).append(record)
    for jurisdiction, events in by_place.items():
        before = states.get(jurisdiction) or initial_state(jurisdiction)
        after, _ = step_many(before, events, rules)
        if after is not before:
            store.changed(jurisdiction, before, after)
        states[jurisdiction] = after


def _read_back(
    store: RecordStore, changelog: dict[bytes, bytes], states: dict[str, CoreState], rules: Rulebook
) -> None:
    send_unsent(store, changelog)
    fresh = RecordStore(dict(changelog), rules)  # a worker recovering the changelog
    assert sorted(fresh.jurisdictions()) == sorted(states)
    for jurisdiction, state in states.items():
        got = fresh.get(jurisdiction)
        assert got is not None
        assert encode_state(got) == encode_state(state)
        assert state_fingerprint(got) == state_fingerprint(state)


@pytest.mark.parametrize("status", ["Actual", "Exercise"])
@pytest.mark.parametrize("name", SCENARIOS)
def test_records_read_back_are_the_state_after_every_commit(name: str, status: str) -> None:
    records = _records(name, status)
    rules = rulebook_for(name)
    store = RecordStore({}, rules)
    states: dict[str, CoreState] = {}
    changelog: dict[bytes, bytes] = {}
    size = max(1, len(records) // 12)
    for i in range(0, len(records), size):
        _fold(store, states, records[i : i + size], rules)
        store.flush()
        _read_back(store, changelog, states, rules)
        for jurisdiction, state in states.items():  # and what this worker holds is it too
            assert store.get(jurisdiction) is state
    assert states


def _case(n: int, minute: int) -> CaseEvent:
    at = DEFAULT_START + timedelta(minutes=minute)
    return case(
        n,
        at,
        cls="confirmed" if n % 3 else "suspected",
        facility=f"H{n % 7}",
        event_id=f"e-{n}-{minute}",
    )


def _records_of_one_more_case(cases: int) -> int:
    store = RecordStore({}, RULES)
    states: dict[str, CoreState] = {}
    _fold(store, states, [_case(n, n % 600) for n in range(cases)])
    store.flush()
    store.take_unsent()
    _fold(store, states, [_case(cases // 2, 900)])  # a later event of one case
    store.flush()
    return sum(len(records) for records in store.take_unsent().values())


def test_a_change_to_one_case_writes_the_same_few_records_at_any_size() -> None:
    small, large = _records_of_one_more_case(300), _records_of_one_more_case(6000)
    # the jurisdiction's record, the namespace's, the case and its track (+ ledger entries)
    assert small == large <= 6


def test_a_whole_state_of_the_format_before_is_read_then_rewritten_as_records() -> None:
    states: dict[str, CoreState] = {}
    _fold(RecordStore({}, RULES), states, [_case(n, n) for n in range(40)])
    old = states["5101"]
    data = {b"5101": encode_state(old)}
    store = RecordStore(data, RULES)
    got = store.get("5101")
    assert got is not None and encode_state(got) == encode_state(old)
    after, _ = step_many(got, [_case(7, 500)], RULES)
    store.changed("5101", got, after)
    store.flush()
    assert data == {}  # read, then held decoded: its record left the local copy
    changelog = {b"5101": encode_state(old)}
    send_unsent(store, changelog)  # rewritten as records, the old key tombstoned
    assert b"5101" not in changelog and b"5101|" in changelog
    again = RecordStore(changelog, RULES).get("5101")
    assert again is not None and encode_state(again) == encode_state(after)


def test_records_of_another_jurisdiction_or_garbage_are_refused() -> None:
    with pytest.raises(StateDecodeError):
        decode_records("5101", {"1101|": b"[4,0,[]]"}, RULES)
    with pytest.raises(StateDecodeError):
        decode_records("5101", {"5101|": b"not json"}, RULES)


def test_a_lost_partition_leaves_the_local_copy_and_the_states_held_and_the_rest_stay() -> None:
    """What a fenced commit could not send must not be read back (streams/live/fencing),
    whether still as records or held decoded."""
    writer = RecordStore({}, RULES)
    states: dict[str, CoreState] = {}
    chengdu = [_case(n, n) for n in range(5)]  # 5101: partition 4
    chongqing = [case(n, DEFAULT_START, region="500103", event_id=f"cq-{n}") for n in range(3)]
    _fold(writer, states, [*chengdu, *chongqing])  # 5001: partition 0
    writer.flush()
    changelog: dict[bytes, bytes] = {}
    send_unsent(writer, changelog)
    for read_first in ((), ("5101",), ("5001",), ("5101", "5001")):
        data = dict(changelog)
        store = RecordStore(data, RULES)
        for jurisdiction in read_first:
            assert store.get(jurisdiction) is not None
        assert sorted(store.jurisdictions()) == ["5001", "5101"]
        store.drop_partitions([4])
        assert store.get("5101") is None and list(store.jurisdictions()) == ["5001"]
        assert all(not raw.startswith(b"5101") for raw in data)
        kept = store.get("5001")
        assert kept is not None and encode_state(kept) == encode_state(states["5001"])
    writer.drop_partitions([4])
    assert writer.get("5101") is None and writer.get("5001") is states["5001"]


def test_a_state_read_or_written_leaves_the_local_copy_until_it_is_reloaded() -> None:
    """A jurisdiction is in memory once: decoded, not also as records; the state held is
    the one of the last flush (what was folded since is not), until a claim refills the
    local copy from the changelog."""
    writer = RecordStore({}, RULES)
    states: dict[str, CoreState] = {}
    _fold(writer, states, [_case(n, n) for n in range(20)])
    writer.flush()
    changelog: dict[bytes, bytes] = {}
    send_unsent(writer, changelog)
    data = dict(changelog)
    store = RecordStore(data, RULES)
    got = store.get("5101")
    assert got is not None and data == {} and list(store.jurisdictions()) == ["5101"]
    after, _ = step_many(got, [_case(7, 500)], RULES)
    store.changed("5101", got, after)
    store.forget()  # a revoke: not flushed, so not held
    assert store.get("5101") is got
    store.changed("5101", got, after)
    store.flush()
    assert store.get("5101") is after and data == {}
    data.update(changelog)  # the claim's read of the changelog, where the flush never landed
    store.reloaded()
    again = store.get("5101")
    assert again is not None and encode_state(again) == encode_state(got)


SERIES = ("H1", "ppe.n95")


def _snapshots(count: int, start: int = 0) -> list[StockEvent]:
    """Hourly N95 reports of one hospital, from hour ``start``."""
    return [
        stock(f"n95-{k}", DEFAULT_START + timedelta(hours=k), *SERIES, 5000.0 - 7 * k % 400)
        for k in range(start, start + count)
    ]


def _series_keys_of_one_more_snapshot(rows: int) -> list[bytes]:
    store = RecordStore({}, RULES)
    states: dict[str, CoreState] = {}
    _fold(store, states, _snapshots(rows))
    store.flush()
    store.take_unsent()
    _fold(store, states, _snapshots(1, start=rows))
    store.flush()
    return [key for records in store.take_unsent().values() for key in records if b"|s|" in key]


def test_a_new_snapshot_writes_the_one_segment_it_lands_in_however_long_the_series() -> None:
    for rows in (300, 3000):
        (key,) = _series_keys_of_one_more_snapshot(rows)
        assert key.endswith(f"|{rows // SEGMENT_ROWS}".encode())


def test_late_snapshots_across_segments_read_back_after_every_commit() -> None:
    """In-order snapshots append to the columns the written state shares; late ones land
    in old segments (the columns copied): both are written from the row that changed."""
    snapshots = _snapshots(700)
    late = [s for k, s in enumerate(snapshots) if k % 97 == 5]  # rows 5, 102, …, 587
    on_time = [s for s in snapshots if s not in late]
    store = RecordStore({}, RULES)
    states: dict[str, CoreState] = {}
    changelog: dict[bytes, bytes] = {}
    for batch in [on_time[i : i + 150] for i in range(0, len(on_time), 150)] + [late[:3], late[3:]]:
        _fold(store, states, batch)
        store.flush()
        _read_back(store, changelog, states, RULES)
    assert states["5101"].namespaces["Actual"].stock[SERIES].n == 700


def test_a_series_written_whole_is_read_then_rewritten_in_segments() -> None:
    store = RecordStore({}, RULES)
    states: dict[str, CoreState] = {}
    _fold(store, states, _snapshots(600))
    store.flush()
    changelog: dict[bytes, bytes] = {}
    send_unsent(store, changelog)
    # the series as the version before wrote it: whole, keyed by its id alone
    old = {key: value for key, value in changelog.items() if b"|s|" not in key}
    whole_key = b'5101|Actual|s|["H1","ppe.n95"]'
    old[whole_key] = dumps(_series_out(SERIES, states["5101"].namespaces["Actual"].stock[SERIES]))
    reader = RecordStore(dict(old), RULES)
    got = reader.get("5101")
    assert got is not None and encode_state(got) == encode_state(states["5101"])
    after, _ = step_many(got, _snapshots(1, start=600), RULES)
    reader.changed("5101", got, after)
    reader.flush()
    send_unsent(reader, old)  # every segment written, the whole record tombstoned
    assert whole_key not in old
    assert len([key for key in old if b"|s|" in key]) == 601 // SEGMENT_ROWS + 1
    again = RecordStore(old, RULES).get("5101")
    assert again is not None and encode_state(again) == encode_state(after)
