"""The review checkpoint on disk (:mod:`streams.replay.checkpoint`): it round-trips, a save
encodes only the states that changed, a crash between files and manifest leaves the last
checkpoint readable, and another review's checkpoint is not resumed."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson
import pytest

from streams.core import (
    CoreState,
    default_rulebook,
    encode_rollup,
    encode_state,
    initial_rollup,
    initial_state,
    rollup_step,
    step_many,
)
from streams.replay import checkpoint as checkpoint_module
from streams.replay.checkpoint import Checkpoint, CheckpointFile
from streams.replay.kafka_range import PartitionRange, RangeCensus
from topics.models import IncidentEvent
from topics.outputs import IncidentState

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
RULES = default_rulebook()


def crash(city: str, n: int) -> IncidentEvent:
    at = T0 + timedelta(minutes=n)
    return IncidentEvent.model_validate(
        {
            "kind": "incident",
            "event_id": f"{city}-{n}",
            "source": {"agency_id": "120-dispatch", "agency_type": "emergency"},
            "occurred_at": at,
            "reported_at": at,
            "region": f"{city}04",
            "incident_id": f"INC-{city}",
            "category": "mass_casualty",
            "casualties": {"total": 12 + n, "dead": 2, "critical": 0},
        }
    )


def grown(state: CoreState, n: int) -> CoreState:
    new, _ = step_many(state, [crash(state.jurisdiction, n)], RULES)
    return new


def files(tmp: Path) -> set[str]:
    return {p.name for p in (tmp / "r.states").iterdir()}


def test_a_save_round_trips_and_encodes_only_changed_states(tmp_path: Path) -> None:
    path = tmp_path / "r.checkpoint.json"
    a, b = grown(initial_state("5101"), 0), grown(initial_state("1101"), 0)
    disk = CheckpointFile(path, "id-1")
    assert disk.save(Checkpoint("id-1", {"t:0": 5}, {"5101": a, "1101": b}, 7)) == 2
    a2 = grown(a, 1)
    assert disk.save(Checkpoint("id-1", {"t:0": 9}, {"5101": a2, "1101": b}, 11)) == 1
    assert disk.save(Checkpoint("id-1", {"t:0": 9}, {"5101": a2, "1101": b}, 11)) == 0
    assert len(files(tmp_path)) == 2  # the superseded state file is gone

    loaded = CheckpointFile(path, "id-1").load()
    assert (loaded.positions, loaded.events) == ({"t:0": 9}, 11)
    assert {j: encode_state(s) for j, s in loaded.states.items()} == {
        "5101": encode_state(a2),
        "1101": encode_state(b),
    }
    assert encode_state(a2) != encode_state(a)  # the save did not keep the stale one


def test_a_resumed_file_does_not_encode_what_it_loaded_again(tmp_path: Path) -> None:
    path = tmp_path / "r.checkpoint.json"
    a = grown(initial_state("5101"), 0)
    CheckpointFile(path, "id-1").save(Checkpoint("id-1", {}, {"5101": a}))
    again = CheckpointFile(path, "id-1")
    loaded = again.load()
    assert again.save(loaded) == 0
    assert again.save(Checkpoint("id-1", {}, {**loaded.states, "5102": a})) == 1


def test_a_crash_before_the_manifest_leaves_the_previous_checkpoint(tmp_path: Path) -> None:
    path = tmp_path / "r.checkpoint.json"
    a = grown(initial_state("5101"), 0)
    CheckpointFile(path, "id-1").save(Checkpoint("id-1", {"t:0": 5}, {"5101": a}, 3))
    before = path.read_bytes()
    # What a save killed after writing its state files (and before the manifest) leaves.
    (tmp_path / "r.states" / "2-0.state").write_bytes(b"half written")

    loaded = CheckpointFile(path, "id-1").load()
    assert path.read_bytes() == before
    assert (loaded.positions, loaded.events) == ({"t:0": 5}, 3)
    assert encode_state(loaded.states["5101"]) == encode_state(a)


def test_another_reviews_or_an_older_formats_checkpoint_is_not_resumed(tmp_path: Path) -> None:
    path = tmp_path / "r.checkpoint.json"
    a = grown(initial_state("5101"), 0)
    CheckpointFile(path, "id-1").save(Checkpoint("id-1", {"t:0": 5}, {"5101": a}, 3))
    assert CheckpointFile(path, "id-2").load() == Checkpoint("id-2")
    path.write_bytes(orjson.dumps({"identity": "id-1", "positions": {"t:0": 5}, "states": {}}))
    assert CheckpointFile(path, "id-1").load() == Checkpoint("id-1")


def test_done_removes_the_manifest_and_the_states(tmp_path: Path) -> None:
    path = tmp_path / "r.checkpoint.json"
    disk = CheckpointFile(path, "id-1")
    disk.save(Checkpoint("id-1", {}, {"5101": grown(initial_state("5101"), 0)}))
    disk.done()
    assert list(tmp_path.iterdir()) == []


def test_roll_up_states_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "r.checkpoint.json"
    chengdu = IncidentState(
        incident_id="INC-1",
        jurisdiction="5101",
        category="infectious_disease",
        disease="cholera",
        tier="IV",
        opened_at=T0,
        updated_at=T0,
        rulebook_version=RULES.version,
        tier_periods=((T0, None),),
        version=3,
    )
    province, _ = rollup_step(initial_rollup("51"), chengdu, RULES)
    CheckpointFile(path, "id-1").save(Checkpoint("id-1", {"t:0": 1}, {}, 1, {"51": province}))
    loaded = CheckpointFile(path, "id-1").load()
    assert {a: encode_rollup(r) for a, r in loaded.rollups.items()} == {
        "51": encode_rollup(province)
    }
    assert loaded.rollups["51"].incidents["Actual|cholera"]["INC-1"][0] == 3


def test_the_plan_and_the_census_round_trip(tmp_path: Path) -> None:
    """A resumed review reads the ranges its first run planned (not a fresh plan), and
    counts on from what its first run had read."""
    path = tmp_path / "r.checkpoint.json"
    plan = [PartitionRange("p.cases", 0, 0, 120), PartitionRange("p.ticks", 3, 7, 9)]
    census = RangeCensus(scanned=62, inside=50, before=7, after=5, restamped=3, undated=1)
    CheckpointFile(path, "id-1").save(
        Checkpoint("id-1", {"p.cases:0": 60}, plan=plan, census=census)
    )
    loaded = CheckpointFile(path, "id-1").load()
    assert (loaded.plan, loaded.census) == (plan, census)


def test_a_save_is_durable_before_and_after_the_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The new state files and the new manifest are fsynced before the manifest is renamed
    into place, and the directory after it (so the rename survives a power cut)."""
    path = tmp_path / "r.checkpoint.json"
    events: list[str] = []
    real_fsync, real_replace = os.fsync, Path.replace

    def fsync(fd: int) -> None:
        events.append(f"fsync {os.readlink(f'/proc/self/fd/{fd}')}")
        real_fsync(fd)

    def replace(self: Path, target: Path) -> Path:
        events.append(f"rename {self} -> {target}")
        return real_replace(self, target)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(Path, "replace", replace)
    state = grown(initial_state("5101"), 0)
    CheckpointFile(path, "id-1").save(Checkpoint("id-1", {"t:0": 5}, {"5101": state}, 1))
    tmp = path.with_suffix(".tmp")
    assert events == [
        f"fsync {tmp_path / 'r.states' / '1-0.state'}",
        f"fsync {tmp_path / 'r.states'}",
        f"fsync {tmp}",
        f"rename {tmp} -> {path}",
        f"fsync {tmp_path}",
    ]


