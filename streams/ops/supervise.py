"""A supervisor for one long-running worker: start it, restart it whenever it exits, and
say why in the log. ``python -m streams.ops.supervise STATE_FILE -- ARGV...``

The worker is fail-stop by design (exit 70: a stage raised; exit 75: the decide stage's
watchdog saw records wait with no commit), so something must restart it; this is that
something for the local stack (``tierflow demo``); in production it is the container
runtime (``restart: unless-stopped`` in deploy/docker-compose.yml) or systemd.

- The worker inherits the supervisor's stdout/stderr (the log file), and every start and
  exit is one ``supervisor:`` line there, with the exit code's meaning.
- Restarts back off (1, 2, 4 … 30 s) while the worker keeps dying within a minute of its
  start, and start again at 1 s after a run that lasted longer.
- ``STATE_FILE`` (JSON, replaced atomically) tells ``tierflow stack status`` and
  ``tierflow demo --stop`` the worker's pid, the number of restarts and the last exit.
- SIGTERM or SIGINT: the worker gets SIGTERM (SIGKILL after :data:`STOP_GRACE_S`), the
  state file is removed, the supervisor exits 0.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

STOP_GRACE_S = 20.0
QUICK_EXIT_S = 60.0  # a run shorter than this counts towards the back-off
MAX_BACKOFF_S = 30.0

EXIT_MEANINGS = {
    0: "stopped by itself",
    70: "a stage failed (EX_SOFTWARE; the traceback is above)",
    75: "the decide stage stalled: records waited past TIERFLOW_WORKER_STALL_EXIT_S",
}


@dataclass
class SupervisorState:
    """What the state file holds."""

    supervisor_pid: int
    worker_pid: int | None = None
    restarts: int = 0
    started_at: str = ""  # when the current worker started (ISO 8601, UTC)
    last_exit: dict[str, object] = field(default_factory=dict)  # code, meaning, at

    @classmethod
    def read(cls, path: Path) -> SupervisorState | None:
        """The state in ``path``; None when there is none or it is unreadable."""
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None

    def write(self, path: Path) -> None:
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(path)


def exit_meaning(code: int) -> str:
    """What a worker's exit code says (negative: the signal that ended it)."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return EXIT_MEANINGS.get(code, "exited with an error")


def _say(message: str) -> None:
    print(f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S} supervisor: {message}", flush=True)


class _Stop(Exception):
    """SIGTERM or SIGINT reached the supervisor."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def supervise(state_file: Path, argv: list[str]) -> int:
    """Run ``argv`` until told to stop, restarting it on every exit."""
    state = SupervisorState(os.getpid())
    signal.signal(signal.SIGTERM, _raise_stop)
    signal.signal(signal.SIGINT, _raise_stop)
    worker: subprocess.Popen[bytes] | None = None
    quick_exits = 0
    try:
        while True:
            worker = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
            began = time.monotonic()
            state.worker_pid, state.started_at = worker.pid, datetime.now(UTC).isoformat()
            state.write(state_file)
            _say(f"worker pid {worker.pid} started: {' '.join(argv)}")
            code = worker.wait()
            meaning = exit_meaning(code)
            state.worker_pid = None
            ended = datetime.now(UTC).isoformat()
            state.last_exit = {"code": code, "meaning": meaning, "at": ended}
            quick_exits = quick_exits + 1 if time.monotonic() - began < QUICK_EXIT_S else 0
            delay = min(2.0 ** max(quick_exits - 1, 0), MAX_BACKOFF_S)
            state.restarts += 1
            state.write(state_file)
            _say(
                f"worker pid {worker.pid} exited {code} ({meaning}); "
                f"restart {state.restarts} in {delay:.0f} s"
            )
            time.sleep(delay)
    except _Stop:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # one stop is enough
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if worker is not None and worker.poll() is None:
            _say(f"stopping worker pid {worker.pid}")
            worker.terminate()
            try:
                worker.wait(STOP_GRACE_S)
            except subprocess.TimeoutExpired:
                _say(f"worker pid {worker.pid} ignored SIGTERM for {STOP_GRACE_S:.0f} s: SIGKILL")
                worker.kill()
                worker.wait()
        state_file.unlink(missing_ok=True)
        _say("stopped")
        return 0


def main() -> None:
    args = sys.argv[1:]
    if len(args) < 3 or args[1] != "--":
        sys.exit("usage: python -m streams.ops.supervise STATE_FILE -- ARGV...")
    sys.exit(supervise(Path(args[0]), args[2:]))


if __name__ == "__main__":
    main()
