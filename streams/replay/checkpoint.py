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
"""

from __future__ import annotations

import logging
import os
import shutil
from dataclasses import asdict, astuple, dataclass, field
from pathlib import Path

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

log = logging.getLogger("tierflow.replay")

# 1: states inlined in the manifest as base64; 2: no roll-up states; 3: no plan; 4: roll-up
# states without their task ledgers, 5: ranges planned by a scan, no census (read as "no
# checkpoint": the review starts over)
FORMAT = 6


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


class CheckpointFile:
    """The checkpoint of one review on disk (see the module docstring)."""

    def __init__(self, path: Path, identity: str) -> None:
        self.path = path
        self.identity = identity
        self.states_dir = path.with_name(path.name.removesuffix(".checkpoint.json") + ".states")
        self._generation = 0
        self._saved: dict[str, tuple[CoreState, str]] = {}  # jurisdiction -> (state, file)

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
        )

    def save(self, checkpoint: Checkpoint) -> int:
        """Make ``checkpoint`` the one on disk; returns how many states it encoded."""
        self.states_dir.mkdir(parents=True, exist_ok=True)
        generation = self._generation + 1
        files: dict[str, str] = {}
        saved: dict[str, tuple[CoreState, str]] = {}
        encoded = 0
        for jurisdiction, state in checkpoint.states.items():
            before = self._saved.get(jurisdiction)
            if before is not None and before[0] is state:
                name = before[1]
            else:
                name = f"{generation}-{encoded}.state"
                _write_durably(self.states_dir / name, encode_state(state))
                encoded += 1
            files[jurisdiction] = name
            saved[jurisdiction] = (state, name)
        manifest = {
            "format": FORMAT,
            "identity": checkpoint.identity,
            "generation": generation,
            "positions": checkpoint.positions,
            "events": checkpoint.events,
            "states": files,
            "rollups": {a: encode_rollup(r).decode() for a, r in checkpoint.rollups.items()},
            "plan": [astuple(part) for part in checkpoint.plan],
            "census": asdict(checkpoint.census),
        }
        if encoded:
            _sync_directory(self.states_dir)  # the new state files' names are on disk
        tmp = self.path.with_suffix(".tmp")
        _write_durably(tmp, orjson.dumps(manifest))
        tmp.replace(self.path)
        _sync_directory(self.path.parent)  # the rename itself survives a power cut
        self._generation, self._saved = generation, saved
        kept = set(files.values())
        for stale in self.states_dir.iterdir():
            if stale.name not in kept:
                stale.unlink(missing_ok=True)
        return encoded

    def done(self) -> None:
        """The review is complete: nothing to resume."""
        self.path.unlink(missing_ok=True)
        shutil.rmtree(self.states_dir, ignore_errors=True)


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
