"""The live decide stage without Kafka: :class:`streams.stages.decide.Decider` over a dict
store, fed hand-made records. Expectations are worked out by hand from the wire contract
and the default rulebook (mass casualty: IV at >=10 casualties with >=2 dead or critical)."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from prometheus_client import REGISTRY

from streams.core import CoreState, default_rulebook
from streams.core.ids import TIERFLOW_NS
from streams.live import metrics
from streams.stages.batch import Outgoing, Record
from streams.stages.decide import Decider
from streams.stages.state_records import RecordStore
from streams.stages.ticks import TickClock
from streams.stages.topology import decode_feed, partition_for
from tests.folding import send_unsent
from topics.models import IncidentEvent
from topics.outputs import Rejection, Tick
from topics.privacy import pseudonym

P = "unit"
KEY = b"unit-pseudonym-key"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
NATIONAL_ID = "510104199001011234"
NAME = "Zhang San"
# Cities by the partition their state lives on (murmur2 of the city code, 6 partitions).
SAME_A, SAME_B = "5101", "1108"  # both on partition 4
OTHER = "1101"  # partition 5


class DictStore(RecordStore):
    """The worker's store over a dict, noting the jurisdictions whose records it wrote and
    sending them to a changelog (``sent``) at once."""

    def __init__(self, changelog: dict[bytes, bytes] | None = None) -> None:
        super().__init__(dict(changelog or {}), default_rulebook())
        self.puts: list[str] = []
        self.sent: dict[bytes, bytes] = dict(changelog or {})

    def flush(self) -> int:
        flushed = super().flush()
        written = send_unsent(self, self.sent)
        self.puts += sorted(key.decode()[:-1] for key in written if key.endswith(b"|"))
        return flushed


def decider(
    store: DictStore | None, mode: str = "event", states: Mapping[str, CoreState] | None = None
) -> Decider:
    return Decider(
        prefix=P,
        digits=4,
        pseudonym_key=KEY,
        rulebook=default_rulebook(),
        store=store,
        clock=TickClock(mode),  # type: ignore[arg-type]
        now=lambda: NOW,
        states=states,
        observer=metrics,  # the live worker's: the counters below are Prometheus'
    )


def raw(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def envelope(kind: str, event_id: str, city: str, minute: int, agency: str) -> dict[str, Any]:
    at = (T0 + timedelta(minutes=minute)).isoformat()
    return {
        "kind": kind,
        "event_id": event_id,
        "source": {"agency_id": agency, "agency_type": "health"},
        "occurred_at": at,
        "reported_at": at,
        "region": f"{city}04",
    }


def crash(event_id: str, city: str = SAME_A, total: int = 12, dead: int = 2) -> bytes:
    return raw(
        {
            **envelope("incident", event_id, city, 0, "120-dispatch"),
            "incident_id": f"INC-{city}",
            "category": "mass_casualty",
            "casualties": {"total": total, "dead": dead, "critical": 0},
        }
    )


def case(event_id: str, city: str = SAME_A) -> bytes:
    return raw(
        {
            **envelope("case", event_id, city, 5, "cdc-510104"),
            "case_id": f"c-{event_id}",
            "patient_ref": f"h1-{event_id}",
            "national_id": NATIONAL_ID,
            "name": NAME,
            "disease": "cholera",
            "classification": "suspected",
            "facility_id": "h1",
        }
    )


def tick(minute: int) -> bytes:
    at = (T0 + timedelta(minutes=minute)).isoformat()
    return raw({"kind": "tick", "event_id": f"tick-{minute}", "tick_at": at})


def rec(
    topic: str, value: bytes, partition: int, offset: int = 0, key: bytes | None = None
) -> Record:
    return Record(f"{P}.{topic}.v1", partition, offset, key, value)


def on(topic: str, outgoing: list[Outgoing]) -> list[Outgoing]:
    return [o for o in outgoing if o.topic == f"{P}.{topic}.v1"]


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_bad_record_goes_to_the_dlq_with_where_it_came_from_and_why() -> None:
    store = DictStore()
    before = sample("tierflow_records_rejected_total", topic=f"{P}.cases.v1", reason="not JSON")
    bad = b'{"kind": "case", "event_id": "x'
    out = decider(store).process([rec("cases", bad, partition=3, offset=41, key=b"k1")])

    [dead] = out
    assert dead.topic == f"{P}.dlq.v1"
    assert dead.key == f"{P}.cases.v1".encode()
    rejection = Rejection.model_validate_json(dead.value)
    assert rejection.reason.startswith("not JSON")
    assert (rejection.topic, rejection.partition, rejection.offset) == (f"{P}.cases.v1", 3, 41)
    assert rejection.key_b64 == base64.b64encode(b"k1").decode()
    # truncated JSON: the bytes may hold personal data, so they stay on the input topic
    assert rejection.value_b64 == ""
    assert f"the {len(bad)} bytes are withheld" in rejection.reason
    assert rejection.rejected_at == NOW
    assert store.puts == []
    after = sample("tierflow_records_rejected_total", topic=f"{P}.cases.v1", reason="not JSON")
    assert after == before + 1


@pytest.mark.parametrize(
    "value",
    [b"", b"\xff\xfe", b"[]", b"null", b'{"kind": "tick"}', raw({"kind": "case"})],
)
def test_no_input_raises(value: bytes) -> None:
    out = decider(DictStore()).process(
        [rec("cases", value, 0), rec("ticks", value, 1), rec("rekeyed", value, 2)]
    )
    assert [o.topic for o in out] == [f"{P}.dlq.v1"] * 3


def test_a_wrongly_keyed_record_is_forwarded_once_keyed_by_jurisdiction() -> None:
    store = DictStore()
    d = decider(store)
    target = partition_for(SAME_A)
    assert target == 4
    labels = {
        "topic": f"{P}.incidents.v1",
        "kind": "incident",
        "agency_type": "health",
        "agency": "120-dispatch",
    }
    before = sample("tierflow_records_consumed_total", **labels)

    out = d.process([rec("incidents", crash("e1"), partition=1, key=b"agency-key")])
    [forward] = out
    assert forward == Outgoing(f"{P}.rekeyed.v1", b"5101", forward.value, 4)
    assert orjson.loads(forward.value)["event_id"] == "e1"
    assert store.puts == []  # not decided on the wrong partition

    # Read back from the re-keyed topic on the right partition: decided, counted once.
    decided = d.process([Record(forward.topic, 4, 0, forward.key, forward.value)])
    assert store.puts == ["5101"]
    [escalation] = on("escalations", decided)
    assert escalation.key == b"5101"
    assert orjson.loads(escalation.value)["tier"] == "IV"
    assert orjson.loads(escalation.value)["decided_at"] == "2026-03-02T12:00:00Z"
    assert sample("tierflow_records_consumed_total", **labels) == before + 1


def test_a_record_on_its_partition_is_decided_without_a_hop() -> None:
    store = DictStore()
    out = decider(store).process([rec("incidents", crash("e1"), partition=4)])
    assert not on("rekeyed", out)
    assert store.puts == ["5101"]
    assert len(on("escalations", out)) == 1
    assert on("tasks", out)  # the tier's response plan
    assert all(o.key == b"5101" for o in out)


def test_national_id_and_name_never_leave_the_decide_stage() -> None:
    store = DictStore()
    d = decider(store)
    # One case on the wrong partition (forwarded), one on the right one (decided).
    out = d.process([rec("cases", case("c1"), partition=0), rec("cases", case("c2"), partition=4)])
    [forward] = on("rekeyed", out)
    out += d.process([Record(forward.topic, 4, 0, forward.key, forward.value)])
    assert out and store.get("5101")
    d.flush_states()
    assert store.sent
    for blob in (*(o.value for o in out), *store.sent.values()):
        assert NATIONAL_ID.encode() not in blob and NAME.encode() not in blob
    assert orjson.loads(forward.value)["national_id"] == pseudonym(NATIONAL_ID, KEY)
    assert "name" not in orjson.loads(forward.value) or orjson.loads(forward.value)["name"] is None


def tick_watermark(store: DictStore, jurisdiction: str) -> datetime | None:
    """The latest tick time the jurisdiction's state has seen (the core keeps µs)."""
    state = store.get(jurisdiction)
    assert state is not None
    micros = state.tick_wm
    return datetime.fromtimestamp(micros / 1e6, UTC) if micros > 0 else None


