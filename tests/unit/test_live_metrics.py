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


def test_a_partition_with_records_waiting_and_no_commit_is_stalled() -> None:
    clock = Clock()
    tracker = CommitTracker("unit-stall", clock)
    tracker.refresh([(("in", 0), 100, 40), (("in", 1), 50, 50), (("changelog", 0), 9, None)])
    clock.now += 200
    tracker.refresh([(("in", 0), 100, 60), (("in", 1), 50, 50), (("changelog", 0), 9, None)])
    clock.now += 200
    # in[0] committed 200 s ago with records waiting; in[1] has none waiting; the
    # changelog is not one of the topics watched.
    assert tracker.stalled({"in"}, 300) == []
    clock.now += 150
    assert tracker.stalled({"in"}, 300) == [("in", 0)]
    tracker.refresh([(("in", 0), 100, 100)])  # caught up
    assert tracker.stalled({"in"}, 300) == []