def test_a_save_in_the_background_is_the_save_here(tmp_path: Path) -> None:
    """A forked child writes what a save here writes; once it has ended, the next save
    encodes only what changed since (its files are taken up)."""
    path = tmp_path / "r.checkpoint.json"
    a, b = grown(initial_state("5101"), 0), grown(initial_state("1101"), 0)
    disk = CheckpointFile(path, "id-1")
    assert disk.save_in_background(Checkpoint("id-1", {"t:0": 5}, {"5101": a, "1101": b}, 7))
    disk.wait()
    loaded = CheckpointFile(path, "id-1").load()
    assert (loaded.positions, loaded.events) == ({"t:0": 5}, 7)
    assert {j: encode_state(s) for j, s in loaded.states.items()} == {
        "5101": encode_state(a),
        "1101": encode_state(b),
    }
    assert disk.save(Checkpoint("id-1", {"t:0": 9}, {"5101": grown(a, 1), "1101": b}, 9)) == 1
    assert len(files(tmp_path)) == 2


def test_one_save_in_the_background_at_a_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    a = grown(initial_state("5101"), 0)
    slow = _planted_encode(monkeypatch, lambda state: time.sleep(0.5))
    disk = CheckpointFile(tmp_path / "r.checkpoint.json", "id-1")
    assert disk.save_in_background(Checkpoint("id-1", {}, {"5101": a}))
    assert disk.poll()
    assert not disk.save_in_background(Checkpoint("id-1", {}, {"5101": grown(a, 1)}))
    disk.wait()
    assert not disk.poll()
    assert slow == []  # (the child slept, not this process)


