"""Recognising our own processes and held ports, without the stack."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from streams.ops.stack_proc import (
    Daemon,
    StackError,
    StartingLog,
    port_in_use,
    running_pid,
    spawn,
    terminate,
    wait_exit,
    wait_ready,
)

SLEEPER = [sys.executable, "-c", "import time; time.sleep(60)", "tierflow-test-marker"]


def _daemon(tmp_path: Path, marker: str) -> Daemon:
    return Daemon("probe", tmp_path / "probe.pid", tmp_path / "probe.log", marker, (1,))


@pytest.fixture
def sleeper() -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(SLEEPER)
    yield proc
    proc.kill()
    proc.wait()


def test_a_live_process_with_our_marker_is_ours(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    daemon = _daemon(tmp_path, "tierflow-test-marker")
    daemon.pidfile.write_text(f"{sleeper.pid}\n")
    assert running_pid(daemon) == sleeper.pid


def test_a_recycled_pid_is_not_ours(tmp_path: Path, sleeper: subprocess.Popen[bytes]) -> None:
    daemon = _daemon(tmp_path, "kafka.Kafka /somewhere/server.properties")
    daemon.pidfile.write_text(f"{sleeper.pid}\n")
    assert running_pid(daemon) is None


@pytest.mark.parametrize("content", ["", "not a pid", "999999999"])
def test_broken_or_stale_pidfiles_mean_not_running(tmp_path: Path, content: str) -> None:
    daemon = _daemon(tmp_path, "tierflow-test-marker")
    daemon.pidfile.write_text(content)
    assert running_pid(daemon) is None


def test_a_dead_unreaped_child_is_not_running(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, "-c")
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    daemon.pidfile.write_text(f"{proc.pid}\n")
    zombie = psutil.Process(proc.pid)
    while zombie.status() != psutil.STATUS_ZOMBIE:  # dead, not yet reaped by us
        time.sleep(0.01)
    assert running_pid(daemon) is None
    proc.wait()


def test_spawned_daemon_is_detached_and_recorded(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, "tierflow-test-marker")
    pid = spawn(daemon, SLEEPER, cwd=tmp_path)
    try:
        assert daemon.pidfile.read_text().strip() == str(pid)
        # the child shows its own command line once it has exec'd (later on a busy machine)
        until = time.monotonic() + 10
        while running_pid(daemon) is None and time.monotonic() < until:
            time.sleep(0.01)
        assert running_pid(daemon) == pid
        assert os.getsid(pid) == pid  # its own session: the caller's Ctrl-C never reaches it
    finally:
        terminate(pid, grace=5)
    assert wait_exit(pid, 1)
    assert running_pid(daemon) is None


def test_a_listening_socket_holds_its_port() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert port_in_use(port)
    assert not port_in_use(port)


def test_a_daemon_dying_while_starting_reports_its_log(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, "-c")
    argv = [sys.executable, "-c", "print('Cannot lock file /x/status'); raise SystemExit(1)"]
    pid = spawn(daemon, argv, cwd=tmp_path)
    with pytest.raises(StackError, match=r"probe exited while starting: .*Cannot lock file"):
        wait_ready(daemon, pid, lambda: False, timeout=30)


def test_a_daemon_never_ready_times_out(tmp_path: Path) -> None:
    daemon = _daemon(tmp_path, "tierflow-test-marker")
    pid = spawn(daemon, SLEEPER, cwd=tmp_path)
    try:
        with pytest.raises(StackError, match=r"not ready after 1 s with no progress"):
            wait_ready(daemon, pid, lambda: False, timeout=1)
    finally:
        terminate(pid, grace=5)


# A broker loading its partitions' logs: a line every 0.1 s for 2.5 s, then it serves.
_LOADING = (
    "import sys, time\n"
    "for n in range(25):\n"
    "    print(f'Completed load of log p-{n}', flush=True); time.sleep(0.1)\n"
    "print('Kafka Server started', flush=True); time.sleep(60)\n"
)


def test_a_daemon_still_loading_is_waited_for_past_the_timeout(tmp_path: Path) -> None:
    """`make demo` after `make test`: the broker restarted on the thousands of partitions
    the tests left took longer than the fixed 120 s limit while it loaded them."""
    daemon = _daemon(tmp_path, "tierflow-test-marker")
    progress = StartingLog(daemon.log, "Kafka Server started")
    pid = spawn(daemon, [sys.executable, "-c", _LOADING, "tierflow-test-marker"], cwd=tmp_path)
    try:  # ready after 2.5 s, the timeout is 1 s: it waited because the log grew
        wait_ready(daemon, pid, lambda: b"started" in daemon.log.read_bytes(), 1, progress)
    finally:
        terminate(pid, grace=5)


def test_a_daemon_that_started_but_never_answers_still_times_out(tmp_path: Path) -> None:
    """Up, but refusing our login (each refusal is a line in its log): no progress."""
    daemon = _daemon(tmp_path, "tierflow-test-marker")
    progress = StartingLog(daemon.log, "Kafka Server started")
    refusing = (
        "import time\nprint('Kafka Server started', flush=True)\n"
        "while True: print('Failed authentication (invalid credentials)', flush=True);"
        " time.sleep(0.05)\n"
    )
    pid = spawn(daemon, [sys.executable, "-c", refusing, "tierflow-test-marker"], cwd=tmp_path)
    try:
        with pytest.raises(StackError, match=r"not ready after 1 s with no progress"):
            wait_ready(daemon, pid, lambda: False, 1, progress)
    finally:
        terminate(pid, grace=5)
