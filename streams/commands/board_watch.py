"""``tierflow board --watch``: the board paged into the terminal's screen.

Each frame is the header, one page of sections and a footer (page, keys, refresh) that
together fit the screen (80×24 included): rows are one line each, and sections that do
not fit go on the next pages. Keys: ``n`` / space / → / PgDn next page, ``p`` / ← / PgUp
previous, ``r`` refresh now, ``q`` / Ctrl-C quit. Without a keyboard (stdin not a
terminal: a wall screen fed by a script) the pages turn at every refresh.
"""

from __future__ import annotations

import os
import select
import sys
import termios
import time
import tty
from collections.abc import Callable
from types import TracebackType
from typing import Any, Literal

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.text import Text

from streams.commands.board_layout import View
from streams.commands.board_view import board_pages, header

Key = Literal["next", "previous", "refresh", "quit"]
KEYS: dict[str, Key] = {
    "n": "next",
    " ": "next",
    "\x1b[C": "next",
    "\x1b[6~": "next",
    "p": "previous",
    "\x1b[D": "previous",
    "\x1b[5~": "previous",
    "r": "refresh",
    "q": "quit",
    "Q": "quit",
}


class Keyboard:
    """Key presses from stdin in cbreak mode (no echo, no Enter needed) while in use; the
    terminal's mode is restored on exit. Not interactive when stdin is not a terminal."""

    def __init__(self) -> None:
        self.fd = sys.stdin.fileno() if sys.stdin is not None else -1
        self.interactive = self.fd >= 0 and os.isatty(self.fd)
        self._saved: list[Any] | None = None

    def __enter__(self) -> Keyboard:
        if self.interactive:
            self._saved = termios.tcgetattr(self.fd)
            tty.setcbreak(self.fd)
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._saved is not None:
            termios.tcsetattr(self.fd, termios.TCSADRAIN, self._saved)

    def wait(self, timeout: float) -> Key | None:
        """The next known key pressed within ``timeout`` seconds, else None."""
        if not self.interactive:
            time.sleep(timeout)
            return None
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            ready, _, _ = select.select([self.fd], [], [], left)
            if not ready:
                return None
            key = KEYS.get(os.read(self.fd, 16).decode("utf-8", "replace"))
            if key is not None:
                return key
        return None


def frame(
    view: View, page: int, every: float, console: Console, problem: str | None = None
) -> tuple[Group, int]:
    """Page ``page`` (modulo the page count) of the board at the console's size, and the
    page count. ``problem``: why the last refresh failed (the data shown is older)."""
    width, height = console.size

    def measure(renderable: RenderableType, at: int = width) -> int:
        return len(console.render_lines(renderable, console.options.update(width=at), pad=False))

    top: list[RenderableType] = list(header(view))
    if problem:
        top.append(Text(f"refresh failed, showing the last read: {problem}", style="bold red"))
    top.append(Text())
    probe = _footer(view, 1, 1, every)
    room = height - measure(Group(*top)) - measure(probe)
    pages = board_pages(view, width, max(room, 1), measure)
    page %= len(pages)
    body = pages[page]
    blank = max(0, room - measure(body))
    footer = _footer(view, page + 1, len(pages), every)
    return Group(*top, body, *(Text() for _ in range(blank)), footer), len(pages)


def _footer(view: View, page: int, pages: int, every: float) -> Text:
    return Text.assemble(
        (f"page {page}/{pages}", "bold reverse"),
        " n/→ next · p/← back · r refresh · ",
        ("q quit", "bold"),
        f" · every {every:g} s, read {view.clock.local(view.read_at):%H:%M:%S}",
    )


def watch(read: Callable[[], View], every: float, console: Console) -> None:
    """Show the board until ``q`` or Ctrl-C, reading it again every ``every`` seconds."""
    view = read()
    page, problem = 0, None
    next_read = time.monotonic() + every
    with Keyboard() as keys, Live(console=console, screen=True, auto_refresh=False) as live:
        while True:
            shown, pages = frame(view, page, every, console, problem)
            page %= pages
            live.update(shown, refresh=True)
            try:
                key = keys.wait(max(0.0, next_read - time.monotonic()))
            except KeyboardInterrupt:
                return
            if key == "quit":
                return
            if key in ("next", "previous"):
                page += 1 if key == "next" else -1
                continue
            try:
                view = read()
                problem = None
            except Exception as exc:  # the server may be down for a while: keep watching
                problem = str(exc).splitlines()[0][:200]
            next_read = time.monotonic() + every
            if key is None and not keys.interactive:
                page += 1
