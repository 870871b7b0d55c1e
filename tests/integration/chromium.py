"""Screenshots with headless Chromium, offline: a dead proxy, so a page that would fetch
anything shows it (the report must open with nothing fetched)."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import pytest


def chromium() -> str:
    """Chromium's path; skips the test where it is not installed."""
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    pytest.skip("chromium is not installed (Debian package `chromium`)")


def screenshot(page: Path, shot: Path, size: str, profile: Path) -> bytes:
    """A PNG of ``page`` at ``size`` ("WIDTH,HEIGHT" CSS pixels)."""
    subprocess.run(
        [
            chromium(),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            f"--user-data-dir={profile}",
            "--proxy-server=127.0.0.1:9",
            f"--window-size={size}",
            f"--screenshot={shot}",
            page.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return shot.read_bytes()


def terminal_png(ansi_lines: list[str], cols: int, title: str, out: Path, work: Path) -> None:
    """A terminal screen (``tmux capture-pane -e``) drawn as a PNG: rich lays the cells
    out as SVG (every character at its cell, CJK two cells wide), Chromium renders it."""
    from rich.console import Console
    from rich.text import Text

    console = Console(
        record=True, width=cols, force_terminal=True, color_system="truecolor", file=io.StringIO()
    )
    for line in ansi_lines:
        console.print(Text.from_ansi(line), no_wrap=True, overflow="crop")
    svg = console.export_svg(title=title)
    page = work / "terminal.html"
    page.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"><style>body{margin:0}</style>'
        f"</head><body>{svg}</body></html>",
        encoding="utf-8",
    )
    width = int(float(svg.split('viewBox="0 0 ')[1].split()[0]))
    height = int(float(svg.split('viewBox="0 0 ')[1].split()[1].rstrip('"')))
    screenshot(page, out, f"{width},{height}", work / "profile")
