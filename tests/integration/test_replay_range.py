"""A review of an event-time range replays every record of that range whatever Kafka
timestamps its producers set, says what it left out, and `review diff` compares that range
only.

The data is the demo's (its malformed records carry the wall-clock time they were sent)
plus a second road accident in mid-March published as kcat would, with wall-clock Kafka
timestamps, and a third accident two days ago (December), published the same way. (The
input topics now carry the broker's receipt time whatever the producer stamps.) Before
the fix the review of March planned its partitions with ``offsets_for_times``: partitions
ended at their first wall-clock stamp, the March accident's records were filtered out by
their stamps (15 tier changes compared, 10 differed), and the diff listed the December
incident as missing from a March review."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

from aiokafka import AIOKafkaProducer
from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.ops.demo import publish_scenarios
from streams.simulate import generate
from tests.integration.kafka_helpers import admin_options, signatures

from .kafka_helpers import run_cli
from .live_support import live_settings, prepare, running_worker, topic_of, wait_decided
from .replay_support import decisions, drop_databases, wait_settled

MARCH = (datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 4, 1, tzinfo=UTC))
MID_MARCH = datetime(2026, 3, 16, 8, 0, tzinfo=timezone(timedelta(hours=8)))


async def _send_like_kcat(settings: Settings, values: list[bytes]) -> None:
    """Each value to its kind's topic with no timestamp (the producer's clock stamps it)
    and no key, as ``kcat -P`` sends a file."""
    producer = AIOKafkaProducer(**admin_options(settings.kafka_bootstrap), acks="all")
    await producer.start()
    try:
        for value, headers in zip(values, signatures(settings, values), strict=True):
            if b'"kind":"tick"' not in value:  # (ticks left out: kcat users send events)
                topic = topic_of(value, settings.topic_prefix)
                await producer.send_and_wait(topic, value, headers=headers)
    finally:
        await producer.stop()


def test_a_review_of_march_replays_all_of_march_and_compares_march_only(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    settings = live_settings(stack, unique_name("range"))
    prepare(settings)
    publish_scenarios(settings, lambda _: None)
    accident = generate("road-mci", 2, start=MID_MARCH)
    recent = generate("road-mci", 3, start=datetime.now(UTC) - timedelta(days=2))
    december = {step["incident_id"] for step in recent.truth["timeline"]}
    asyncio.run(_send_like_kcat(settings, [r.value for r in (*accident.records, *recent.records)]))
    name = unique_name("aar")
    try:
        with running_worker(settings, tmp_path / "worker.log") as proc:
            wait_decided(settings, proc, timeout=240)
            wait_settled(
                ch_admin,
                settings.clickhouse_database,
                proc,
                lambda c: c["tier_timeline"] > 0 and c["cases"] > 0,
                timeout=240,
            )
        start, end = (at.isoformat() for at in MARCH)
        replayed = run_cli(["replay", "--name", name, "--from", start, "--to", end], settings)
        # what the plan left out is said, with counts
        (warning,) = [x for x in replayed.stderr.splitlines() if x.startswith("warning:")]
        assert re.search(r"[1-9][\d,]* outside it were skipped", warning), warning
        # the input topics are stamped by the broker on arrival (LogAppendTime), so no
        # producer's stamp is left to disagree with an event time
        assert "carry a Kafka timestamp" not in warning, warning

        diff = run_cli(["review", "diff", name], settings).stdout
        summary = re.search(r"(\d+) tier changes, (\d+) differ", diff)
        assert summary, diff
        assert int(summary.group(1)) > 0 and summary.group(2) == "0", diff
        assert "event time 2026-03-01 00:00 UTC to 2026-04-01 00:00 UTC" in diff
        live_incidents = {
            r[1] for r in decisions(ch_admin, settings.clickhouse_database, "tier_timeline")
        }
        assert december <= live_incidents  # decided live, in December:
        assert not any(incident in diff for incident in december)  # not in a March review
        # the accident published with wall-clock stamps was decided in the review
        accident_incidents = {step["incident_id"] for step in accident.truth["timeline"]}
        in_march = "effective_at >= '2026-03-01 00:00:00' AND effective_at < '2026-04-01 00:00:00'"
        review = decisions(ch_admin, f"review_{name}", "tier_timeline", in_march)
        assert accident_incidents <= {row[1] for row in review}, accident_incidents
        live = decisions(ch_admin, settings.clickhouse_database, "tier_timeline", in_march)
        assert review == live
    finally:
        drop_databases(ch_admin, f"review_{name}", settings.clickhouse_database)
