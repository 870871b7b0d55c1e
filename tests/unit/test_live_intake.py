"""The decide intake's loop (:class:`streams.live.intake.Intake`) with a stand-in consumer:
a batch the decide agent never finishes (Faust cleared it from its channel in a
rebalance) must not hang the intake and nothing of it is committed; batches journaled
after the commit are decided again in the same ranges before anything new; a batch whose
journal write outlasted a rebalance is handed over with the generation it was read in (the
agent decides none of an older one), so it is decided once, from the journal. The real
consumer is exercised by the live integration tests (test_live_redo among them)."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass
from typing import Any

import pytest
from aiokafka import TopicPartition

import streams.live.intake as intake_module
from streams.live.intake import Intake
from streams.stages.batch import Record

TP = TopicPartition("t", 0)
BOOK = TopicPartition("j", 0)  # the journal


@dataclass(frozen=True)
class _Message:
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()
    timestamp: int = 0
    timestamp_type: int = 0  # CreateTime


@dataclass(frozen=True)
class _Marker:
    """A transaction's commit marker: takes an offset, never delivered (aiokafka skips it
    and moves the position past it)."""

    offset: int


class _Consumer:
    """Three records on partition 0 of topic ``t``, the journal ``j``; commits recorded."""

    def __init__(self) -> None:
        self.logs = {TP: [_Message("t", 0, n, None, b"{}") for n in range(3)], BOOK: []}
        self.committed_offsets: dict[TopicPartition, int] = {}
        self.commits: list[dict[TopicPartition, int]] = []
        self._assigned: list[TopicPartition] = []
        self._paused: set[TopicPartition] = set()
        self._position: dict[TopicPartition, int] = {}
        self.seeks: list[tuple[TopicPartition, int]] = []
        self.starts: dict[TopicPartition, int] = {}  # log start offsets (else 0)
        self.beginning_lookups: list[tuple[TopicPartition, ...]] = []
        self.idle_polls_ms: list[int] = []  # reads of named partitions that delivered nothing

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    def assign(self, tps: list[TopicPartition]) -> None:
        self._assigned, self._paused = list(tps), set()
        self._position = {tp: self.committed_offsets.get(tp, 0) for tp in tps}

    def assignment(self) -> set[TopicPartition]:
        return set(self._assigned)

    def highwater(self, tp: TopicPartition) -> int:
        return len(self.logs[tp])

    async def position(self, tp: TopicPartition) -> int:
        return self._position[tp]

    def pause(self, *tps: TopicPartition) -> None:
        self._paused |= set(tps)

    def resume(self, *tps: TopicPartition) -> None:
        self._paused -= set(tps)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.seeks.append((tp, offset))
        self._position[tp] = offset

    async def beginning_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        self.beginning_lookups.append(tuple(tps))
        return {tp: self.starts.get(tp, 0) for tp in tps}

    async def end_offsets(self, tps: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self.logs[tp]) for tp in tps}

    async def committed(self, tp: TopicPartition) -> int | None:
        return self.committed_offsets.get(tp)

    async def getmany(
        self, *tps: TopicPartition, timeout_ms: int, max_records: int | None = None
    ) -> dict[TopicPartition, Any]:
        out = {}
        for tp in tps or [tp for tp in self._assigned if tp not in self._paused]:
            batch = self.logs[tp][self._position[tp] :][:max_records]
            self._position[tp] += len(batch)
            delivered = [m for m in batch if not isinstance(m, _Marker)]
            if delivered:
                out[tp] = delivered
        if not out:
            if tps:
                self.idle_polls_ms.append(timeout_ms)
            await asyncio.sleep(timeout_ms / 1000)
        return out

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.committed_offsets.update(offsets)
        self.commits.append(dict(offsets))

    async def write_journal(self, entries: dict[int, bytes]) -> dict[int, int]:
        offsets = {}
        for partition, entry in entries.items():
            book = self.logs[TopicPartition("j", partition)]
            offsets[partition] = len(book)
            book.append(_Message("j", partition, len(book), None, entry))
        return offsets


def _intake(consumer: _Consumer, monkeypatch: pytest.MonkeyPatch) -> Intake:
    monkeypatch.setattr(intake_module, "batch_consumer", lambda *_: consumer)
    monkeypatch.setattr(intake_module, "REVOKE_POLL_S", 0.01)
    ticks = itertools.count(step=100)  # every commit is due
    return Intake(
        kafka={},
        group="g",
        topics=["t"],
        batch_max=10,
        wait_s=0.01,
        commit_interval_s=0,
        journal_topic="j",
        write_journal=consumer.write_journal,
        clock=lambda: float(next(ticks)),
    )


async def _until(condition: Any) -> None:
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not met within 5 s")


def _until_first_commit(
    consumer: _Consumer,
    monkeypatch: pytest.MonkeyPatch,
    partitions: tuple[int, ...] = (0,),
    topics: tuple[str, ...] = ("t",),
) -> list[list[int]]:
    """Run an intake over ``consumer`` until its first commit; the offsets of each batch
    it decided."""
    decided: list[list[int]] = []

    async def decide(records: list[Record], generation: int) -> None:
        decided.append([r.offset for r in records])

    async def scenario() -> None:
        intake = _intake(consumer, monkeypatch)
        intake.topics = topics
        running = asyncio.ensure_future(intake.run(decide, consumer.commit))
        intake.assign(partitions)
        await _until(lambda: consumer.commits)
        running.cancel()

    asyncio.run(scenario())
    return decided


def test_a_batch_cleared_by_a_rebalance_does_not_hang_the_intake_and_is_decided_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _Consumer()
    decided: list[list[Record]] = []

    async def decide(records: list[Record], generation: int) -> None:
        decided.append(records)
        if len(decided) == 1:
            await asyncio.Event().wait()  # never done: Faust dropped it from its channel

    async def scenario() -> None:
        intake = _intake(consumer, monkeypatch)
        running = asyncio.ensure_future(intake.run(decide, consumer.commit))
        intake.assign([0])
        await _until(lambda: len(decided) == 1)
        intake.revoke()
        await asyncio.sleep(0.1)
        assert consumer.commits == []  # nothing of the abandoned batch
        intake.assign([0])
        await _until(lambda: consumer.commits)
        running.cancel()
        # journaled before the agent got it: decided again from the journal, same records
        assert [[r.offset for r in batch] for batch in decided] == [[0, 1, 2], [0, 1, 2]]
        assert consumer.commits == [{TP: 3, BOOK: 1}]

    asyncio.run(scenario())


def test_batches_journaled_after_the_commit_are_decided_again_in_the_same_ranges(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _Consumer()
    # a worker decided offsets 0-1 as one batch and died before committing anything
    consumer.logs[BOOK].append(_Message("j", 0, 0, None, b'[["t",0,2]]'))
    decided = _until_first_commit(consumer, monkeypatch)
    assert decided == [[0, 1], [2]]  # the journaled batch, then the new one
    assert consumer.commits == [{TP: 3, BOOK: 2}]
    assert consumer.logs[BOOK][1].value == b'[["t",2,3]]'


def test_journal_entries_each_committed_with_its_marker_are_all_decided_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _Consumer()
    # Each entry was written in a transaction of its own (streams.live.journal_write):
    # its commit marker takes the next offset, and the journal ends with one.
    consumer.logs[BOOK] += [
        _Message("j", 0, 0, None, b'[["t",0,1]]'),
        _Marker(1),
        _Message("j", 0, 2, None, b'[["t",1,2]]'),
        _Marker(3),
    ]
    decided = _until_first_commit(consumer, monkeypatch)
    assert decided == [[0], [1], [2]]  # the two journaled batches, then the new one
    assert consumer.commits == [{TP: 3, BOOK: 5}]


def test_a_takeover_waits_no_longer_than_a_short_poll_for_the_journal_s_last_marker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _Consumer()
    # Everything was decided and committed: the committed journal offset is the last
    # entry's marker, which a read from there never delivers.
    consumer.logs[BOOK] += [_Message("j", 0, 0, None, b'[["t",0,3]]'), _Marker(1)]
    consumer.committed_offsets = {TP: 3, BOOK: 1}
    consumer.logs[TP].append(_Message("t", 0, 3, None, b"{}"))
    decided = _until_first_commit(consumer, monkeypatch)
    assert decided == [[3]]
    # the read of the marker's span delivered nothing, and waited 1 s for it before
    assert consumer.idle_polls_ms and sum(consumer.idle_polls_ms) <= 100


def test_a_journal_entry_behind_the_committed_offsets_is_not_decided_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _Consumer()
    # The owner decided and committed offsets 0-2 (journal entry 0); a worker that had
    # lost the partition, paused past its session, resumed and journaled offsets 1-2
    # before it heard of the rebalance (entry 1, after the committed journal offset).
    consumer.logs[BOOK] += [
        _Message("j", 0, 0, None, b'[["t",0,3]]'),
        _Message("j", 0, 1, None, b'[["t",1,3]]'),
    ]
    consumer.committed_offsets = {TP: 3, BOOK: 1}
    consumer.logs[TP].append(_Message("t", 0, 3, None, b"{}"))
    decided = _until_first_commit(consumer, monkeypatch)
    assert decided == [[3]]  # only the new record: nothing decided again
    assert consumer.commits == [{TP: 4, BOOK: 3}]  # no input offset goes back
    assert (TP, 1) not in consumer.seeks


def test_a_batch_journaled_across_a_rebalance_is_decided_once_from_the_journal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _Consumer()
    decided: list[list[int]] = []
    intake = _intake(consumer, monkeypatch)

    async def slow_journal(entries: dict[int, bytes]) -> dict[int, int]:
        written = await consumer.write_journal(entries)
        if len(consumer.logs[BOOK]) == 1:  # the broker failed over during the first write
            intake.revoke()
            intake.assign([0])  # ... and the rebalance kept partition 0 here
        return written

    async def agent(records: list[Record], generation: int) -> None:
        # the decide agent's rule (streams/live/app.py): nothing of another generation
        if generation == intake.generation:
            decided.append([r.offset for r in records])

    intake.write_journal = slow_journal

    async def scenario() -> None:
        running = asyncio.ensure_future(intake.run(agent, consumer.commit))
        intake.assign([0])
        await _until(lambda: consumer.commits)
        running.cancel()
        assert decided == [[0, 1, 2]]  # once: the redo of the journaled batch
        assert consumer.commits == [{TP: 3, BOOK: 1}]

    asyncio.run(scenario())


class _Outputs:
    """A decide agent whose batches' outputs stay in flight until :meth:`durable`."""

    def __init__(self) -> None:
        self.decided: list[list[int]] = []
        self.in_flight: list[asyncio.Future[None]] = []

    async def decide(self, records: list[Record], generation: int) -> asyncio.Future[None]:
        self.decided.append([r.offset for r in records])
        self.in_flight.append(asyncio.get_running_loop().create_future())
        return self.in_flight[-1]

    def durable(self, batch: int) -> None:
        self.in_flight[batch].set_result(None)


