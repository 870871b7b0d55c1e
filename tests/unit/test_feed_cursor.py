"""The roll-up agent decides each feed record once, in offset order, from where the last
claim found the feed committed (streams/live/rollup.py FeedCursor): Faust's consumer began
a partition taken over with nothing committed at the feed's end, and what was fed before
the takeover was never rolled up (test_live_zombie). Offsets here are hand-picked."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiokafka import TopicPartition

from streams.live.rollup import RESEEK_AFTER_S, FeedCursor

FEED = "p.rollup-feed.v1"


@dataclass
class _Message:
    topic: str
    partition: int
    offset: int


@dataclass
class _Event:
    message: _Message


@dataclass
class _Claims:
    claims: int
    resume_from: dict[int, int]
    fenced: bool = False

    def holds(self, partition: int) -> bool:
        return not self.fenced


def _events(*offsets: int) -> list[Any]:
    return [_Event(_Message(FEED, 0, o)) for o in offsets]


def _offsets(events: list[Any]) -> list[int]:
    return [e.message.offset for e in events]


def test_a_takeover_that_began_at_the_end_goes_back_to_the_start() -> None:
    claims = _Claims(claims=1, resume_from={0: 0})
    cursor = FeedCursor(claims)  # type: ignore[arg-type]
    admitted, gaps = cursor.admit(_events(54, 55))
    assert (_offsets(admitted), gaps) == ([], {TopicPartition(FEED, 0): 0})
    # the records still buffered past the gap: no second seek, nothing decided
    assert cursor.admit(_events(56)) == ([], {})
    # after the seek: the start, then on; a record seen twice is decided once
    admitted, gaps = cursor.admit(_events(0, 1, 2, 1, 3))
    assert (_offsets(admitted), gaps) == ([0, 1, 2, 3], {})


def test_a_claim_resumes_from_what_it_found_committed() -> None:
    claims = _Claims(claims=1, resume_from={0: 10})
    cursor = FeedCursor(claims)  # type: ignore[arg-type]
    assert _offsets(cursor.admit(_events(8, 9, 10, 11))[0]) == [10, 11]
    claims.claims, claims.resume_from = 2, {0: 5}  # taken over and back: committed at 5
    assert _offsets(cursor.admit(_events(5, 6))[0]) == [5, 6]


def test_a_gap_still_there_later_sends_the_consumer_back_again() -> None:
    """A lost seek: records past the gap keep coming; after RESEEK_AFTER_S the consumer is
    sent back again (before it, they are taken as fetched before the seek)."""
    now = [100.0]
    cursor = FeedCursor(_Claims(claims=1, resume_from={0: 0}), lambda: now[0])  # type: ignore[arg-type]
    assert cursor.admit(_events(54))[1] == {TopicPartition(FEED, 0): 0}
    now[0] += RESEEK_AFTER_S
    assert cursor.admit(_events(55)) == ([], {})
    now[0] += 0.1
    assert cursor.admit(_events(56)) == ([], {TopicPartition(FEED, 0): 0})
    assert cursor.admit(_events(57)) == ([], {})  # and not at once a third time
    assert _offsets(cursor.admit(_events(0, 1))[0]) == [0, 1]


def test_nothing_is_admitted_after_a_fenced_commit_until_the_next_claim() -> None:
    claims = _Claims(claims=1, resume_from={0: 10})
    cursor = FeedCursor(claims)  # type: ignore[arg-type]
    assert _offsets(cursor.admit(_events(10, 11))[0]) == [10, 11]
    claims.fenced = True  # a commit found the partition another worker's
    assert cursor.admit(_events(12, 13)) == ([], {})
    claims.claims, claims.resume_from, claims.fenced = 2, {0: 12}, False  # claimed back
    assert _offsets(cursor.admit(_events(12, 13))[0]) == [12, 13]


def test_a_gap_left_open_is_sought_again_with_no_records_coming() -> None:
    """A seek lost at the end of the feed: Faust delivered what it had fetched before the
    seek, then dropped the records fetched again from the gap as read already, and nothing
    more comes. The timer (``unfilled``) sends the consumer back once RESEEK_AFTER_S has
    passed since the last seek, and not again before; nothing once the gap is filled."""
    now = [100.0]
    cursor = FeedCursor(_Claims(claims=1, resume_from={0: 0}), lambda: now[0])  # type: ignore[arg-type]
    assert cursor.admit(_events(137, 138))[1] == {TopicPartition(FEED, 0): 0}
    now[0] += RESEEK_AFTER_S
    assert cursor.unfilled() == {}
    now[0] += 0.1
    assert cursor.unfilled() == {TopicPartition(FEED, 0): 0}
    assert cursor.unfilled() == {}  # sent back just now
    assert cursor.admit(_events(138)) == ([], {})  # a straggler of the lost seek
    assert _offsets(cursor.admit(_events(0, 1))[0]) == [0, 1]
    now[0] += 2 * RESEEK_AFTER_S
    assert cursor.unfilled() == {}


def test_no_gap_is_sought_again_after_a_claim_or_a_fenced_commit() -> None:
    now = [100.0]
    claims = _Claims(claims=1, resume_from={0: 0})
    cursor = FeedCursor(claims, lambda: now[0])  # type: ignore[arg-type]
    assert cursor.admit(_events(54))[1] == {TopicPartition(FEED, 0): 0}
    now[0] += 2 * RESEEK_AFTER_S
    claims.fenced = True  # the partition is another worker's: its consumer is not ours
    assert cursor.unfilled() == {}
    claims.fenced, claims.claims, claims.resume_from = False, 2, {0: 54}
    assert cursor.unfilled() == {}  # the claim's consumer starts from what it found
    assert _offsets(cursor.admit(_events(54))[0]) == [54]
