"""Where a review stopped, on disk: positions, event count and core states, written
incrementally.

A checkpoint is a manifest, ``reviews/<NAME>.checkpoint.json`` (identity, next position
per source, events done, the planned offset ranges of a Kafka review and what it has read
(its census), the roll-up states
inline — they are small — and the state file of each jurisdiction), beside a directory
``reviews/<NAME>.states/`` of encoded core states, one file per jurisdiction and save.

Encoding a state is O(state) — a city's state of a large replay runs to megabytes — so a
save encodes only the states that changed since the previous save. Core states are never
changed in place (``step_many`` returns a new one), so "changed" is object identity: a
state that is the very object saved last time is already on disk. A save writes the new
state files under fresh names first (fsynced, and their directory) and then replaces the
manifest atomically (the new manifest fsynced before the rename, its directory after), so a
crash or a power cut at any point leaves the previous manifest and every file it names
intact; files no manifest names any more are deleted after the replace (and on the next
save, when a crash left some behind).

A review's periodic saves are written by a forked child
(:meth:`CheckpointFile.save_in_background`): states are never changed in place, so the
child's copy-on-write view of them is the point to save, and encoding them (seconds, for a
large city) runs on the other core while the review goes on. One such save runs at a time;
its generation is taken when it starts, so no later save writes a file of the same name
whatever becomes of it; when it fails or is killed, the next save encodes every state
afresh. Its cost is memory: the child's pages are the parent's until one of them writes,
and the encoder's reference counting writes to the pages of the states (up to the states'
size again, while the child runs). Where there is no ``fork`` every save is made in the
process. The lock file of :func:`run_lock` keeps two processes from writing one
checkpoint.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import shutil
import signal
import traceback
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import asdict, astuple, dataclass, field
from pathlib import Path
from typing import IO, NoReturn

import orjson

from streams.core import (
    CoreState,
    RollupState,
    StateDecodeError,
    decode_rollup,
    decode_state,
    encode_rollup,
    encode_state,
)
from streams.replay.kafka_range import PartitionRange, RangeCensus
from streams.replay.runner import ReplayError, review_database

log = logging.getLogger("tierflow.replay")

# 1: states inlined in the manifest as base64; 2: no roll-up states; 3: no plan; 4: roll-up
# states without their task ledgers, 5: ranges planned by a scan, no census, 6: the batches'
# size not kept (read as "no checkpoint": the review starts over)
FORMAT = 7


@dataclass
class Checkpoint:
    """Where a review stopped: next offset per ``topic:partition`` (``file``: next record
    of a file), the input events done, the state of every jurisdiction, the roll-up state
    of every area, and (Kafka) the planned ranges and what was read of them."""

    identity: str
    positions: dict[str, int] = field(default_factory=dict)
    states: dict[str, CoreState] = field(default_factory=dict)
    events: int = 0
    rollups: dict[str, RollupState] = field(default_factory=dict)
    # the planned offset ranges of a Kafka review (resumed with the same batches)
    plan: list[PartitionRange] = field(default_factory=list)
    census: RangeCensus = field(default_factory=RangeCensus)
    # the records a batch holds, as the first run cut them (0: not yet run)
    batch_records: int = 0


class CheckpointFile:
    """The checkpoint of one review on disk (see the module docstring)."""

    def __init__(self, path: Path, identity: str, *, in_child: bool = True) -> None:
        """``in_child``: saves may be made in the background (:meth:`save_in_background`)."""
        self.path = path
        self.in_child = in_child
        self.identity = identity
        self.states_dir = path.with_name(path.name.removesuffix(".checkpoint.json") + ".states")
        self._generation = 0
        self._saved: dict[str, tuple[CoreState | None, str]] = {}  # jurisdiction -> (state, file)
        self._child: tuple[int, _Plan] | None = None  # a save in the background: (pid, plan)

    def load(self) -> Checkpoint:
        """The saved checkpoint when it belongs to the same review (its plan too: a resumed
        review reads the offset ranges its first run planned, not what the topics hold now);
        else a fresh one."""
        if not self.path.exists():
            return Checkpoint(self.identity)
        manifest = orjson.loads(self.path.read_bytes())
        if manifest.get("format") != FORMAT or manifest.get("identity") != self.identity:
            log.warning("ignoring checkpoint of another range, rulebook or format: %s", self.path)
            return Checkpoint(self.identity)
        try:
            states = {
                jurisdiction: decode_state((self.states_dir / name).read_bytes())
                for jurisdiction, name in manifest["states"].items()
            }
        except (OSError, StateDecodeError) as exc:
            log.warning("ignoring checkpoint with unreadable states (%s): %s", exc, self.path)
            return Checkpoint(self.identity)
        self._generation = manifest["generation"]
        self._saved = {
            jurisdiction: (states[jurisdiction], name)
            for jurisdiction, name in manifest["states"].items()
        }
        rollups = {area: decode_rollup(blob.encode()) for area, blob in manifest["rollups"].items()}
        plan = [PartitionRange(*part) for part in manifest["plan"]]
        return Checkpoint(
            self.identity,
            manifest["positions"],
            states,
            manifest["events"],
            rollups,
            plan,
            RangeCensus(**manifest["census"]),
            manifest["batch_records"],
        )

    def forget_states(self) -> None:
        """Keep only the file names of the saved states, not the states: review workers
        hold them from now on, and say which changed (:meth:`save_encoded`)."""
        self._saved = {j: (None, name) for j, (_, name) in self._saved.items()}

    def save(self, checkpoint: Checkpoint) -> int:
        """Make ``checkpoint`` the one on disk (after a save in the background has ended);
        returns how many states it encoded."""
        return self.save_encoded(checkpoint, checkpoint.states)

    def save_encoded(
        self, checkpoint: Checkpoint, states: Mapping[str, CoreState | bytes | None]
    ) -> int:
        """:meth:`save` with every jurisdiction's state in ``states`` instead of
        ``checkpoint.states``: a state, or already encoded (review workers encode their
        own: :mod:`streams.replay.workers`), or ``None``, unchanged since the last save
        (or the loaded checkpoint). Returns how many state files it wrote."""
        self.wait()
        plan = self._plan(states)
        _write(self.path, self.states_dir, checkpoint, plan)
        self._saved = plan.saved
        return len(plan.encode)

    def save_in_background(self, checkpoint: Checkpoint) -> bool:
        """Start making ``checkpoint`` the one on disk in a forked child, which encodes and
        writes while this process goes on; False (nothing started) while the previous one
        is still running, without ``in_child``, where there is no ``fork``, or when it
        fails (no memory or processes left: logged). Its outcome is taken up by
        :meth:`poll` or :meth:`wait`."""
        if not (self.in_child and hasattr(os, "fork")) or self.poll():
            return False
        plan = self._plan(checkpoint.states)
        try:
            pid = os.fork()
        except OSError as exc:
            log.warning("cannot fork to save the checkpoint (%s): saving in the process", exc)
            return False
        if pid == 0:  # pragma: no cover - the child's coverage is not collected
            _child_writes(self.path, self.states_dir, checkpoint, plan)
        self._child = (pid, plan)
        return True

    def poll(self) -> bool:
        """Whether a save in the background is still running (its outcome taken up once it
        has ended)."""
        return self._reap(os.WNOHANG)

    def wait(self) -> None:
        """Wait for a save in the background to end and take up its outcome."""
        self._reap(0)

    def _reap(self, flags: int) -> bool:
        """``waitpid`` with ``flags`` on the save in the background, if any: whether it is
        still running; once it has ended, its outcome is taken up."""
        if self._child is None:
            return False
        pid, plan = self._child
        try:
            ended, status = os.waitpid(pid, flags)
        except ChildProcessError:  # reaped by someone else (SIGCHLD ignored): it has ended
            ended, status = pid, -1
        if ended == 0:
            return True
        self._child = None
        if status == 0:  # exit code 0: the manifest is the child's
            self._saved = plan.saved
        else:
            # The manifest may or may not be the child's: encode every state afresh next
            # time, under names no manifest holds yet.
            self._saved = {}
            log.warning("a checkpoint save failed (%s): the next one writes every state", status)
        return False

    def _plan(self, states: Mapping[str, CoreState | bytes | None]) -> _Plan:
        """The next save: its generation (taken now, whether it succeeds or not, so that
        no two saves write files of one name) and the state file of every jurisdiction."""
        self._generation += 1
        plan = _Plan(self._generation)
        for jurisdiction, state in states.items():
            before = self._saved.get(jurisdiction)
            if before is not None and (state is None or before[0] is state):
                name = before[1]
            elif state is None:
                raise ReplayError(f"no saved state of {jurisdiction} is left to keep")
            else:
                name = f"{plan.generation}-{len(plan.encode)}.state"
                plan.encode.append((name, state))
            plan.files[jurisdiction] = name
            plan.saved[jurisdiction] = (state if isinstance(state, CoreState) else None, name)
        return plan

    def done(self) -> None:
        """The review is complete: nothing to resume."""
        self.wait()
        self.path.unlink(missing_ok=True)
        shutil.rmtree(self.states_dir, ignore_errors=True)


def run_lock(path: Path, name: str) -> IO[bytes]:
    """The open lock file of review ``name``, locked for as long as it is open (and any
    forked child saving its checkpoint lives): two runs of one review, or a resumed run
    and a save its killed predecessor left running, must never write one checkpoint. A
    complete review removes it (:func:`release_run_lock`). A ``name`` that is not a review
    name (:func:`~streams.replay.runner.review_database`) is refused before any file is
    made."""
    review_database(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.open("ab")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.close()
        raise ReplayError(
            f"review {name!r} is running in another process, or its last checkpoint is"
            " still being saved: wait for it to end (a killed review's save ends in seconds)"
        ) from None
    try:
        current = os.stat(path).st_ino == os.fstat(lock.fileno()).st_ino
    except FileNotFoundError:
        current = False
    if not current:  # the run before removed the file between our open and our lock
        lock.close()
        return run_lock(path, name)
    return lock


def release_run_lock(lock: IO[bytes]) -> None:
    """A complete review's lock: removed, then released (a run that opened the file
    before the removal finds it gone once it has the lock, and takes a new one)."""
    Path(lock.name).unlink(missing_ok=True)
    lock.close()


@dataclass
class _Plan:
    """One save: its generation, the file of each jurisdiction's state, the states to
    encode (or encoded) under new names, and what the file then holds (jurisdiction ->
    (state, file); no state where it came encoded)."""

    generation: int
    files: dict[str, str] = field(default_factory=dict)
    encode: list[tuple[str, CoreState | bytes]] = field(default_factory=list)
    saved: dict[str, tuple[CoreState | None, str]] = field(default_factory=dict)


def _write(path: Path, states_dir: Path, checkpoint: Checkpoint, plan: _Plan) -> None:
    """Write the new state files, then replace the manifest (see the module docstring),
    then delete the state files it no longer names."""
    states_dir.mkdir(parents=True, exist_ok=True)
    for name, state in plan.encode:
        blob = state if isinstance(state, bytes) else encode_state(state)
        _write_durably(states_dir / name, blob)
    manifest = {
        "format": FORMAT,
        "identity": checkpoint.identity,
        "generation": plan.generation,
        "positions": checkpoint.positions,
        "events": checkpoint.events,
        "states": plan.files,
        "rollups": {a: encode_rollup(r).decode() for a, r in checkpoint.rollups.items()},
        "plan": [astuple(part) for part in checkpoint.plan],
        "census": asdict(checkpoint.census),
        "batch_records": checkpoint.batch_records,
    }
    if plan.encode:
        _sync_directory(states_dir)  # the new state files' names are on disk
    tmp = path.with_suffix(".tmp")
    _write_durably(tmp, orjson.dumps(manifest))
    tmp.replace(path)
    _sync_directory(path.parent)  # the rename itself survives a power cut
    kept = set(plan.files.values())
    for stale in states_dir.iterdir():
        if stale.name not in kept:
            stale.unlink(missing_ok=True)


def _child_writes(
    path: Path, states_dir: Path, checkpoint: Checkpoint, plan: _Plan
) -> NoReturn:  # pragma: no cover - runs in the forked child
    """The forked child's whole life: write, then leave at once (exit code 0: the manifest
    is this save's). It uses nothing the parent's other threads may have held locked at the
    fork (no logging: the error goes to stderr as bytes), ignores the terminal's Ctrl-C
    (the parent handles it, and waits for this save), and never runs the collector (a
    collection would touch, and so copy, every page of the states)."""
    code = 1
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        gc.disable()
        _write(path, states_dir, checkpoint, plan)
        code = 0
    except BaseException:
        with suppress(BaseException):
            os.write(2, traceback.format_exc().encode())
    finally:
        os._exit(code)


def _write_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and fsync it: a manifest renamed into place must never
    name a file whose bytes are still only in the page cache."""
    with path.open("wb") as out:
        out.write(data)
        out.flush()
        os.fsync(out.fileno())


def _sync_directory(directory: Path) -> None:
    """fsync ``directory``: names created or renamed in it are durable on return."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
