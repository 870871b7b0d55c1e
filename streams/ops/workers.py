"""Workers the project starts in the background, each under a supervisor
(:mod:`streams.ops.supervise`) that restarts it on exit.

Files, under ``<stack home>/workers/``: ``NAME.pid`` (the supervisor's pid), ``NAME.log``
(supervisor and worker output), ``NAME.state.json`` (the worker's pid, restarts, last
exit). ``tierflow stack status`` lists them, ``tierflow stack down`` stops them before
the stack (a worker left running would only die and be restarted, forever).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

import psutil
from pydantic import SecretStr

from streams.config.settings import Settings
from streams.ops.stack_proc import Daemon, is_alive, running_pid, spawn, terminate
from streams.ops.supervise import STOP_GRACE_S, SupervisorState

ROOT = Path(__file__).resolve().parents[2]
WORKER_MARKER = "streams.live"


@dataclass(frozen=True)
class WorkerStatus:
    """A supervised worker as seen now."""

    name: str
    supervisor_pid: int | None  # None: the supervisor is not running
    worker_pid: int | None  # None: no worker process right now (restarting, or stopped)
    restarts: int
    last_exit: str  # "75 at 2026-… (meaning)", or "" when it never exited
    log: Path

    @property
    def state(self) -> str:
        if self.supervisor_pid is None:
            return "running unsupervised" if self.worker_pid else "stopped"
        return "running" if self.worker_pid else "restarting"


@dataclass(frozen=True)
class StopReport:
    """What :func:`stop` found and stopped."""

    name: str
    supervisor_pid: int | None
    worker_pid: int | None
    restarts: int

    @property
    def stopped_anything(self) -> bool:
        return self.supervisor_pid is not None or self.worker_pid is not None


def workers_dir(settings: Settings) -> Path:
    return settings.stack_home.resolve() / "workers"


def _state_file(settings: Settings, name: str) -> Path:
    return workers_dir(settings) / f"{name}.state.json"


def daemon(settings: Settings, name: str) -> Daemon:
    """The supervisor of worker ``name`` (its marker: the state file, unique per home)."""
    home = workers_dir(settings)
    return Daemon(
        name=f"{name} worker",
        pidfile=home / f"{name}.pid",
        log=home / f"{name}.log",
        marker=f"streams.ops.supervise {_state_file(settings, name)}",
        ports=(settings.metrics_port,),
    )


def start(settings: Settings, name: str) -> int:
    """The supervisor pid of worker ``name``, starting it (and the worker) unless it runs.
    The worker runs ``python -m streams.live`` with ``settings`` (in its environment), as
    the static group member ``name`` unless ``worker_instance_id`` says otherwise: a
    restart takes the partitions back at once instead of after the killed process's
    session timeout."""
    if settings.worker_instance_id is None:
        settings = settings.model_copy(update={"worker_instance_id": name})
    supervisor = daemon(settings, name)
    pid = running_pid(supervisor)
    if pid is not None:
        return pid
    supervisor.pidfile.parent.mkdir(parents=True, exist_ok=True)
    argv = [
        sys.executable, "-m", "streams.ops.supervise", str(_state_file(settings, name)),
        "--", sys.executable, "-m", WORKER_MARKER,
    ]  # fmt: skip
    return spawn(supervisor, argv, ROOT, env={**os.environ, **settings_env(settings)})


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as the ``TIERFLOW_*`` variables that make a child process read the
    same settings, whatever its working directory (paths made absolute; unset optional
    values left out)."""
    return {
        f"TIERFLOW_{name.upper()}": _env_value(value)
        for name, value in settings.model_dump().items()
        if value is not None
    }


def _env_value(value: object) -> str:
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    return str(value.resolve() if isinstance(value, Path) else value)


def _worker_pid(state: SupervisorState | None) -> int | None:
    """The worker pid the state names, if that process is alive and is a worker."""
    if state is None or state.worker_pid is None or not is_alive(state.worker_pid):
        return None
    try:
        cmdline = " ".join(psutil.Process(state.worker_pid).cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return state.worker_pid if WORKER_MARKER in cmdline else None


def status(settings: Settings, name: str) -> WorkerStatus:
    supervisor = daemon(settings, name)
    state = SupervisorState.read(_state_file(settings, name))
    last = state.last_exit if state else {}
    last_exit = ""
    if last:
        at = str(last["at"])[:19].replace("T", " ")
        last_exit = f"{last['code']} at {at} UTC ({last['meaning']})"
    return WorkerStatus(
        name,
        running_pid(supervisor),
        _worker_pid(state),
        state.restarts if state else 0,
        last_exit,
        supervisor.log,
    )


def statuses(settings: Settings) -> list[WorkerStatus]:
    """Every worker the project started under this stack home (a pidfile or state file
    in ``workers/``), running or not."""
    home = workers_dir(settings)
    if not home.is_dir():
        return []
    names = {p.name.removesuffix(".pid") for p in home.glob("*.pid")}
    names |= {p.name.removesuffix(".state.json") for p in home.glob("*.state.json")}
    return [status(settings, name) for name in sorted(names)]


def stop(settings: Settings, name: str) -> StopReport:
    """Stop worker ``name`` and its supervisor; the report says what was running. A
    worker whose supervisor is gone (killed) is stopped too."""
    supervisor = daemon(settings, name)
    found = status(settings, name)
    if found.supervisor_pid is not None:
        terminate(found.supervisor_pid, grace=STOP_GRACE_S + 10)  # it stops the worker
    if found.worker_pid is not None and is_alive(found.worker_pid):
        terminate(found.worker_pid, grace=STOP_GRACE_S)
    supervisor.pidfile.unlink(missing_ok=True)
    _state_file(settings, name).unlink(missing_ok=True)
    return StopReport(name, found.supervisor_pid, found.worker_pid, found.restarts)


def stop_all(settings: Settings) -> list[StopReport]:
    """Stop every worker the project started under this stack home."""
    return [stop(settings, w.name) for w in statuses(settings)]
