"""A review lands one batch while it decides the next: its consistent point must never
pass a batch whose rows are not durable. A landing that fails leaves the checkpoint before
that batch, and the resumed review equals a review run whole."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

from streams.core import default_rulebook
from streams.replay.runner import DecidedBatch, Review
from streams.replay.session import ReviewRequest, replay_kafka
from topics.settings import Settings

from .live_support import prepare, simulate
from .replay_support import assert_resumes_to_whole, drop_databases, publish_scenario


class LandingDown(Exception):
    """ClickHouse refusing the third batch's insert (planted)."""


def test_a_failed_landing_keeps_the_checkpoint_before_its_batch(
    stack: Settings,
    ch_admin: Client,
    unique_name: Callable[..., str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings = stack.model_copy(update={"topic_prefix": unique_name(), "stack_home": tmp_path})
    lines, _ = simulate("cholera", 2, tmp_path / "big.jsonl", "--scale", "20")
    prepare(settings)
    start, end = publish_scenario(settings, lines)
    rulebook = default_rulebook()
    whole, cut = unique_name("whole"), unique_name("cut")
    landed: list[int] = []
    real_land = Review.land

    def land(review: Review, batch: DecidedBatch) -> None:
        if len(landed) == 2:
            raise LandingDown
        real_land(review, batch)
        landed.append(batch.events)

    try:
        with monkeypatch.context() as patched:
            patched.setattr(Review, "land", land)
            # The third batch fails to land after the fourth has been decided: the
            # checkpoint must hold the first two batches' events, not more.
            request = ReviewRequest(cut, rulebook, None, start, end)
            with pytest.raises(LandingDown):
                asyncio.run(replay_kafka(settings, request, batch_records=500))
        checkpoint = json.loads((tmp_path / "reviews" / f"{cut}.checkpoint.json").read_bytes())
        assert checkpoint["events"] == sum(landed) > 0
        assert_resumes_to_whole(settings, ch_admin, request, whole)
    finally:
        drop_databases(ch_admin, f"review_{whole}", f"review_{cut}")