@pytest.mark.parametrize("end", ["raises", "killed"])
def test_a_failed_save_in_the_background_leaves_the_checkpoint_before_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, end: str
) -> None:
    """A child that fails or is killed while it writes leaves the previous checkpoint
    whole, and the next save writes every state afresh (the child may have replaced the
    manifest, or not)."""
    path = tmp_path / "r.checkpoint.json"
    a, b = grown(initial_state("5101"), 0), grown(initial_state("1101"), 0)
    disk = CheckpointFile(path, "id-1")
    assert disk.save(Checkpoint("id-1", {"t:0": 5}, {"5101": a, "1101": b}, 7)) == 2
    before = path.read_bytes()

    def fail(state: CoreState) -> None:
        if end == "raises":
            raise OSError("disk full (planted)")
        time.sleep(60)

    _planted_encode(monkeypatch, fail)
    assert disk.save_in_background(Checkpoint("id-1", {"t:0": 9}, {"5101": grown(a, 1), "1101": b}))
    if end == "killed":
        assert disk.poll()
        assert disk._child is not None
        os.kill(disk._child[0], signal.SIGKILL)
    disk.wait()
    assert path.read_bytes() == before
    loaded = CheckpointFile(path, "id-1").load()
    assert (loaded.positions, loaded.events) == ({"t:0": 5}, 7)
    monkeypatch.undo()
    assert disk.save(Checkpoint("id-1", {"t:0": 9}, {"5101": grown(a, 1), "1101": b}, 9)) == 2
    assert CheckpointFile(path, "id-1").load().events == 9


def _planted_encode(
    monkeypatch: pytest.MonkeyPatch, before: Callable[[CoreState], None]
) -> list[CoreState]:
    """Make the checkpoint's encoding call ``before`` first; returns the states this
    process (not a child) encoded."""
    here = os.getpid()
    seen: list[CoreState] = []

    def encode(state: CoreState) -> bytes:
        if os.getpid() == here:
            seen.append(state)
        before(state)
        return encode_state(state)

    monkeypatch.setattr(checkpoint_module, "encode_state", encode)
    return seen


def test_without_saves_in_a_child_nothing_is_forked(tmp_path: Path) -> None:
    """``TIERFLOW_REVIEW_SAVE_IN_CHILD=false``: the session then saves in its process."""
    disk = CheckpointFile(tmp_path / "r.checkpoint.json", "id-1", in_child=False)
    assert not disk.save_in_background(Checkpoint("id-1", {}, {"5101": initial_state("5101")}))
    assert not disk.poll()
    assert not (tmp_path / "r.checkpoint.json").exists()


def test_a_fork_that_fails_starts_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No memory or processes left to fork: the session saves in its process instead."""

    def no_fork() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable (planted)")

    path = tmp_path / "r.checkpoint.json"
    disk = CheckpointFile(path, "id-1")
    a = grown(initial_state("5101"), 0)
    monkeypatch.setattr(os, "fork", no_fork)
    assert not disk.save_in_background(Checkpoint("id-1", {"t:0": 5}, {"5101": a}, 3))
    assert not disk.poll()
    assert disk.save(Checkpoint("id-1", {"t:0": 5}, {"5101": a}, 3)) == 1
    assert CheckpointFile(path, "id-1").load().events == 3


def test_a_child_reaped_elsewhere_counts_as_a_save_that_may_have_failed(tmp_path: Path) -> None:
    """A process that ignores SIGCHLD, or a library reaping children, leaves no status to
    read: the next save then writes every state."""
    path = tmp_path / "r.checkpoint.json"
    a, b = grown(initial_state("5101"), 0), grown(initial_state("1101"), 0)
    disk = CheckpointFile(path, "id-1")
    assert disk.save_in_background(Checkpoint("id-1", {}, {"5101": a, "1101": b}))
    assert disk._child is not None
    os.waitpid(disk._child[0], 0)  # someone else reaps it
    assert not disk.poll()
    assert disk.save(Checkpoint("id-1", {}, {"5101": a, "1101": b})) == 2
