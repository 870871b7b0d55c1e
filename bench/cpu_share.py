"""Where a live bench's CPU went: user + system seconds of each process taking part (the
worker's stages, the stack's Kafka broker and ClickHouse server, the bench process that
publishes), read from ``/proc`` at the start and the end of a phase, so a ratio against
the ceiling (one process, one core, no Kafka) can be read against what the machine had."""

from __future__ import annotations

import os
import resource
from dataclasses import dataclass, field
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` so far (None: no such process)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # after the command name, which may hold spaces
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15)


def stack_pids(stack_home: Path) -> dict[str, int]:
    """The local stack's daemons by name, from their pidfiles (``tierflow stack up``)."""
    found = {}
    for name in ("kafka", "clickhouse"):
        try:
            found[name] = int((stack_home / f"{name}.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return found


def _own() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class CpuShare:
    """CPU seconds per process since :meth:`start` (this process counted as ``bench``)."""

    pids: dict[str, int]
    began: dict[str, float] = field(default_factory=dict)

    def start(self) -> CpuShare:
        self.began = {"bench": _own()}
        for name, pid in self.pids.items():
            seconds = cpu_seconds(pid)
            if seconds is not None:
                self.began[name] = seconds
        return self

    def used(self) -> dict[str, float]:
        """CPU seconds each process used since :meth:`start` (gone ones left out)."""
        now = {"bench": _own()}
        for name, pid in self.pids.items():
            seconds = cpu_seconds(pid)
            if seconds is not None:
                now[name] = seconds
        return {name: now[name] - self.began[name] for name in self.began if name in now}

    def describe(self, wall_s: float) -> str:
        """One line: each process's share of one core over ``wall_s``, and the machine's."""
        used = self.used()
        cores = os.cpu_count() or 1
        parts = ", ".join(f"{name} {s / wall_s:.0%}" for name, s in used.items())
        total = sum(used.values()) / wall_s
        return (
            f"CPU over {wall_s:.0f} s, share of one core: {parts}; together {total:.0%} "
            f"(the machine's {cores} cores: {cores:.0%})"
        )
