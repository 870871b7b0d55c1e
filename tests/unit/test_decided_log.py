"""The decided topic (issue 12, item 5): the live decide stage writes each accepted input
event there pseudonymised, on its jurisdiction's partition; a replay of that topic reads
the events back as inputs of their kind, with no signature to verify; the raw cases topic
is created with a bounded retention counted from arrival."""

from __future__ import annotations

import orjson

from streams.config.settings import Settings
from streams.core import default_rulebook
from streams.ops.kafka import topic_configs
from streams.stages.batch import Record
from streams.stages.decide import Decider
from streams.stages.ticks import TickClock
from streams.stages.topology import partition_for
from tests.unit.test_live_decide import KEY, NAME, NATIONAL_ID, NOW, OTHER, SAME_A, P, case
from topics.models import CaseEvent
from topics.privacy import pseudonym
from topics.registry import CASES, STOCK
from topics.signing import KeyRing


def _decider(decided_log: bool, keys: KeyRing | None = None) -> Decider:
    return Decider(
        prefix=P, digits=4, pseudonym_key=KEY, rulebook=default_rulebook(), store=None,
        clock=TickClock("event"), now=lambda: NOW, decided_log=decided_log,
        keys=None if keys is None else (lambda: keys),
    )  # fmt: skip


def test_the_live_stage_logs_each_accepted_event_pseudonymised_on_its_partition() -> None:
    wrong = (partition_for(SAME_A) + 1) % 6  # a producer that keyed it by something else
    record = Record(f"{P}.cases.v1", wrong, 0, b"x", case("c-1"))
    decided = _decider(True).process([record])
    logged = [o for o in decided if o.topic == f"{P}.decided.v1"]
    assert [(o.key, o.partition) for o in logged] == [(SAME_A.encode(), partition_for(SAME_A))]
    assert NATIONAL_ID.encode() not in logged[0].value and NAME.encode() not in logged[0].value
    assert orjson.loads(logged[0].value)["national_id"] == pseudonym(NATIONAL_ID, KEY)
    assert not [o for o in _decider(False).process([record]) if "decided" in o.topic]


def test_personal_data_in_extra_fields_reaches_neither_the_log_nor_the_rekeyed_topic() -> None:
    """Extra fields are kept, unread, on both topics: scrubbed like the DLQ's bytes."""
    planted = {
        "contact": {"national_id": NATIONAL_ID, "name": NAME},
        "note": f"id {NATIONAL_ID[:-4]}5678",
        "refs": [int(NATIONAL_ID[:-4] + "9999")],
    }
    sent = orjson.loads(case("c-3", OTHER))
    del sent["national_id"], sent["name"]  # nothing to pseudonymise where we read
    value = orjson.dumps({**sent, **planted})
    decided = _decider(True).process([Record(f"{P}.cases.v1", 0, 0, b"x", value)])
    written = [o for o in decided if o.topic in (f"{P}.decided.v1", f"{P}.rekeyed.v1")]
    assert sorted(o.topic for o in written) == [f"{P}.decided.v1", f"{P}.rekeyed.v1"]
    for o in written:
        assert NATIONAL_ID[:-4].encode() not in o.value and NAME.encode() not in o.value
        assert orjson.loads(o.value)["contact"] == {"national_id": pseudonym(NATIONAL_ID, KEY)}


def test_a_replay_of_the_decided_topic_reads_inputs_of_their_kind_unverified() -> None:
    live = _decider(True).process([Record(f"{P}.cases.v1", 0, 0, b"x", case("c-2"))])
    logged = next(o for o in live if o.topic == f"{P}.decided.v1")
    review = _decider(False, KeyRing(()))  # verifying: an unsigned input would be refused
    decided = review.decide([Record(logged.topic, logged.partition or 0, 0, logged.key,
                                    logged.value)])  # fmt: skip
    assert [(topic, type(e)) for topic, e in decided.inputs] == [(f"{P}.cases.v1", CaseEvent)]
    assert not [o for o in decided.out if o.topic == f"{P}.dlq.v1"]


def test_the_raw_cases_topic_expires_counted_from_arrival() -> None:
    settings = Settings(cases_retention_days=7)
    assert topic_configs(CASES, settings) == {
        "retention.ms": str(7 * 24 * 3600 * 1000),
        "message.timestamp.type": "LogAppendTime",
    }
    assert topic_configs(STOCK, settings) == {
        "retention.ms": "-1",
        "message.timestamp.type": "LogAppendTime",
    }
