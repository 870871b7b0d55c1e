"""DESIGN.md section 3 invariants as Hypothesis properties, over generated streams of one
city with duplicates, late events, ticks and drills: determinism, idempotence,
order-insensitivity, split-resume and Exercise isolation."""

from __future__ import annotations

import itertools
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.core import decode_state, encode_state, initial_state, step, step_many, tier_timeline
from streams.core.state import NO_TIME
from tests.property.core_streams import FAST, RULES, facts, logistics_streams, run, streams
from topics.outputs import Alert, Escalation, IncidentState, Task, Tick


@FAST
@given(streams)
def test_deterministic(events: list[Any]) -> None:
    (s1, o1), (s2, o2) = run(events), run(events)
    assert encode_state(s1) == encode_state(s2)
    assert [o.model_dump() for o in o1] == [o.model_dump() for o in o2]


@FAST
@given(streams, st.data())
def test_idempotent_under_repeats(events: list[Any], data: st.DataObject) -> None:
    repeats = data.draw(st.lists(st.sampled_from(events), max_size=10)) if events else []
    mixed = list(events)
    for ev in repeats:
        mixed.insert(data.draw(st.integers(0, len(mixed))), ev)
    assert facts(run(mixed)[0]) == facts(run(events)[0])


@FAST
@given(streams, st.randoms(use_true_random=False))
def test_order_insensitive(events: list[Any], rnd: Any) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert facts(run(shuffled)[0]) == facts(run(events)[0])


@FAST
@given(streams, st.data())
def test_split_resume_through_bytes(events: list[Any], data: st.DataObject) -> None:
    cut = data.draw(st.integers(0, len(events)))
    first, _ = run(events[:cut])
    resumed, _ = step_many(decode_state(encode_state(first)), events[cut:], RULES)
    whole, _ = run(events)
    assert facts(resumed) == facts(whole)


@FAST
@given(streams)
def test_step_many_equals_repeated_step(events: list[Any]) -> None:
    state, outputs = initial_state("5101"), []
    for ev in events:
        state, out = step(state, ev, RULES)
        outputs += out
    batched, batch_out = run(events)
    assert facts(state) == facts(batched)

    def decisions(out: list[Any]) -> list[Any]:  # IncidentState is coalesced per batch
        return [o.model_dump() for o in out if not isinstance(o, IncidentState)]

    assert decisions(outputs) == decisions(batch_out)


@settings(FAST, max_examples=max(FAST.max_examples, 500))  # a quiet spell must come up
@given(streams)
def test_the_derived_indexes_only_skip_work(events: list[Any]) -> None:
    """``track_floor`` (the watermark's advance skips the tracks before it) and
    ``disease_keys`` (a bed report looks at the disease tracks only) change no output:
    forgetting both before every event, so that every advance walks every track and
    every bed report looks at every track, decides the same."""
    kept, forgetful = initial_state("5101"), initial_state("5101")
    for at, ev in enumerate(events):
        kept, out = step(kept, ev, RULES)
        for ns in forgetful.namespaces.values():
            ns.track_floor, ns.disease_keys = NO_TIME, None
        forgetful, same = step(forgetful, ev, RULES)
        # event by event: a de-escalation found one event late would still show the same
        assert [o.model_dump() for o in out] == [o.model_dump() for o in same], at
    assert facts(kept) == facts(forgetful)


@FAST
@given(streams)
def test_exercise_never_touches_actual(events: list[Any]) -> None:
    actual_only = [e for e in events if isinstance(e, Tick) or e.status == "Actual"]
    mixed_state, mixed_out = run(events)
    real_state, real_out = run(actual_only)
    assert tier_timeline(mixed_state) == tier_timeline(real_state)
    mixed_ns = mixed_state.namespaces.get("Actual")
    real_ns = real_state.namespaces.get("Actual")
    if real_ns is None:
        assert mixed_ns is None or not mixed_ns.cases
        return
    assert mixed_ns is not None
    assert encode_state(_only_actual(mixed_state)) == encode_state(_only_actual(real_state))
    assert [o.model_dump() for o in mixed_out if o.status == "Actual"] == [
        o.model_dump() for o in real_out if o.status == "Actual"
    ]


