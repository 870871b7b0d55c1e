"""A command in a real terminal of a given size (a tmux pane on a server of its own), read
back as text (what a person sees) or with its colours (ANSI, for screenshots)."""

from __future__ import annotations

import shlex
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType


class Pane:
    """``command`` running in a ``cols``×``rows`` tmux pane; the pane stays after the
    command exits, so its exit status can be read."""

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
        line = shlex.join(["env", "-u", "COLUMNS", "-u", "LINES", *variables, *command])
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
        """The command's exit status once it has exited, else None."""
        shown = self._tmux(
            "display-message",
            "-p",
            "-t",
            "t",
            "#{pane_dead}:#{pane_dead_status}:#{pane_dead_signal}",
        )
        dead, status, signal = shown.strip().split(":")
        if dead != "1" or not (status or signal):  # tmux may not have the status yet
            return None
        return int(status) if status else 128 + int(signal)

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