def test_a_partition_tick_reaches_every_jurisdiction_of_that_partition_only() -> None:
    store = DictStore()
    d = decider(store)
    d.process(
        [
            rec("incidents", crash("a", SAME_A), partition=4),
            rec("incidents", crash("o", OTHER), partition=5),
        ]
    )
    before_other = tick_watermark(store, OTHER)
    # In the same batch as a first event of a new city on partition 4: it gets the tick too.
    d.process([rec("ticks", tick(90), 4), rec("incidents", crash("b", SAME_B), 4)])
    at = T0 + timedelta(minutes=90)
    assert tick_watermark(store, SAME_A) == at
    assert tick_watermark(store, SAME_B) == at
    assert tick_watermark(store, OTHER) == before_other != at


def test_a_tick_also_reaches_jurisdictions_only_the_store_knows() -> None:
    # A restarted worker: states in the store, nothing cached yet.
    store = DictStore()
    decider(store).process([rec("incidents", crash("a", SAME_A), partition=4)])
    fresh = decider(store)
    fresh.process([rec("ticks", tick(120), 4)])
    assert tick_watermark(store, SAME_A) == T0 + timedelta(minutes=120)


def test_an_unacked_task_goes_overdue_on_the_partition_tick() -> None:
    store = DictStore()
    d = decider(store)
    issued = d.process([rec("incidents", crash("a", SAME_A), partition=4)])
    open_tasks = [orjson.loads(o.value) for o in on("tasks", issued)]
    assert open_tasks and {t["state"] for t in open_tasks} == {"open"}
    last_due = max(datetime.fromisoformat(t["due_at"]) for t in open_tasks)
    later = int((last_due - T0).total_seconds() // 60) + 1
    # another partition's tick: nothing for this city, only the roll-up stages' clock
    assert [(o.topic, o.key) for o in d.process([rec("ticks", tick(later), 5)])] == [
        (f"{P}.rollup-feed.v1", b"tick")
    ]
    overdue = [
        orjson.loads(o.value) for o in on("tasks", d.process([rec("ticks", tick(later), 4)]))
    ]
    assert {t["task_id"] for t in overdue} == {t["task_id"] for t in open_tasks}
    assert {t["state"] for t in overdue} == {"overdue"}


def test_a_batch_forwards_its_newest_tick_once_to_the_rollup_feed() -> None:
    d = decider(DictStore())
    out = d.process(
        [rec("ticks", tick(30), 4), rec("ticks", tick(90), 5), rec("ticks", tick(60), 4)]
    )
    (forwarded,) = on("rollup-feed", out)
    assert (forwarded.key, forwarded.partition) == (b"tick", 0)
    assert decode_feed(forwarded.value) == Tick(
        event_id=f"rollup-tick:{(T0 + timedelta(minutes=90)).isoformat()}",
        tick_at=T0 + timedelta(minutes=90),
    )


def test_acks_of_rollup_tasks_go_to_the_rollup_feed_and_city_acks_do_not() -> None:
    d = decider(DictStore())
    province = str(uuid.uuid5(TIERFLOW_NS, "rollup|Actual|51|cholera"))

    def ack(event_id: str, incident_id: str) -> bytes:
        return raw(
            {
                **envelope("incident", event_id, SAME_A, 30, "em-51"),
                "msg_type": "Ack",
                "incident_id": incident_id,
                "category": "infectious_disease",
                "ack_task_id": "some-task",
            }
        )

    out = d.process(
        [rec("incidents", ack("a1", province), 4), rec("incidents", ack("a2", "INC-5101"), 4)]
    )
    (forwarded,) = on("rollup-feed", out)
    item = decode_feed(forwarded.value)
    assert (forwarded.key, forwarded.partition) == (province.encode(), 0)
    assert isinstance(item, IncidentEvent) and (item.event_id, item.msg_type) == ("a1", "Ack")


def test_the_event_clock_follows_actual_event_time_only() -> None:
    store = DictStore()
    d = decider(store)
    drill = orjson.loads(crash("x", SAME_A))
    drill["status"] = "Exercise"
    drill["occurred_at"] = (T0 + timedelta(hours=3)).isoformat()
    d.process([rec("incidents", raw(drill), partition=4)])
    assert d.clock.next_ticks(NOW, [4]) == []  # a drill does not move the clock
    d.process([rec("incidents", crash("a", SAME_A), partition=4)])
    assert [t.tick_at for _, t in d.clock.next_ticks(NOW, [4])] == [T0]


def test_deferred_puts_wait_for_flush_and_put_each_changed_state_once() -> None:
    store = DictStore()
    d = Decider(
        prefix=P,
        digits=4,
        pseudonym_key=KEY,
        rulebook=default_rulebook(),
        store=store,
        clock=TickClock("event"),
        now=lambda: NOW,
        deferred_puts=True,
    )
    d.process([rec("incidents", crash("a", SAME_A), partition=4)])
    d.process([rec("incidents", crash("b", SAME_A, total=31, dead=5), partition=4)])
    d.process([rec("incidents", crash("o", OTHER), partition=5)])
    assert store.puts == []  # nothing encoded per batch
    assert d.flush_states() == 2
    assert sorted(store.puts) == [OTHER, SAME_A]
    assert d.flush_states() == 0  # nothing changed since
    # The flushed state is the whole story: a worker restarted from the changelog goes on.
    again = decider(DictStore(store.sent))
    out = again.process([rec("incidents", crash("b", SAME_A, total=31, dead=5), partition=4)])
    assert on("escalations", out) == []  # a duplicate: already decided before the flush
    # A rebalance drops changes not flushed (their records were not committed either).
    d.process([rec("incidents", crash("c", SAME_B), partition=4)])
    d.forget()
    assert d.flush_states() == 0


def test_decide_is_process_before_encoding_and_lists_the_first_sight_inputs() -> None:
    batch = [
        rec("cases", case("c1"), partition=0),  # forwarded: on the wrong partition
        rec("cases", case("c2"), partition=4),
        rec("incidents", crash("a", SAME_A), partition=4),
        rec("cases", b"not json", partition=4),
    ]
    encoded = decider(DictStore()).process(batch)
    decided = decider(DictStore()).decide(batch)
    assert [e.encoded() for e in decided.out] == encoded
    assert [(t, e.event_id) for t, e in decided.inputs] == [  # type: ignore[attr-defined]
        (f"{P}.cases.v1", "c1"),
        (f"{P}.cases.v1", "c2"),
        (f"{P}.incidents.v1", "a"),
    ]
    assert all(getattr(e, "national_id", None) != NATIONAL_ID for _, e in decided.inputs)
    # A forward read back is not a first sight: its input was listed when it arrived.
    [forward] = on("rekeyed", encoded)
    again = decider(DictStore()).decide([Record(forward.topic, 4, 0, forward.key, forward.value)])
    assert again.inputs == []


def test_without_a_store_states_stay_decoded_and_seed_a_later_decider() -> None:
    d = decider(None)
    d.process([rec("incidents", crash("a", SAME_A), partition=4)])
    assert d.flush_states() == 0 and list(d.states) == [SAME_A]
    again = decider(None, states=d.states)
    # The seeded state knows the incident: the same report again decides nothing new.
    out = again.process([rec("incidents", crash("a", SAME_A), partition=4)])
    assert on("escalations", out) == []
    assert on("escalations", d.process([rec("incidents", crash("b", OTHER), partition=5)]))