def _only_actual(state: Any) -> Any:
    copy = decode_state(encode_state(state))
    copy.namespaces = {k: v for k, v in copy.namespaces.items() if k == "Actual"}
    return copy


def final_view(outputs: list[Any]) -> set[bytes]:
    """What the command view shows from a stream of outputs: per id, the last copy
    emitted, unless that copy is a retraction; as content without processing time and
    without the revision (how many copies came before depends on arrival order)."""
    last: dict[tuple[str, str, str], Any] = {}
    for out in outputs:  # keyed as the sinks key them (the time column aside)
        if isinstance(out, Escalation):
            last[("escalation", out.status, out.decision_id)] = out
        elif isinstance(out, Task):
            last[("task", out.status, out.task_id)] = out
        elif isinstance(out, Alert):
            last[("alert", out.status, out.alert_id)] = out
    shown = (
        o
        for o in last.values()
        if not (o.state == "retracted" if isinstance(o, Task) else o.retracted)
    )
    return {
        orjson.dumps(
            o.model_dump(mode="json", exclude={"decided_at", "revision"}),
            option=orjson.OPT_SORT_KEYS,
        )
        for o in shown
    }


def run_in_batches(events: list[Any], cuts: list[int]) -> tuple[Any, list[Any]]:
    """Fold ``events`` in batches cut at ``cuts``, through bytes between batches."""
    state, outputs = initial_state("5101"), []
    bounds = [0, *sorted(c for c in cuts if 0 < c < len(events)), len(events)]
    for lo, hi in itertools.pairwise(bounds):
        state, out = step_many(decode_state(encode_state(state)), events[lo:hi], RULES)
        outputs += out
    return state, outputs


@FAST
@given(
    st.one_of(streams, logistics_streams),
    st.randoms(use_true_random=False),
    st.lists(st.integers(0, 45), max_size=6),
)
def test_outputs_shown_are_the_same_for_any_order_and_batching(
    events: list[Any], rnd: Any, cuts: list[int]
) -> None:
    same_for_any_order_and_batching(events, rnd, cuts)


def same_for_any_order_and_batching(events: list[Any], rnd: Any, cuts: list[int]) -> None:
    """Shuffled and folded in batches cut at ``cuts`` (through bytes between them), the
    events show what they show in their order, and leave the same facts."""
    shuffled = list(events)
    rnd.shuffle(shuffled)
    state, outputs = run_in_batches(shuffled, cuts)
    whole_state, whole_outputs = run(events)
    assert final_view(outputs) == final_view(whole_outputs)
    assert facts(state) == facts(whole_state)


def _output_id(out: Any) -> tuple[str, str] | None:
    if isinstance(out, Escalation):
        return out.status, out.decision_id
    if isinstance(out, Task):
        return out.status, out.task_id
    if isinstance(out, Alert):
        return out.status, out.alert_id
    return None


@FAST
@given(
    st.one_of(streams, logistics_streams),
    st.randoms(use_true_random=False),
    st.lists(st.integers(0, 45), max_size=6),
)
def test_the_last_copy_of_every_id_has_the_highest_revision(
    events: list[Any], rnd: Any, cuts: list[int]
) -> None:
    shuffled = list(events)
    rnd.shuffle(shuffled)
    _, outputs = run_in_batches(shuffled, cuts)
    revisions: dict[tuple[str, str], list[int]] = {}
    for out in outputs:
        output_id = _output_id(out)
        if output_id is not None:
            revisions.setdefault(output_id, []).append(out.revision)
    # Copies are numbered 0, 1, 2 … in emission order, across batches and a resume
    # through bytes: the sinks keep the highest, which is the last one emitted.
    for seen in revisions.values():
        assert seen == list(range(len(seen)))


@FAST
@given(streams, st.data())
def test_re_processing_from_a_saved_state_repeats_the_revisions(
    events: list[Any], data: st.DataObject
) -> None:
    # A worker that crashes after deciding a batch resumes from the state saved before it
    # and decides the batch again: the copies it re-emits carry the same revisions.
    cut = data.draw(st.integers(0, len(events)))
    saved = encode_state(run(events[:cut])[0])
    _, first = step_many(decode_state(saved), events[cut:], RULES)
    _, again = step_many(decode_state(saved), events[cut:], RULES)
    assert [o.model_dump() for o in again] == [o.model_dump() for o in first]
