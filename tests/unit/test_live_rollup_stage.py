"""The roll-up stage's shell without Kafka: feed records in (snapshots, acks, ticks, as
the decide stage encodes them), records out, states in a dict store. The story and its
hand-computed times are those of ``test_rollup_tasks``: province 51 is Tier II from
T0 + 3 h, its emergency task due at T0 + 4 h."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import orjson

from streams.core import default_rulebook
from streams.stages.rollup_stage import RollupStage
from topics.codec import encode

from .test_live_decide import DictStore
from .test_rollup_tasks import ISSUED, SPREAD, ack, task_id, tick

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


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
