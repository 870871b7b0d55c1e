"""A review of the raw inputs says what retention took (issue 12 item 5's follow-up): when
its range starts before the cases topic's retention horizon and case records have been
deleted, `tierflow replay` warns with the counts and names `--source decided`."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
from aiokafka import TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, RecordsToDelete

from streams.config.settings import Settings
from streams.ops.kafka import create_topics
from streams.ops.record_signer import register_keys
from tests.integration.kafka_helpers import admin_options, run_cli
from tests.integration.live_support import live_settings
from topics.registry import CASES

CASE = orjson.loads((Path(__file__).parents[2] / "examples/case.json").read_bytes())
MARCH = ["--from", "2026-03-01T00:00:00Z", "--to", "2026-04-01T00:00:00Z"]


async def _expire_every_case(settings: Settings) -> None:
    """What retention does to the cases topic: move each partition's log start to its end."""
    admin = AIOKafkaAdminClient(**admin_options(settings.kafka_bootstrap))
    await admin.start()
    try:
        topic = CASES.name(settings.topic_prefix)
        ends = {}
        for described in await admin.describe_topics([topic]):
            for partition in described["partitions"]:
                ends[TopicPartition(topic, partition["partition"])] = RecordsToDelete(-1)
        await admin.delete_records(ends)
    finally:
        await admin.close()


def test_a_review_of_expired_raw_cases_warns_with_the_counts(
    stack: Settings, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    settings = live_settings(stack, unique_name("ret"))
    asyncio.run(create_topics(settings))
    register_keys(settings, [(CASE["source"]["agency_id"], "health")])
    lines = b"".join(
        orjson.dumps({**CASE, "event_id": f"{CASE['event_id']}-{n}", "case_id": f"C-{n}"}) + b"\n"
        for n in range(3)
    )
    run_cli(["publish", "-"], settings, stdin=lines)

    fresh = run_cli(["replay", "--name", unique_name("r0").removeprefix("tierflow_"), *MARCH],
                    settings)  # fmt: skip
    assert "expired" not in fresh.stderr  # nothing deleted yet: nothing to say

    asyncio.run(_expire_every_case(settings))
    old = run_cli(["replay", "--name", unique_name("r1").removeprefix("tierflow_"), *MARCH],
                  settings)  # fmt: skip
    said = " ".join(old.stderr.split())
    assert "3 case records have expired" in said and "(0 held)" in said, old.stderr
    assert "--source decided" in said

    now = datetime.now(UTC)
    recent = ["--from", (now - timedelta(days=1)).isoformat(), "--to", now.isoformat()]
    within = run_cli(["replay", "--name", unique_name("r2").removeprefix("tierflow_"), *recent],
                     settings)  # fmt: skip
    assert "expired" not in within.stderr  # the range is inside the retention horizon
    decided = run_cli(
        ["replay", "--name", unique_name("r3").removeprefix("tierflow_"), "--source", "decided",
         *MARCH], settings,
    )  # fmt: skip
    assert "expired" not in decided.stderr
