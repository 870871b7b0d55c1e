"""One review runs in one process at a time (``streams.replay.checkpoint.run_lock``), and a
save its forked child is still writing holds the review as long as it lives: a resumed
run must never write the checkpoint that child is writing."""

from __future__ import annotations

import fcntl
import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from streams.config.settings import Settings
from streams.core import default_rulebook
from streams.replay import review_run
from streams.replay.checkpoint import release_run_lock, run_lock
from streams.replay.runner import ReplayError
from streams.replay.session import ReviewRequest
from topics.errors import TierflowError


def test_a_second_run_of_a_review_is_refused(tmp_path: Path) -> None:
    lock = run_lock(tmp_path / "reviews" / "r.lock", "r")
    with pytest.raises(ReplayError, match="'r' is running in another process"):
        run_lock(tmp_path / "reviews" / "r.lock", "r")
    lock.close()
    run_lock(tmp_path / "reviews" / "r.lock", "r").close()


def test_a_child_saving_holds_the_review_after_its_run_has_ended(tmp_path: Path) -> None:
    path = tmp_path / "r.lock"
    lock = run_lock(path, "r")
    pid = os.fork()
    if pid == 0:  # pragma: no cover - a save in the background, still writing
        time.sleep(1.0)
        os._exit(0)
    lock.close()  # the run was killed
    with pytest.raises(ReplayError, match="still being saved"):
        run_lock(path, "r")
    os.waitpid(pid, 0)
    run_lock(path, "r").close()


class _ClickHouseDown(Exception):
    """The review database cannot be prepared (planted)."""


def test_a_review_that_cannot_start_leaves_its_name_unlocked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise _ClickHouseDown

    monkeypatch.setattr(review_run, "Review", down)
    settings = Settings(stack_home=tmp_path)
    at = datetime(2026, 3, 1, tzinfo=UTC)
    request = ReviewRequest("r", default_rulebook(), None, at, at + timedelta(days=1))
    with pytest.raises(_ClickHouseDown) as failed:
        review_run.RunningReview(settings, request)
    # While the error is kept (its traceback holds the half-made run, a CLI prints it
    # first), the name is free: no reliance on the lock file being garbage.
    run_lock(tmp_path / "reviews" / "r.lock", "r").close()
    assert failed.traceback


def test_a_complete_review_removes_its_lock_file(tmp_path: Path) -> None:
    path = tmp_path / "r.lock"
    release_run_lock(run_lock(path, "r"))
    assert not path.exists()
    run_lock(path, "r").close()


def test_a_lock_taken_as_the_run_before_removes_the_file_is_taken_anew(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The run before completes between this run's open and its lock: the file this run
    locked is no longer the review's lock file, so it takes the new one."""
    path = tmp_path / "r.lock"
    real_flock = fcntl.flock
    calls: list[int] = []

    def flock_as_the_run_before_completes(fd: Any, operation: int) -> None:
        if not calls:
            path.unlink()  # (release_run_lock of the run before, which held the lock)
        calls.append(operation)
        real_flock(fd, operation)

    monkeypatch.setattr(fcntl, "flock", flock_as_the_run_before_completes)
    lock = run_lock(path, "r")
    assert len(calls) == 2
    assert os.fstat(lock.fileno()).st_ino == os.stat(path).st_ino
    with pytest.raises(ReplayError):
        run_lock(path, "r")
    lock.close()


@pytest.mark.parametrize("name", ["../../escaped", "a b"])
def test_a_name_that_is_no_review_name_makes_no_file(tmp_path: Path, name: str) -> None:
    with pytest.raises(TierflowError, match="review name"):
        run_lock(tmp_path / "reviews" / f"{name}.lock", name)
    assert list(tmp_path.rglob("*")) == []


def test_a_review_named_as_a_path_is_refused_with_its_reason(tmp_path: Path) -> None:
    """``tierflow replay --name ../../escaped``: the name's error, not a traceback of
    pathlib's, and no file made."""
    at = datetime(2026, 3, 1, tzinfo=UTC)
    request = ReviewRequest("../../escaped", default_rulebook(), None, at, at + timedelta(days=1))
    with pytest.raises(TierflowError, match="bad review name '"):
        review_run.RunningReview(Settings(stack_home=tmp_path / "home"), request)
    assert list(tmp_path.rglob("*")) == []
