"""Processes of the local stack: start detached, recognise our own, stop, check ports.

A daemon is ours when its pidfile names a live process whose command line contains the
daemon's marker (a path inside the stack home), so a recycled pid or someone else's
server on the same port is never mistaken for ours and never signalled.
"""

from __future__ import annotations

import errno
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import psutil

from topics.errors import TierflowError


class StackError(TierflowError):
    """The local stack could not be started, stopped or inspected; the message is one line
    an operator can act on."""


@dataclass(frozen=True)
class Daemon:
    """One long-running process of the stack."""

    name: str
    pidfile: Path
    log: Path
    marker: str  # a substring of the command line that only our process has
    ports: tuple[int, ...]


def running_pid(daemon: Daemon) -> int | None:
    """The pid of ``daemon`` if its pidfile names a live process that is really ours."""
    try:
        pid = int(daemon.pidfile.read_text().strip())
    except (OSError, ValueError):
        return None
    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        cmdline = " ".join(proc.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None
    return pid if daemon.marker in cmdline else None


def spawn(daemon: Daemon, argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> int:
    """Start ``argv`` detached (own session, stdin closed, output appended to the daemon's
    log; ``env``: its environment, default ours), record its pid in the pidfile and
    return it."""
    daemon.log.parent.mkdir(parents=True, exist_ok=True)
    with daemon.log.open("ab") as log:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in the caller's terminal must not reach it
        )
    daemon.pidfile.write_text(f"{proc.pid}\n")
    return proc.pid


def is_alive(pid: int) -> bool:
    """Whether ``pid`` is a live (non-zombie) process."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def wait_exit(pid: int, timeout: float) -> bool:
    """Wait up to ``timeout`` seconds for ``pid`` to end (reaping it if it is our child);
    True when it is gone."""
    try:
        psutil.Process(pid).wait(timeout)
    except psutil.NoSuchProcess:
        return True
    except psutil.TimeoutExpired:
        return False
    return True


def terminate(pid: int, grace: float) -> None:
    """SIGTERM ``pid``, then SIGKILL if it is still alive after ``grace`` seconds."""
    try:
        proc = psutil.Process(pid)
        proc.terminate()
    except psutil.NoSuchProcess:
        return
    if not wait_exit(pid, grace):
        try:
            proc.kill()
        except psutil.NoSuchProcess:
            return
        wait_exit(pid, 10)


def port_in_use(port: int) -> bool:
    """Whether something listens on (or otherwise holds) loopback ``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Like the servers we start, ignore TIME_WAIT leftovers of a previous run.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return True
            raise
    return False


def port_holder(port: int) -> str:
    """Who holds ``port``, as ``pid N (name)`` when the OS tells us, for error messages."""
    try:
        conns = psutil.net_connections(kind="inet")
    except psutil.AccessDenied:
        return "another process"
    for conn in conns:
        if conn.laddr and conn.laddr.port == port and conn.status == psutil.CONN_LISTEN:
            if conn.pid is None:
                return "another process"
            try:
                return f"pid {conn.pid} ({psutil.Process(conn.pid).name()})"
            except psutil.NoSuchProcess:
                return f"pid {conn.pid}"
    return "another process"


def wait_ports_free(ports: tuple[int, ...], timeout: float) -> list[int]:
    """Wait up to ``timeout`` seconds for ``ports`` to be free; returns those still held."""
    deadline = time.monotonic() + timeout
    while True:
        held = [port for port in ports if port_in_use(port)]
        if not held or time.monotonic() >= deadline:
            return held
        time.sleep(0.1)


def log_tail(daemon: Daemon, lines: int = 5) -> str:
    """The last ``lines`` lines of the daemon's log, joined with `` | `` for a one-line
    error message."""
    try:
        text = daemon.log.read_text(errors="replace")
    except OSError:
        return "(no log)"
    tail = [line.strip() for line in text.splitlines() if line.strip()][-lines:]
    return " | ".join(tail) or "(empty log)"


def wait_ready(
    daemon: Daemon,
    pid: int,
    ready: Callable[[], bool],
    timeout: float,
    starting: Callable[[], bool] = lambda: False,
) -> None:
    """Poll ``ready()`` until it is true; StackError (with the log's tail) once ``timeout``
    seconds have passed since the last poll at which ``starting()`` said the daemon was
    still making progress starting up, or as soon as ``pid`` has died."""
    deadline = time.monotonic() + timeout
    while not ready():
        if not is_alive(pid):
            raise StackError(f"{daemon.name} exited while starting: {log_tail(daemon)}")
        if starting():
            deadline = time.monotonic() + timeout
        if time.monotonic() >= deadline:
            raise StackError(
                f"{daemon.name} (pid {pid}) not ready after {timeout:.0f} s with no progress;"
                f" see {daemon.log}"
            )
        time.sleep(0.2)


class StartingLog:
    """``starting`` for :func:`wait_ready`: true while the daemon's log has grown since the
    last look and holds no ``started`` line written since this was made. A broker
    restarted on many partitions logs as it loads each one (Kafka: ~8 000 partitions, the
    topics a full test run leaves, took 92 s at load 60, over the 120 s limit with more);
    a broker that is up but refuses our login logs too, but has written ``started``."""

    def __init__(self, log: Path, started: str) -> None:
        self.log = log
        self.started = started.encode()
        self._seen = self._size()
        self._carry = b""  # the end of the last read: a line may straddle two reads
        self._up = False

    def _size(self) -> int:
        try:
            return self.log.stat().st_size
        except OSError:
            return 0

    def __call__(self) -> bool:
        size = self._size()
        if self._up or size <= self._seen:
            return False
        with self.log.open("rb") as handle:
            handle.seek(self._seen)
            new = self._carry + handle.read(size - self._seen)
        self._seen = size
        self._carry = new[-len(self.started) :]
        self._up = self.started in new
        return not self._up