def test_the_next_batch_is_read_and_journaled_while_outputs_are_in_flight(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer, agent = _Consumer(), _Outputs()

    async def scenario() -> None:
        intake = _intake(consumer, monkeypatch)
        intake.batch_max, intake.clock = 1, lambda: 0.0  # batches of one, no commit due
        intake.commit_interval_s = 60.0
        running = asyncio.ensure_future(intake.run(agent.decide, consumer.commit))
        intake.assign([0])
        await _until(lambda: len(consumer.logs[BOOK]) == 2)  # the second batch journaled
        await asyncio.sleep(0.05)
        assert agent.decided == [[0]]  # not decided while the first one's are in flight
        agent.durable(0)
        await _until(lambda: agent.decided == [[0], [1]])
        running.cancel()

    asyncio.run(scenario())


def test_a_commit_waits_until_the_outputs_of_its_batches_are_durable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer, agent = _Consumer(), _Outputs()

    async def scenario() -> None:
        intake = _intake(consumer, monkeypatch)  # every commit is due
        running = asyncio.ensure_future(intake.run(agent.decide, consumer.commit))
        intake.assign([0])
        await _until(lambda: agent.decided == [[0, 1, 2]])
        await asyncio.sleep(0.05)
        assert consumer.commits == []  # its outputs are not durable yet
        agent.durable(0)
        await _until(lambda: consumer.commits)
        assert consumer.commits == [{TP: 3, BOOK: 1}]
        running.cancel()

    asyncio.run(scenario())


class _Commits:
    """Commits whose sending goes on until :meth:`sent` (the consumer records them then),
    and a decide agent that notes the offsets of each batch."""

    def __init__(self, consumer: _Consumer) -> None:
        self.consumer = consumer
        self.called: list[dict[TopicPartition, int]] = []
        self.sending: list[asyncio.Future[None]] = []
        self.decided: list[list[int]] = []

    async def decide(self, records: list[Record], generation: int) -> None:
        self.decided.append([r.offset for r in records])

    def commit(self, offsets: dict[TopicPartition, int]) -> asyncio.Future[None]:
        self.called.append(dict(offsets))
        self.sending.append(asyncio.get_running_loop().create_future())
        sending = self.sending[-1]

        async def send() -> None:
            await sending
            await self.consumer.commit(offsets)

        return asyncio.ensure_future(send())

    def sent(self, commit: int) -> None:
        self.sending[commit].set_result(None)


def test_batches_are_decided_while_a_commit_is_sent_one_commit_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _Consumer()
    commits = _Commits(consumer)

    async def scenario() -> None:
        intake = _intake(consumer, monkeypatch)  # every commit is due
        intake.batch_max = 1
        running = asyncio.ensure_future(intake.run(commits.decide, commits.commit))
        intake.assign([0])
        # decided while the first commit goes
        await _until(lambda: commits.decided == [[0], [1]])
        await asyncio.sleep(0.05)
        assert commits.called == [{TP: 1, BOOK: 1}]  # the next waits for it
        commits.sent(0)
        await _until(lambda: len(commits.called) == 2)
        assert commits.called[1] == {TP: 2, BOOK: 2}
        assert consumer.commits == [{TP: 1, BOOK: 1}]
        running.cancel()

    asyncio.run(scenario())


def test_commits_are_spaced_by_the_wait_for_them_not_by_their_sending(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sending goes on beside the batches: spaced by it (4 s here, so 40 s apart), a
    busy worker would commit rarely and a restart would redo that many batches."""
    consumer = _Consumer()
    consumer.logs[TP] = [_Message("t", 0, n, None, b"{}") for n in range(5_000)]
    commits, now = _Commits(consumer), [0.0]

    async def decide(records: list[Record], generation: int) -> None:
        await asyncio.sleep(0.001)  # busy: there is always more to read

    async def scenario() -> None:
        intake = _intake(consumer, monkeypatch)
        intake.batch_max, intake.clock, intake.commit_interval_s = 1, lambda: now[0], 1.0
        running = asyncio.ensure_future(intake.run(decide, commits.commit))
        intake.assign([0])
        await asyncio.sleep(0.05)
        now[0] = 1.0
        await _until(lambda: len(commits.called) == 1)
        now[0] = 5.0  # its transactions took 4 s, beside the batches
        commits.sent(0)
        await asyncio.sleep(0.05)
        now[0] = 7.0
        await _until(lambda: len(commits.called) == 2)  # one interval after, not 40 s
        running.cancel()

    asyncio.run(scenario())


def test_a_new_assignment_reads_the_journal_once_the_commit_being_sent_is_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    consumer = _Consumer()
    commits = _Commits(consumer)

    async def scenario() -> None:
        intake = _intake(consumer, monkeypatch)
        running = asyncio.ensure_future(intake.run(commits.decide, commits.commit))
        intake.assign([0])
        await _until(lambda: commits.called)  # offsets 0-2 being committed
        intake.revoke()
        intake.assign([0])
        await asyncio.sleep(0.05)
        # the redo would read the journal entry of 0-2 as after the commit and decide it
        # again; the commit moves the offsets past it once sent
        assert commits.decided == [[0, 1, 2]]
        commits.sent(0)
        await asyncio.sleep(0.1)
        assert commits.decided == [[0, 1, 2]]
        assert consumer.commits == [{TP: 3, BOOK: 1}]
        running.cancel()

    asyncio.run(scenario())


def test_a_redo_reads_each_partition_once_however_many_batches_were_journaled(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A seek costs a fetch round trip on the real consumer (~0.5 s): a restart that
    sought per journaled batch took minutes, silently, after a long commit spacing."""
    consumer = _Consumer()
    consumer.logs[TP] = [_Message("t", 0, n, None, b"{}") for n in range(12)]
    for n in range(5):  # five batches of two records decided, none committed
        entry = f'[["t",{2 * n},{2 * n + 2}]]'.encode()
        consumer.logs[BOOK].append(_Message("j", 0, n, None, entry))
    decided = _until_first_commit(consumer, monkeypatch)
    assert decided == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]
    # the journal once, the input once to read the batches, once to go on after them
    assert [tp for tp, _ in consumer.seeks] == [BOOK, TP, TP], consumer.seeks


def test_partitions_never_committed_are_sought_to_their_beginning_looked_up_in_one_request(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each lookup waits behind the consumer's fetches: one per partition made a restart
    of the crash test spend 12 s on 48 partitions at load ~60, and one request at the end
    of the redo still took half a second of every takeover."""
    consumer = _Consumer()
    more = [TopicPartition(t, p) for t in ("t", "u") for p in range(3)]
    books = [TopicPartition("j", p) for p in range(3)]
    consumer.logs = {tp: consumer.logs.get(tp, []) for tp in (*more, *books)}
    consumer.starts = {more[1]: 2}  # its first two records deleted (retention)
    _until_first_commit(consumer, monkeypatch, partitions=(0, 1, 2), topics=("t", "u"))
    assert consumer.beginning_lookups[0] == tuple(more)  # before the journal's own
    assert [(tp, 2 if tp == more[1] else 0) for tp in more] == [
        seek for seek in consumer.seeks if seek[0] in more
    ]


def test_a_topic_read_ahead_is_held_back_to_the_pace_of_its_partitions_other_topics(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Topic ``a`` (three records, fetched whole) is stamped after most of ``t`` (thirty,
    ten a fetch): each batch decided is younger than the one before, as if read live."""
    consumer = _Consumer()
    a = TopicPartition("a", 0)
    consumer.logs = {
        a: [_Message("a", 0, n, None, b"{}", timestamp=1000 * (n + 1)) for n in range(3)],
        TP: [_Message("t", 0, n, None, b"{}", timestamp=100 * n) for n in range(30)],
        BOOK: [],
    }
    stamps = {(m.topic, m.offset): m.timestamp for log in consumer.logs.values() for m in log}
    decided: list[list[int]] = []

    async def decide(records: list[Record], generation: int) -> None:
        decided.append([stamps[r.topic, r.offset] for r in records])

    async def scenario() -> None:
        intake = _intake(consumer, monkeypatch)
        intake.topics, intake.in_step = ("a", "t"), frozenset({"a", "t"})
        running = asyncio.ensure_future(intake.run(decide, consumer.commit))
        intake.assign([0])
        await _until(lambda: sum(map(len, decided)) == 33)
        running.cancel()

    asyncio.run(scenario())
    for before, after in itertools.pairwise(decided):
        assert max(before) <= min(after), decided
    assert sorted(s for batch in decided for s in batch) == sorted(stamps.values())


def test_caught_up_it_commits_without_waiting_out_the_spacing_of_a_busy_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first commit takes 5 s of the intake's clock, so the next is spaced 50 s apart
    while there is more to read; with nothing more, it comes at the base interval."""
    consumer = _Consumer()
    now = [0.0]

    async def commit(offsets: dict[TopicPartition, int]) -> None:
        await consumer.commit(offsets)
        now[0] += 5.0

    async def decide(records: list[Record], generation: int) -> None:
        pass

    async def scenario() -> None:
        intake = _intake(consumer, monkeypatch)
        intake.clock = lambda: now[0]
        running = asyncio.ensure_future(intake.run(decide, commit))
        intake.assign([0])
        await _until(lambda: consumer.commits)
        consumer.logs[TP] += [_Message("t", 0, n, None, b"{}") for n in (3, 4)]
        await _until(lambda: len(consumer.commits) == 2)
        running.cancel()

    asyncio.run(scenario())
    assert consumer.commits[1][TP] == 5
    assert now[0] == 10.0  # the clock did not move: no spacing was waited out


def test_a_topic_partition_paused_for_holding_too_much_still_holds_its_partition_back(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Not fetched while paused, its position stands still on purpose: however long that
    lasts, it is behind until fetched (else, drained, its partition's other topics would
    go ahead of its records still on the broker). Unpaused and still as long, it is stuck."""
    consumer = _Consumer()
    consumer.assign([TP])  # three records on the broker, none fetched: position 0
    now = [0.0]
    intake = _intake(consumer, monkeypatch)
    intake.clock = lambda: now[0]
    intake._stepped, intake._paused = [TP], {TP}

    async def behind_after(seconds: float) -> set[TopicPartition]:
        now[0] += seconds
        return await intake._behind(consumer)  # type: ignore[arg-type]

    async def scenario() -> None:
        assert await behind_after(0) == {TP}
        assert await behind_after(60) == {TP}
        intake._paused = set()
        assert await behind_after(1) == {TP}
        assert await behind_after(60) == set()  # stuck: it holds nothing back any more

    asyncio.run(scenario())


def test_a_partition_waits_while_its_records_are_at_the_broker_or_held(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the tick writer holds back (``Intake.waiting``): from the assignment until the
    partition's records read in step are all decided."""
    consumer = _Consumer()
    seen: list[frozenset[int]] = []

    async def scenario() -> None:
        intake = _intake(consumer, monkeypatch)
        intake.batch_max, intake.in_step = 1, frozenset({"t"})

        async def decide(records: list[Record], generation: int) -> None:
            seen.append(intake.waiting)

        running = asyncio.ensure_future(intake.run(decide, consumer.commit))
        intake.assign([0])
        assert intake.waiting == {0}  # nothing read yet
        await _until(lambda: len(seen) == 3)
        await asyncio.sleep(0.05)
        assert intake.waiting == frozenset()
        running.cancel()

    asyncio.run(scenario())
    assert seen == [{0}, {0}, frozenset()]  # offsets 1-2, then 2, at the broker; then none
