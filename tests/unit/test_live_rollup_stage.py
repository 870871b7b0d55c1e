"""The roll-up stage's shell without Kafka: feed records in (snapshots, acks, ticks, as
the decide stage encodes them), records out, states in a dict store. The story and its
hand-computed times are those of ``test_rollup_tasks``: province 51 is Tier II from
T0 + 3 h, its emergency task due at T0 + 4 h."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

import orjson

from streams.core import default_rulebook
from streams.stages.batch import Record
from streams.stages.decide import Decider
from streams.stages.rollup_stage import RollupStage
from streams.stages.ticks import TickClock
from tests.beds_feed import RULES
from topics.codec import encode
from topics.outputs import Alert

from .test_cross_city_redirect import CHENGDU_FULL, T1, ZIGONG
from .test_rollup_tasks import ISSUED, SPREAD, ack, task_id, tick

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


class DictStore:
    """Encoded states by area, as the worker's roll-up table holds them."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.puts: list[str] = []

    def get(self, jurisdiction: str) -> bytes | None:
        return self.blobs.get(jurisdiction)

    def put(self, jurisdiction: str, blob: bytes) -> None:
        self.blobs[jurisdiction] = blob
        self.puts.append(jurisdiction)

    def jurisdictions(self) -> Iterable[str]:
        return list(self.blobs)


def stage(store: DictStore) -> RollupStage:
    return RollupStage(prefix="unit", rulebook=default_rulebook(), now=lambda: NOW, store=store)


def test_a_restarted_stage_loads_every_area_and_a_tick_raises_the_overdue_alert() -> None:
    store = DictStore()
    first = stage(store)
    first.decide_records([encode(s) for s in SPREAD])
    first.flush_states()
    assert sorted(store.blobs) == ["51"]
    # a new stage (a restart, a rebalance): nothing cached, only a tick comes
    out = stage(store).decide_records([encode(tick(ISSUED + H + timedelta(minutes=1)))])
    alerts = [o for o in out if o.topic == "unit.alerts.v1"]
    (alert,) = [orjson.loads(o.model.model_dump_json()) for o in alerts]
    assert (alerts[0].key, alert["alert_kind"], alert["subject_id"]) == (
        b"51",
        "task_overdue",
        task_id("emergency"),
    )
    assert datetime.fromisoformat(alert["decided_at"]) == NOW
    tasks = [o.model for o in out if o.topic == "unit.tasks.v1"]
    assert [(t.task_id, t.state) for t in tasks] == [(task_id("emergency"), "overdue")]


def test_an_ack_record_acks_the_task_and_states_are_put_once_flushed() -> None:
    store = DictStore()
    rollup = stage(store)
    out = rollup.decide_records(
        [encode(s) for s in SPREAD] + [encode(ack("emergency", ISSUED + H / 2))]
    )
    acked = [o.model for o in out if o.topic == "unit.tasks.v1" and o.model.state == "acked"]
    assert [t.task_id for t in acked] == [task_id("emergency")]
    assert store.puts == []
    rollup.flush_states()
    assert store.puts == ["51"]


def test_the_decide_stage_feeds_a_province_what_it_needs_to_cross_into_another_city() -> None:
    # tests/unit/test_cross_city_redirect.py's first story, through both stages' records:
    # Chengdu (5101, partition 4) full, Zigong (5103, partition 0) with beds, a transfer
    chengdu = [*CHENGDU_FULL, T1]
    records = [
        Record("unit.stock.v1", 4, 0, None, encode(chengdu[0])),
        Record("unit.stock.v1", 4, 1, None, encode(chengdu[1])),
        Record("unit.transfers.v1", 4, 0, None, encode(T1)),
        *(Record("unit.stock.v1", 0, i, None, encode(z)) for i, z in enumerate(ZIGONG)),
    ]
    decide = Decider(
        prefix="unit", digits=4, pseudonym_key=b"k", rulebook=RULES, store=None,
        clock=TickClock("event"), now=lambda: NOW,
    )  # fmt: skip
    fed = [o.encoded() for o in decide.decide(records).out if o.topic == "unit.rollup-feed.v1"]
    assert sorted((o.key, o.partition) for o in fed) == [
        (b"H-510104-01", 0),
        (b"H-510105-01", 0),
        (b"H-510302-01", 0),
        (b"H-510303-01", 0),
        (b"T-1", 0),
    ]
    roll = RollupStage(prefix="unit", rulebook=RULES, now=lambda: NOW, store=DictStore())
    (out,) = roll.decide_records([o.value for o in fed])
    assert (out.topic, out.key) == ("unit.alerts.v1", b"51")
    assert isinstance(out.model, Alert)
    assert (out.model.subject_id, out.model.details["suggested_facility"]) == ("T-1", "H-510302-01")
    assert out.model.decided_at == NOW
