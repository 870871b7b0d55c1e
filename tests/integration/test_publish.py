"""Getting events in, on the real broker: topics, publish, kcat interop."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import orjson
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from streams.config.settings import Settings
from streams.stages.topology import LIVE_TOPICS
from tests.integration import kcat
from tests.integration.kafka_helpers import admin_options, read_topic, run_cli
from topics.codec import decode
from topics.outputs import Rejection
from topics.registry import ALL_TOPICS, INPUT_TOPICS, TICKS


@pytest.fixture
def isolated(stack: Settings, unique_name) -> Settings:  # type: ignore[no-untyped-def]
    """The stack's settings with a topic prefix of this test's own."""
    return stack.model_copy(update={"topic_prefix": unique_name("tf")})


def test_topics_create_is_idempotent(isolated: Settings) -> None:
    # the registry's topics and the live shell's own (the deployment's init creates both,
    # so workers need no admin login)
    specs = (*ALL_TOPICS, *LIVE_TOPICS)
    names = [s.name(isolated.topic_prefix) for s in specs]
    first = run_cli(["topics", "create"], isolated).stdout
    # Ready to use the moment the command returns: the broker serves every partition (a
    # created topic is unknown to its metadata for a second or more).
    served = asyncio.run(_leaders(isolated, names))
    assert served == {s.name(isolated.topic_prefix): s.partitions for s in specs}, (
        "not served right after `topics create`"
    )
    second = run_cli(["topics", "create"], isolated).stdout
    for name in names:
        assert name in first and name in second
    assert first.count("created") == len(specs)
    assert "created" not in second and second.count("exists") == len(specs)


def test_topics_create_warns_of_an_input_topic_its_producers_stamp(isolated: Settings) -> None:
    """An input topic created before they were LogAppendTime (here: by hand, with Kafka's
    default CreateTime) is named with the command that fixes it; the created ones are
    stamped by the broker, so a second run warns of nothing new."""
    stock = next(s for s in INPUT_TOPICS if s.stem == "stock").name(isolated.topic_prefix)
    asyncio.run(_create_plain(isolated, stock))
    done = run_cli(["topics", "create"], isolated)
    [warning] = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert stock in warning and "message.timestamp.type=LogAppendTime" in warning
    fresh = isolated.model_copy(update={"topic_prefix": isolated.topic_prefix + "b"})
    assert "warning:" not in run_cli(["topics", "create"], fresh).stderr


async def _create_plain(settings: Settings, name: str) -> None:
    admin = AIOKafkaAdminClient(**admin_options(settings.kafka_bootstrap))
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, 6, 1)])
    finally:
        await admin.close()


async def _leaders(settings: Settings, topics: list[str]) -> dict[str, int]:
    """Per topic the metadata serves, its partitions with a leader."""
    admin = AIOKafkaAdminClient(**admin_options(settings.kafka_bootstrap))
    await admin.start()
    try:
        described = await admin.describe_topics(topics)
    finally:
        await admin.close()
    return {
        t["topic"]: sum(p["leader"] >= 0 for p in t["partitions"])
        for t in described
        if t["error_code"] == 0
    }


def test_published_scenario_reads_back_byte_identical(isolated: Settings, tmp_path: Path) -> None:
    run_cli(["topics", "create"], isolated)
    scenario = tmp_path / "cholera.jsonl"
    run_cli(
        [
            "simulate",
            "--scenario",
            "cholera",
            "--seed",
            "1",
            "--as-fast-as-possible",
            "--out",
            str(scenario),
        ],
        isolated,
    )
    lines = [line for line in scenario.read_bytes().splitlines() if line.strip()]

    # Without --skip-invalid nothing is published and every bad line is named.
    refused = run_cli(["publish", str(scenario)], isolated, check=False)
    assert refused.returncode == 1
    bad_lines = [ln for ln in refused.stderr.splitlines() if ln.startswith(f"{scenario}:")]
    assert bad_lines, refused.stderr
    assert all(
        read_topic(isolated.kafka_bootstrap, s.name(isolated.topic_prefix)) == []
        for s in INPUT_TOPICS
    )

    run_cli(["publish", str(scenario), "--skip-invalid"], isolated)

    # The expected records, worked out from the raw lines independently of the publisher.
    expected: Counter[tuple[str, bytes | None, bytes]] = Counter()
    for line in lines:
        try:
            parsed = orjson.loads(line)
        except orjson.JSONDecodeError:
            continue
        if not isinstance(parsed, dict):
            continue
        if parsed.get("kind") == "tick":
            for _ in range(TICKS.partitions):
                expected[(TICKS.stem, None, line)] += 1
        elif not isinstance(decode(line), Rejection):
            expected[(parsed["kind"], parsed["region"][:4].encode(), line)] += 1
    stem_of_kind = {
        "incident": "incidents",
        "case": "cases",
        "transfer": "transfers",
        "stock": "stock",
        "ticks": "ticks",
    }
    got: Counter[tuple[str, bytes | None, bytes]] = Counter()
    for spec in (*INPUT_TOPICS, TICKS):
        kind = next(k for k, stem in stem_of_kind.items() if stem == spec.stem)
        for key, value, _ in read_topic(isolated.kafka_bootstrap, spec.name(isolated.topic_prefix)):
            got[(kind, key, value)] += 1
    assert got == expected
    valid_lines = sum(
        count // (TICKS.partitions if stem == TICKS.stem else 1)
        for (stem, _, _), count in expected.items()
    )
    assert len(bad_lines) + valid_lines == len(lines)


@pytest.mark.skipif(not kcat.available(), reason="kcat is installed by .ci/run")
def test_records_produced_by_kcat_decode(isolated: Settings, tmp_path: Path) -> None:
    run_cli(["topics", "create"], isolated)
    topic = f"{isolated.topic_prefix}.stock.v1"
    values = [
        orjson.dumps(
            {
                "event_id": f"kcat-{i}",
                "kind": "stock",
                "source": {"agency_id": "depot-1", "agency_type": "emergency"},
                "occurred_at": f"2026-03-0{i + 1}T08:00:00+08:00",
                "reported_at": f"2026-03-0{i + 1}T08:30:00+08:00",
                "region": "510104",
                "site_id": "depot-1",
                "site_type": "depot",
                "item": "ppe.n95",
                "unit": "each",
                "on_hand": 1000 - 100 * i,
            }
        )
        for i in range(5)
    ]
    payload = b"\n".join(b"5101\t" + v for v in values) + b"\n"
    sent = kcat.run(["-P", *kcat.as_admin(isolated), "-t", topic, "-K", "\t"], stdin=payload)
    assert sent.returncode == 0, sent.stderr.decode()
    records = read_topic(isolated.kafka_bootstrap, topic)
    assert sorted(v for _, v, _ in records) == sorted(values)
    decoded = [decode(v) for _, v, _ in records]
    assert not [d for d in decoded if isinstance(d, Rejection)]
    assert sorted(d.event_id for d in decoded) == [f"kcat-{i}" for i in range(5)]  # type: ignore[attr-defined]
    assert {k for k, _, _ in records} == {b"5101"}
