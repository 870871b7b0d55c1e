"""Regenerate the README's screenshots (docs/img/) from the three scenarios.

Needs the local stack (``.venv/bin/tierflow stack up``), tmux and Chromium:

    .venv/bin/python docs/screenshots.py

It lands the scenarios in a review database (``tierflow replay --from-file``), runs
``tierflow board --watch`` in tmux at 80×24 and 200×50 and draws each pane as a PNG (the
same helpers the tests use), then writes a what-if review (cholera Tier II at 20 a week)
and screenshots its after-action report against the base review.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from streams.config.settings import load_settings  # noqa: E402
from tests.integration.chromium import screenshot, terminal_png  # noqa: E402
from tests.integration.kafka_helpers import settings_env  # noqa: E402
from tests.integration.tmux_pane import Pane  # noqa: E402

IMG = ROOT / "docs" / "img"
TIERFLOW = [sys.executable, "-m", "streams.cli"]


def tierflow(*args: str) -> None:
    subprocess.run([*TIERFLOW, *args], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)


def board_png(database: str, cols: int, rows: int, work: Path) -> None:
    env = {**settings_env(load_settings()), "TIERFLOW_DISPLAY_TZ": "Asia/Shanghai"}
    command = [*TIERFLOW, "board", "--watch", "--database", database]
    with Pane(command, cols, rows, env=env, cwd=ROOT) as pane:
        pane.wait(lambda s: bool(s) and s[0].startswith("tierflow board") and "q quit" in s[-1])
        time.sleep(1)
        out = IMG / f"board-{cols}x{rows}.png"
        title = f"tierflow board --watch ({cols}×{rows})"
        terminal_png(pane.screen(ansi=True), cols, title, out, work)
        print(out)


def main() -> None:
    IMG.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        merged = work / "all.jsonl"
        lines = b""
        for name in ("cholera", "road-mci", "supply-squeeze"):
            scenario = work / f"{name}.jsonl"
            tierflow("simulate", "--scenario", name, "--seed", "1", "--out", str(scenario))
            lines += scenario.read_bytes()
        merged.write_bytes(lines)
        tierflow("replay", "--name", "screens", "--from-file", str(merged))
        board_png("review_screens", 80, 24, work)
        board_png("review_screens", 200, 50, work)
        rules = work / "what-if.yaml"
        default = (ROOT / "streams" / "rulebooks" / "default.yaml").read_text(encoding="utf-8")
        rules.write_text(
            default.replace("window: 7, threshold: 30,", "window: 7, threshold: 20,"),
            encoding="utf-8",
        )
        what_if = ("--from-file", str(merged), "--rules", str(rules))
        tierflow("replay", "--name", "screens_whatif", *what_if)
        report = work / "aar.html"
        tierflow("review", "report", "screens_whatif", "--against", "screens", "--out", str(report))
        out = IMG / "report.png"
        screenshot(report, out, "1100,1500", work / "profile")
        print(out)


if __name__ == "__main__":
    main()
