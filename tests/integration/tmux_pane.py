"""A command in a real terminal of a given size (a tmux pane on a server of its own), read
back as text (what a person sees) or with its colours (ANSI, for screenshots)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType


class Pane:
    """``command`` running in a ``cols``×``rows`` tmux pane; the pane stays after the
    command exits, so its last screen can be read, and a shell around the command keeps
    its exit status in a file. tmux's own ``pane_dead_status`` is not enough: tmux 3.3a
    sometimes never reaps the command (seen in CI and reproduced: the pane dead, the
    process a zombie, no status, 20 s after ``q``)."""

    def __init__(
        self,
        command: Sequence[str],
        cols: int,
        rows: int,
        *,
        env: Mapping[str, str],
        cwd: Path,
    ) -> None:
        tmux = shutil.which("tmux")
        if tmux is None:
            raise RuntimeError("tmux is not installed (Debian package `tmux`)")
        self.base = [tmux, "-L", f"tierflow-{uuid.uuid4().hex[:10]}", "-f", "/dev/null"]
        # COLUMNS/LINES of the caller's environment would override the pane's real size.
        variables = [f"{k}={v}" for k, v in env.items()]
        self._status = Path(tempfile.mkdtemp(prefix="tierflow-pane-")) / "status"
        unset = ["env", "-u", "COLUMNS", "-u", "LINES", *variables, *command]
        keep = f'"$@"; echo $? > {shlex.quote(str(self._status))}'
        line = shlex.join(["sh", "-c", keep, "sh", *unset])
        self._tmux("new-session", "-d", "-x", str(cols), "-y", str(rows), "-c", str(cwd), "-s", "t")
        self._tmux("set-option", "-t", "t", "remain-on-exit", "on")
        self._tmux("respawn-pane", "-k", "-t", "t", line)

    def _tmux(self, *args: str) -> str:
        return subprocess.run(
            [*self.base, *args], check=True, capture_output=True, text=True, timeout=30
        ).stdout

    def screen(self, *, ansi: bool = False) -> list[str]:
        """The visible screen, one string per row."""
        return self._tmux("capture-pane", "-p", *(["-e"] if ansi else []), "-t", "t").splitlines()

    def keys(self, *keys: str) -> None:
        self._tmux("send-keys", "-t", "t", *keys)

    def exit_status(self) -> int | None:
        """The command's exit status once it has exited (128 + n when signal n ended it),
        else None."""
        try:
            shown = self._status.read_text()
        except FileNotFoundError:
            return None
        return int(shown) if shown.endswith("\n") else None  # else still being written

    def wait(self, ready: Callable[[list[str]], bool], timeout: float = 90) -> list[str]:
        """The screen once ``ready`` holds for it (a refresh may be drawing meanwhile)."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if ready(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError("the pane never got ready:\n" + "\n".join(screen))
            time.sleep(0.3)

    def __enter__(self) -> Pane:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        subprocess.run([*self.base, "kill-server"], check=False, capture_output=True, timeout=30)
        shutil.rmtree(self._status.parent, ignore_errors=True)
