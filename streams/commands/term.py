"""The CLI's terminal output. What it prints holds other people's text — agencies' ids and
headlines, file names, a file's line numbers — so rich must read none of it as markup
(``[/x]`` in a facility id raised ``MarkupError`` and took the board down) or as an emoji
code (``FILE:100:`` printed as ``FILE💯``). Consoles here do neither; our own styling is
attached to :class:`rich.text.Text` spans instead."""

from __future__ import annotations

import os
import shutil
import sys
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.text import Text


def console(*, stderr: bool = False) -> Console:
    """A console that prints every string as it is (no markup, emoji codes or highlighting).
    On stderr a message stays one line however narrow the terminal (soft wrap): an error
    is one line, easy to read back from a log or to grep."""
    return Console(stderr=stderr, markup=False, emoji=False, highlight=False, soft_wrap=stderr)


def labelled(label: str, style: str, message: object) -> Text:
    """``label`` in ``style`` followed by ``message`` printed verbatim."""
    return Text.assemble((label, style), " ", str(message))


def error(message: object) -> Text:
    """``error: message`` with the label in red."""
    return labelled("error:", "red", message)


def program() -> str:
    """How to run tierflow again from here, for commands we print: ``tierflow`` when that
    name on PATH is this program (or we run as ``python -m``), else the path this process
    was started by, relative when it is below the working directory (``.venv/bin/tierflow``
    after ``make demo``, which does not put the venv on PATH)."""
    started = Path(sys.argv[0])
    if started.name != "tierflow":
        return "tierflow"
    on_path = shutil.which("tierflow")
    if on_path and Path(on_path).resolve() == started.resolve():
        return "tierflow"
    relative = os.path.relpath(started.absolute())
    if relative.startswith(".."):
        return str(started.absolute())
    return relative if os.sep in relative else f".{os.sep}{relative}"


def at_utc(at: datetime) -> str:
    """An instant as operators read a range: minutes, in UTC, named so."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
