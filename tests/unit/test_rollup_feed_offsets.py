"""The roll-up feed's committed offset has one writer, the roll-up stage's fenced
transaction (streams/live/rollup.py): Faust's own consumer commits none of it.

Run on the worker's own app (``build_app``) and Faust's own consumer, in the state a
resumed zombie's consumer is in between a revoke and Faust's seek to the committed offsets
(no committed offset known), with the feed assigned in the new generation: its roll-up
agent acks the records 0..57 it had taken before the pause. Faust commits what agents
acked; once in CI such a commit moved the feed's offset back from 188 to 58. The commit
that would reach the broker is recorded instead of sent. The ticks topic (Faust's group
holds it, nobody reads by its offsets there) is the control: acked, it is committed; a
planted second reader of the feed that acks is committed too, so the first test fails if
Faust ever commits the feed."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from faust.types import TP
from faust.types.tuples import Message

from streams.config.settings import Settings
from streams.core import default_rulebook
from streams.live.app import build_app
from streams.live.rollup import feed_topic

PREFIX = "p"
FEED = TP(f"{PREFIX}.rollup-feed.v1", 0)
TICKS = TP(f"{PREFIX}.ticks.v1", 0)
TAKEN = 58  # records 0..57: what the zombie's agent had taken before the pause


def _faust_commits(tmp_path: Path, plant: Callable[[Any], None] | None = None) -> dict[TP, int]:
    """The offsets the worker's Faust consumer commits once the agents acked ``TAKEN``
    records of the feed and of the ticks (``plant`` adds to the app first)."""
    app = build_app(Settings(stack_home=tmp_path, topic_prefix=PREFIX), default_rulebook())
    if plant is not None:
        plant(app)
    sent: dict[TP, int] = {}

    async def broker_commit(offsets: Mapping[TP, int]) -> bool:
        sent.update(offsets)
        return True

    async def run() -> None:
        # What Faust's conductor does when it subscribes (its acking topics: those a
        # channel with acks reads); the in-memory decide channel is no topic.
        for agent in app.agents.values():
            if hasattr(agent.channel, "topics"):
                app.topics.add(agent.channel)
        await app.topics._update_indices()
        consumer = app.consumer
        consumer._commit = broker_commit  # the OffsetCommit request, recorded
        consumer.assignment = lambda: {FEED, TICKS}  # the new generation's
        for tp in (FEED, TICKS):
            for offset in range(TAKEN):
                message = Message(tp.topic, tp.partition, offset, 0.0, None, None, b"k", b"v", None)
                consumer.track_message(message)
                consumer.ack(message)  # what an event's ack ends in
        await consumer.commit()

    asyncio.run(run())
    return sent


def test_faust_commits_nothing_of_the_rollup_feed(tmp_path: Path) -> None:
    assert _faust_commits(tmp_path) == {TICKS: TAKEN}


def test_a_second_reader_of_the_feed_that_acks_would_be_committed(tmp_path: Path) -> None:
    def plant(app: Any) -> None:
        acking = feed_topic(app, PREFIX).clone(acks=True)

        async def read(stream: Any) -> None:
            async for _ in stream:
                pass

        app.agent(acking)(read)

    assert _faust_commits(tmp_path, plant) == {TICKS: TAKEN, FEED: TAKEN}
