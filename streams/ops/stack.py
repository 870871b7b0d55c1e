"""The local stack without Docker: one Kafka broker (KRaft) and one ClickHouse server.

Everything lives under ``settings.stack_home``::

    kafka/server.properties  kafka/data/  kafka.pid  kafka.log
    clickhouse/config.xml  clickhouse/users.xml  clickhouse/data/  clickhouse.pid  clickhouse.log

``stack_up`` is idempotent (a running daemon of ours is reused, never restarted),
``stack_down`` stops exactly the processes our pidfiles name and that really are ours,
and both hold a lock on the stack home so two callers never race.
"""

from __future__ import annotations

import asyncio
import fcntl
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from streams.config.settings import Settings
from streams.ops import kafka_acl, stack_clickhouse, stack_kafka, workers
from streams.ops.stack_proc import (
    Daemon,
    StackError,
    StartingLog,
    port_holder,
    port_in_use,
    running_pid,
    spawn,
    terminate,
    wait_exit,
    wait_ports_free,
    wait_ready,
)

__all__ = ["ComponentStatus", "StackError", "StackStatus", "stack_down", "stack_status", "stack_up"]

KAFKA_READY_TIMEOUT = 120.0
CLICKHOUSE_READY_TIMEOUT = 60.0
KAFKA_STOP_GRACE = 30.0  # a controlled shutdown of a single KRaft node takes a few seconds
CLICKHOUSE_STOP_GRACE = 15.0  # it force-exits ~5 s after KILL QUERY if clients linger


@dataclass(frozen=True)
class ComponentStatus:
    """One daemon of the stack as seen now."""

    name: str
    pid: int | None  # None: not running (or not ours)
    ports: tuple[int, ...]
    data_dir: Path
    log: Path
    started: bool = False  # started by the stack_up call that returned this

    @property
    def running(self) -> bool:
        """Whether our process for this component is alive."""
        return self.pid is not None


@dataclass(frozen=True)
class StackStatus:
    """The stack's components, Kafka first."""

    home: Path
    components: tuple[ComponentStatus, ...]

    @property
    def running(self) -> bool:
        """Whether every component runs."""
        return all(c.running for c in self.components)

    def component(self, name: str) -> ComponentStatus:
        """The component called ``name`` (``kafka`` or ``clickhouse``)."""
        return next(c for c in self.components if c.name == name)


@dataclass(frozen=True)
class _Layout:
    home: Path
    kafka: Daemon
    kafka_dir: Path
    clickhouse: Daemon
    clickhouse_dir: Path

    @property
    def daemons(self) -> tuple[Daemon, Daemon]:
        return self.kafka, self.clickhouse

    def data_dir(self, daemon: Daemon) -> Path:
        return (self.kafka_dir if daemon is self.kafka else self.clickhouse_dir) / "data"


def _layout(settings: Settings) -> _Layout:
    home = settings.stack_home.resolve()
    kafka_dir, ch_dir = home / "kafka", home / "clickhouse"
    ports = (
        settings.kafka_port,
        settings.kafka_controller_port,
        settings.clickhouse_http_port,
        settings.clickhouse_tcp_port,
    )
    if len(set(ports)) != len(ports):
        raise StackError(f"the stack's ports must differ, got {ports}")
    kafka = Daemon(
        name="kafka",
        pidfile=home / "kafka.pid",
        log=home / "kafka.log",
        marker=f"kafka.Kafka {kafka_dir / 'server.properties'}",
        ports=ports[:2],
    )
    clickhouse = Daemon(
        name="clickhouse",
        pidfile=home / "clickhouse.pid",
        log=home / "clickhouse.log",
        marker=f"streams.ops.chserver {ch_dir} ",
        ports=ports[2:],
    )
    return _Layout(home, kafka, kafka_dir, clickhouse, ch_dir)


