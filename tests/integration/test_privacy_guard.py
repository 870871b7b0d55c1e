"""The guard of "no raw personal data anywhere" can fail (issue 11 item 4): a raw national
id planted in the DLQ, as the bytes of a rejection (base64, the way the DLQ keeps them) or
in ``rejected_events``, is found; the same record redacted by the decide stage is not."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Callable

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.stages.topology import LIVE_TOPICS
from topics.outputs import Rejection
from topics.privacy import redact_raw
from topics.registry import ALL_TOPICS, DLQ

from .kafka_helpers import admin_options
from .live_support import (
    live_settings,
    prepare,
)
from .privacy_support import assert_no_personal_data

RAW_ID = "330106198807071234"
LINE = orjson.dumps(
    {"kind": "case", "event_id": "x", "national_id": RAW_ID, "region": "bad", "name": "李四"}
)


async def _send(settings: Settings, value: bytes) -> None:
    producer = AIOKafkaProducer(**admin_options(settings.kafka_bootstrap), acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(DLQ.name(settings.topic_prefix), value, key=b"cases")
    finally:
        await producer.stop()


def _rejection(raw: bytes) -> bytes:
    return (
        Rejection(reason="planted", value_b64=base64.b64encode(raw).decode())
        .model_dump_json(exclude_none=True)
        .encode()
    )


@pytest.fixture
def guarded(stack: Settings, unique_name: Callable[..., str]) -> Settings:
    settings = live_settings(stack, unique_name("guard"))
    prepare(settings)
    assert {DLQ.name(settings.topic_prefix)} <= {
        spec.name(settings.topic_prefix) for spec in (*ALL_TOPICS, *LIVE_TOPICS)
    }
    return settings


def test_a_raw_id_planted_in_the_dlq_topic_is_found(guarded: Settings, ch_admin: Client) -> None:
    asyncio.run(_send(guarded, _rejection(redact_raw(LINE, b"k"))))
    assert_no_personal_data(ch_admin, guarded, [LINE])  # redacted: passes
    asyncio.run(_send(guarded, _rejection(LINE)))
    with pytest.raises(AssertionError, match=r"dlq\.v1 holds raw personal data"):
        assert_no_personal_data(ch_admin, guarded, [LINE])


def test_a_raw_id_planted_in_rejected_events_is_found(guarded: Settings, ch_admin: Client) -> None:
    db = guarded.clickhouse_database
    ch_admin.command(
        f"INSERT INTO {db}.rejected_events (reason, value_b64, version) VALUES "
        f"('planted', '{base64.b64encode(b'not json ' + RAW_ID.encode()).decode()}', 1)"
    )
    with pytest.raises(AssertionError, match=r"rejected_events holds raw personal data"):
        assert_no_personal_data(ch_admin, guarded, [b"not json " + RAW_ID.encode()])
