"""Offsets never run ahead of the state (issue 11 item 6): the intake commits only after
the broker acknowledged every changelog record of the states the batches changed. Planted:
the state changelog topic takes records of at most 2 kB, less than a city's state, so the
broker refuses the states; the worker must say why and exit 70 with no offset committed
(Faust's table write only queued the record and the commit went ahead)."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable
from pathlib import Path

from aiokafka.admin import NewTopic

from streams.config.settings import Settings
from streams.ops.kafka import admin_client
from streams.stages.topology import PARTITIONS

from .live_support import committed_nothing, live_settings, prepare, publish, simulate, start_worker

SMALL_BYTES = 2048


async def _small_changelog(settings: Settings) -> str:
    name = f"{settings.topic_prefix}.decide-state-changelog"
    async with admin_client(settings) as admin:
        await admin.create_topics(
            [
                NewTopic(
                    name,
                    num_partitions=PARTITIONS,
                    replication_factor=settings.replication_factor,
                    topic_configs={
                        "cleanup.policy": "compact",
                        "max.message.bytes": str(SMALL_BYTES),
                    },
                )
            ]
        )
    return name


def test_a_state_the_changelog_refuses_commits_no_offset(
    stack: Settings, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    settings = live_settings(stack, unique_name("ack"))
    prepare(settings, migrate=False)
    changelog = asyncio.run(_small_changelog(settings))
    lines, _ = simulate("cholera", 3, tmp_path / "cholera.jsonl")
    publish(settings, lines)
    log = tmp_path / "worker.log"
    proc = start_worker(settings, log)
    try:
        proc.wait(timeout=120)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    text = log.read_text()
    assert committed_nothing(settings), "offsets were committed past states never written"
    assert proc.returncode == 70, text[-3000:]
    assert f"not written to {changelog}" in text, text[-3000:]
    assert "no offset is committed past it" in text
