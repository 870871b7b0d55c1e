"""Lag, commit age and the stall check of :class:`streams.live.metrics.CommitTracker`."""

from __future__ import annotations

from prometheus_client import REGISTRY

from streams.live.metrics import CommitTracker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def gauge(name: str, group: str, topic: str, partition: int) -> float | None:
    labels = {"group": group, "topic": topic, "partition": str(partition)}
    return REGISTRY.get_sample_value(name, labels)


def test_lag_and_commit_age_per_partition() -> None:
    clock = Clock()
    tracker = CommitTracker("unit-lag", clock)
    tracker.refresh([(("in", 0), 100, 40), (("in", 1), 5, None)])
    clock.now += 7
    tracker.refresh([(("in", 0), 120, 40), (("in", 1), 9, 9)])
    assert gauge("tierflow_consumer_lag_records", "unit-lag", "in", 0) == 80
    assert gauge("tierflow_consumer_lag_records", "unit-lag", "in", 1) == 0
    assert gauge("tierflow_last_commit_age_seconds", "unit-lag", "in", 0) == 7  # no move
    assert gauge("tierflow_last_commit_age_seconds", "unit-lag", "in", 1) == 0  # just moved


def test_records_waiting_with_no_commit_are_stalled() -> None:
    clock = Clock()
    tracker = CommitTracker("unit-stall", clock)
    tracker.refresh([(("in", 0), 100, 40), (("in", 1), 50, 50), (("changelog", 0), 9, None)])
    clock.now += 200
    tracker.refresh([(("in", 0), 100, 60), (("in", 1), 50, 50), (("changelog", 0), 9, None)])
    clock.now += 200
    # in[0] committed 200 s ago with records still waiting: they have waited since then;
    # in[1] has none waiting; the changelog is not one of the topics watched.
    assert tracker.stalled({"in"}, 300) == []
    clock.now += 150
    assert tracker.stalled({"in"}, 300) == [("in", 0)]
    tracker.refresh([(("in", 0), 100, 60)])
    assert gauge("tierflow_records_waiting_seconds", "unit-stall", "in", 0) == 350
    tracker.refresh([(("in", 0), 100, 100)])  # caught up
    assert tracker.stalled({"in"}, 300) == []
    assert gauge("tierflow_records_waiting_seconds", "unit-stall", "in", 0) == 0


def test_a_record_after_a_quiet_spell_waits_from_its_arrival() -> None:
    """The quiet night: a partition idle far past the threshold gets one record. It has
    waited for seconds, not for the hours since the partition's last commit."""
    clock = Clock()
    tracker = CommitTracker("unit-quiet", clock)
    tracker.refresh([(("in", 0), 10, 10)])
    for _ in range(5):  # an hour of refreshes with nothing to do
        clock.now += 720
        tracker.refresh([(("in", 0), 10, 10)])
    clock.now += 2
    tracker.refresh([(("in", 0), 11, 10)])  # one record fetched, not committed yet
    clock.now += 2
    assert tracker.stalled({"in"}, 300) == []
    tracker.refresh([(("in", 0), 11, 11)])  # decided and committed
    assert tracker.stalled({"in"}, 300) == []
    assert tracker.last_commit_age() == 0


def test_a_record_after_a_quiet_spell_stalls_if_it_is_never_committed() -> None:
    clock = Clock()
    tracker = CommitTracker("unit-stuck", clock)
    tracker.refresh([(("in", 0), 10, 10)])
    clock.now += 3600  # no refresh at all meanwhile: the wait still starts at arrival
    tracker.refresh([(("in", 0), 12, 10)])
    clock.now += 299
    tracker.refresh([(("in", 0), 12, 10)])
    assert tracker.stalled({"in"}, 300) == []
    clock.now += 2
    assert tracker.stalled({"in"}, 300) == [("in", 0)]


def test_lag_and_last_commit_for_the_heartbeat() -> None:
    clock = Clock()
    tracker = CommitTracker("unit-beat", clock)
    tracker.refresh([(("in", 0), 10, 4), (("in", 1), 3, None), (("other", 0), 9, 0)])
    assert tracker.lag({"in"}) == 6 + 3
    assert tracker.lag() == 6 + 3 + 9
    assert tracker.last_commit_age() is None  # offsets found at the start are not commits
    clock.now += 5
    tracker.refresh([(("in", 0), 10, 10), (("in", 1), 3, None), (("other", 0), 9, 0)])
    clock.now += 7
    assert tracker.last_commit_age() == 7


def test_a_partition_moved_to_another_worker_is_forgotten() -> None:
    """Records waiting on a partition a rebalance gave to another worker are that
    worker's to wait for: they must not stall this one."""
    clock = Clock()
    tracker = CommitTracker("unit-moved", clock)
    tracker.refresh([(("in", 0), 10, 4), (("in", 1), 10, 10)])
    clock.now += 2
    tracker.refresh([(("in", 1), 12, 12)])  # in[0] now belongs to another worker
    clock.now += 400
    tracker.refresh([(("in", 1), 12, 12)])
    assert tracker.stalled({"in"}, 300) == []
    assert tracker.lag() == 0
    assert gauge("tierflow_consumer_lag_records", "unit-moved", "in", 0) is None
