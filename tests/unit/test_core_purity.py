"""streams/core is pure: no I/O, no clock, no randomness, no logging, no shells' libraries.

An AST scan of every module (independent of ruff's banned-api and import-linter, which
say the same in configuration): it fails on a banned import, a banned call, or a file
read outside the one module that loads rulebooks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[2] / "streams" / "core"
BANNED_MODULES = {
    "faust",
    "aiokafka",
    "clickhouse_connect",
    "chdb",
    "prometheus_client",
    "os",
    "sys",
    "io",
    "socket",
    "subprocess",
    "asyncio",
    "logging",
    "random",
    "secrets",
    "time",
    "threading",
    "multiprocessing",
    "requests",
    "urllib",
    "http",
    "shutil",
    "tempfile",
    "sinks",
    "streams.live",
    "streams.replay",
    "streams.cli",
    "streams.commands",
}
BANNED_CALLS = {
    "now",
    "utcnow",
    "today",
    "time",
    "monotonic",
    "perf_counter",
    "uuid1",
    "uuid4",
    "random",
    "randint",
    "urandom",
    "open",
    "print",
    "input",
    "getLogger",
}
FILE_READER = "rulebook_loader.py"  # reads the rulebook YAML once, at start, for the shell


def _modules() -> list[Path]:
    return sorted(CORE.glob("*.py"))


def _violations(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            if any(name == m or name.startswith(m + ".") for m in BANNED_MODULES):
                found.append(f"{path.name}:{node.lineno}: imports {name}")
            if name in ("pathlib", "importlib.resources") and path.name != FILE_READER:
                found.append(f"{path.name}:{node.lineno}: file access ({name})")
        if isinstance(node, ast.Call):
            func = node.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if called in BANNED_CALLS:
                found.append(f"{path.name}:{node.lineno}: calls {called}()")
    return found


def test_core_has_modules() -> None:
    assert len(_modules()) >= 8


@pytest.mark.parametrize("path", _modules(), ids=lambda p: p.name)
def test_core_module_is_pure(path: Path) -> None:
    assert _violations(path) == []


def test_the_scan_catches_what_it_bans(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import random\nfrom datetime import datetime\nimport faust.tables\n"
        "x = datetime.now()\nimport uuid\ny = uuid.uuid4()\nopen('f')\n"
    )
    assert [v.split(": ", 1)[1] for v in _violations(bad)] == [
        "imports random",
        "imports faust.tables",
        "calls now()",
        "calls uuid4()",
        "calls open()",
    ]