@contextmanager
def _locked(home: Path) -> Iterator[None]:
    home.mkdir(parents=True, exist_ok=True)
    with (home / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _status(layout: _Layout, started: frozenset[str] = frozenset()) -> StackStatus:
    return StackStatus(
        home=layout.home,
        components=tuple(
            ComponentStatus(
                name=d.name,
                pid=running_pid(d),
                ports=d.ports,
                data_dir=layout.data_dir(d),
                log=d.log,
                started=d.name in started,
            )
            for d in layout.daemons
        ),
    )


def stack_status(settings: Settings) -> StackStatus:
    """What of the stack at ``settings.stack_home`` runs now (starts and stops nothing)."""
    return _status(_layout(settings))


def stack_up(settings: Settings) -> StackStatus:
    """Start whatever of the stack is not running and return once Kafka answers a metadata
    request and ClickHouse answers ``/ping``.

    Idempotent: daemons already running from this stack home are reused. Raises
    :class:`StackError` (one line) when ``java``/``mvn`` is missing, a port is held by a
    process that is not ours (before anything is started), or a daemon fails to come up
    (then the daemons this call started are stopped again).
    """
    layout = _layout(settings)
    with _locked(layout.home):
        pids = {d.name: running_pid(d) for d in layout.daemons}
        for daemon in layout.daemons:
            if pids[daemon.name] is None:
                _require_free_ports(daemon, layout.home)
        started: list[int] = []
        try:
            kafka_log = StartingLog(layout.kafka.log, stack_kafka.STARTED_LINE)
            kafka_pid = pids["kafka"] or _start_kafka(settings, layout, started)
            wait_ready(
                layout.kafka,
                kafka_pid,
                lambda: stack_kafka.answers_metadata(settings),
                KAFKA_READY_TIMEOUT,
                starting=kafka_log,  # loading its partitions' logs: minutes after many tests
            )
            asyncio.run(kafka_acl.grant_worker(settings))
            ch_pid = pids["clickhouse"] or _start_clickhouse(settings, layout, started)
            wait_ready(
                layout.clickhouse,
                ch_pid,
                lambda: stack_clickhouse.pings(settings.clickhouse_http_port),
                CLICKHOUSE_READY_TIMEOUT,
            )
        except BaseException:
            for pid in started:
                terminate(pid, grace=5)
            raise
        fresh = frozenset(name for name, pid in pids.items() if pid is None)
        return _status(layout, fresh)


def _require_free_ports(daemon: Daemon, home: Path) -> None:
    for port in daemon.ports:
        if port_in_use(port):
            raise StackError(
                f"port {port} (for {daemon.name}) is held by {port_holder(port)}, which is not "
                f"this stack ({home}): stop it or choose other ports (TIERFLOW_*_PORT)"
            )


def _start_kafka(settings: Settings, layout: _Layout, started: list[int]) -> int:
    stack_kafka.ensure_jars(settings)
    data_dir = layout.data_dir(layout.kafka)
    layout.kafka_dir.mkdir(parents=True, exist_ok=True)
    properties = layout.kafka_dir / "server.properties"
    properties.touch(mode=0o600)  # it holds the admin's password
    properties.chmod(0o600)
    properties.write_text(stack_kafka.server_properties(settings, data_dir))
    stack_kafka.format_storage(settings, properties, data_dir)
    argv = stack_kafka.java_argv(settings, "kafka.Kafka", str(properties))
    pid = spawn(layout.kafka, argv, cwd=layout.kafka_dir)
    started.append(pid)
    return pid


def _start_clickhouse(settings: Settings, layout: _Layout, started: list[int]) -> int:
    conf_dir = layout.clickhouse_dir
    data_dir = layout.data_dir(layout.clickhouse)
    data_dir.mkdir(parents=True, exist_ok=True)
    (conf_dir / "config.xml").write_text(stack_clickhouse.config_xml(settings))
    users = conf_dir / "users.xml"
    users.touch(mode=0o600)  # password hashes: readable by the owner only
    users.write_text(stack_clickhouse.users_xml(settings))
    argv = [sys.executable, "-m", "streams.ops.chserver", str(conf_dir), str(data_dir)]
    pid = spawn(layout.clickhouse, argv, cwd=conf_dir)
    started.append(pid)
    return pid


def stack_down(settings: Settings) -> None:
    """Stop the workers the project started (:mod:`streams.ops.workers`: without the stack
    they would die and be restarted forever), then the daemons this stack home's pidfiles
    name (only if they really are ours), and wait until their ports are free; stale
    pidfiles are removed. A no-op when nothing runs. Raises :class:`StackError` if a port
    of a stopped daemon is still held afterwards."""
    layout = _layout(settings)
    workers.stop_all(settings)
    with _locked(layout.home):
        freed: list[int] = []
        # ClickHouse first: nothing of the stack depends on it, and it stops quickest.
        for daemon in reversed(layout.daemons):
            pid = running_pid(daemon)
            if pid is not None:
                _stop(settings, layout, daemon, pid)
                freed.extend(daemon.ports)
            daemon.pidfile.unlink(missing_ok=True)
        held = wait_ports_free(tuple(freed), timeout=10)
        if held:
            raise StackError(f"ports {held} still held after stopping the stack")


def _stop(settings: Settings, layout: _Layout, daemon: Daemon, pid: int) -> None:
    if daemon is layout.clickhouse:
        # The clean way: end the serving query; signals are the fallback.
        if stack_clickhouse.request_stop(settings) and wait_exit(pid, CLICKHOUSE_STOP_GRACE):
            return
        terminate(pid, grace=5)
    else:
        terminate(pid, grace=KAFKA_STOP_GRACE)
