"""`.ci/run` runs the linters (`make lint`) as a phase of its own before the stack and the
tests, and a lint failure fails CI without running them. Checked by running the real
script with stand-ins for `make` and the system tools it looks for on PATH."""

from __future__ import annotations

import subprocess
from pathlib import Path

CI_RUN = Path(__file__).resolve().parents[2] / ".ci" / "run"
PRESENT_TOOLS = ("kcat", "prometheus", "chromium", "tmux", "java", "mvn", "python3.11")


def _stub(bin_dir: Path, name: str, body: str) -> None:
    script = bin_dir / name
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)


def _run_ci(tmp_path: Path, failing_target: str) -> tuple[int, list[str]]:
    """Run `.ci/run` with a `make` that logs its target and fails on `failing_target`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    log = tmp_path / "make.log"
    for tool in PRESENT_TOOLS:
        _stub(bin_dir, tool, "exit 0")
    _stub(bin_dir, "fc-list", 'echo "Noto Sans CJK SC"')
    _stub(bin_dir, "make", f'echo "$1" >> {log}\n[ "$1" != "{failing_target}" ]')
    done = subprocess.run(
        ["/bin/bash", str(CI_RUN)],
        check=False,
        env={"PATH": f"{bin_dir}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    return done.returncode, log.read_text().split() if log.exists() else []


def test_lint_runs_before_the_stack_and_the_tests(tmp_path: Path) -> None:
    rc, targets = _run_ci(tmp_path, failing_target="none")
    assert rc == 0
    assert targets == ["venv", "lint", "stack-up", "test"]


def test_a_lint_failure_fails_ci_before_the_tests(tmp_path: Path) -> None:
    rc, targets = _run_ci(tmp_path, failing_target="lint")
    assert rc != 0
    assert targets == ["venv", "lint"]
