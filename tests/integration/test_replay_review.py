"""What-if reviews, the after-action report in a real browser, and resuming an interrupted
or failed replay."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from clickhouse_connect.driver.client import Client

from streams.config.settings import Settings
from streams.core import default_rulebook
from streams.replay import review_run
from streams.replay.checkpoint import run_lock
from streams.replay.runner import DecidedBatch, ReplayError, Review
from streams.replay.session import ReviewRequest, replay_kafka

from .chromium import screenshot
from .kafka_helpers import run_cli
from .live_support import ROOT, prepare, simulate
from .png_pixels import inked, longest_run, region
from .replay_support import (
    DECISIONS,
    CutReview,
    assert_resumes_to_whole,
    decisions,
    drop_databases,
    publish_scenario,
    write_rulebook,
)

CITY = "5101"


def nth_confirmation(lines: list[bytes], truth: dict[str, Any], n: int) -> datetime:
    """By hand, from the scenario file: the first instant at which ``n`` cholera cases of
    the city were confirmed within the 7 days up to it (a case counts once, from its first
    confirmed report; malformed lines, listed in the truth file, are not events)."""
    malformed = {m["line"] for m in truth["malformed"]}
    confirmed: dict[str, datetime] = {}
    for number, raw in enumerate(lines, start=1):
        if number in malformed:
            continue
        record = json.loads(raw)
        if (
            record.get("kind") == "case"
            and record["disease"] == "cholera"
            and record["region"].startswith(CITY)
            and record["classification"] == "confirmed"
        ):
            at = datetime.fromisoformat(record["occurred_at"])
            confirmed[record["case_id"]] = min(at, confirmed.get(record["case_id"], at))
    for t in sorted(confirmed.values()):
        if sum(1 for a in confirmed.values() if t - timedelta(days=7) < a <= t) >= n:
            return t
    raise AssertionError(f"never {n} confirmed within a week")


def hms(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    sign, seconds = ("-", -seconds) if seconds < 0 else ("+", seconds)
    return f"{sign}{seconds // 3600}h{seconds % 3600 // 60:02d}m{seconds % 60:02d}s"


WhatIf = tuple[str, str, list[bytes], dict[str, Any], Settings]


@pytest.fixture
def what_if(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> Iterator[WhatIf]:
    """The cholera scenario replayed from its file twice: with the shipped rulebook
    (``base``) and with cholera Tier II at 20 confirmed a week (``what-if``)."""
    lines, truth = simulate("cholera", 1, tmp_path / "cholera.jsonl")
    rules = write_rulebook(
        tmp_path / "what-if.yaml", ROOT / "streams/rulebooks/default.yaml", "cholera-week-II", 20
    )
    base, alt = unique_name("base"), unique_name("whatif")
    settings = stack.model_copy(update={"topic_prefix": unique_name()})
    source = str(tmp_path / "cholera.jsonl")
    run_cli(["replay", "--name", base, "--from-file", source], settings)
    run_cli(["replay", "--name", alt, "--from-file", source, "--rules", str(rules)], settings)
    yield base, alt, lines, truth, settings
    drop_databases(ch_admin, f"review_{base}", f"review_{alt}")


def test_a_lower_threshold_escalates_earlier_by_the_hand_computed_time(
    what_if: WhatIf, ch_admin: Client
) -> None:
    base, alt, lines, truth, settings = what_if
    at_30 = nth_confirmation(lines, truth, 30)
    at_20 = nth_confirmation(lines, truth, 20)
    # The hand count agrees with the simulator's own truth for the shipped threshold.
    intended = [
        datetime.fromisoformat(s["effective_at"])
        for s in truth["timeline"]
        if s["jurisdiction"] == CITY and s["tier"] == "II"
    ]
    assert intended[0] == at_30

    second = "tier = 'II' AND jurisdiction = '5101'"
    first_ii = {
        db: min(
            row[5] for row in decisions(ch_admin, f"review_{db}", "tier_timeline", second)
        ).replace(tzinfo=UTC)  # the admin client reads UTC without a zone
        for db in (base, alt)
    }
    assert first_ii == {base: at_30, alt: at_20}

    diff = run_cli(["review", "diff", alt, "--against", base], settings).stdout
    (row,) = [line for line in diff.splitlines() if " II " in line and "cholera-week-II" in line]
    assert "earlier" in row and hms(at_20 - at_30) in row, diff
    assert at_20 < at_30


CELL = 64
TOFU = "\u0378"  # unassigned: every font draws its "missing glyph" box


def _glyph_probe(html: str) -> tuple[str, str]:
    """A page with the report's own style (its font stack) drawing each Chinese character
    of the report's tier legend, then a character no font has, each in a 64 px cell at
    the top of the page; returns (page, the characters)."""
    style = re.search(r"<style>(.*?)</style>", html, flags=re.S)
    legend = re.search(r'<p class="legend">(.*?)</p>', html, flags=re.S)
    assert style and legend
    chars = "".join(dict.fromkeys(c for c in re.sub(r"<[^>]+>", "", legend[1]) if ord(c) > 0x2E80))
    cells = "".join(
        f'<span style="position:absolute;top:0;left:{i * CELL}px;width:{CELL}px;'
        f'height:{CELL}px;font-size:48px;line-height:{CELL}px;text-align:center">{c}</span>'
        for i, c in enumerate(chars + TOFU)
    )
    page = (
        f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><style>{style[1]}'
        f"</style></head><body>{cells}</body></html>"
    )
    return page, chars


def test_the_report_opens_offline_in_chromium_and_shows_the_timeline(
    what_if: WhatIf, tmp_path: Path
) -> None:
    _base, alt, _lines, _truth, settings = what_if
    out = tmp_path / "aar.html"
    run_cli(["review", "report", alt, "--against", _base, "--out", str(out)], settings)
    html = out.read_text(encoding="utf-8")
    assert 'class="timeline"' in html and "II 重大" in html and "earlier" in html
    # issue 13: the scenario's command agency declares; the summary and each incident
    # list the decision lags (declared time - the recommendation's effective time)
    summary = re.search(r"decision lag \(recommended → declared\)</t[hd]>\s*<td>([^<]*)<", html)
    assert summary and "median" in summary[1] and "worst" in summary[1], summary
    assert html.count("<h3>Declarations and decision lags</h3>") >= 1
    png = screenshot(out, tmp_path / "aar.png", "1000,1400", tmp_path / "profile")
    # The chart's bar: Tier II (orange) held for over a week of the ~18 days the chart
    # spans (about 760 px); the tier badges of the legend and tables are under 60 px wide.
    assert longest_run(png, "#f28e2b") > 250


def test_the_tier_names_are_drawn_not_tofu(what_if: WhatIf, tmp_path: Path) -> None:
    """Each Chinese character of the tier names, in the report's font stack, draws a
    glyph of its own: not the missing-glyph box a character no font has gets (what every
    character of them got before a CJK font was installed), and not the same as another.
    Planting the fault (FONTCONFIG_FILE naming only the DejaVu fonts) makes all equal."""
    _base, alt, _lines, _truth, settings = what_if
    out = tmp_path / "aar.html"
    run_cli(["review", "report", alt, "--no-diff", "--out", str(out)], settings)
    page, chars = _glyph_probe(out.read_text(encoding="utf-8"))
    assert set(chars) == set("特别重大较一般"), chars
    probe = tmp_path / "probe.html"
    probe.write_text(page, encoding="utf-8")
    width = CELL * (len(chars) + 1)
    png = screenshot(probe, tmp_path / "probe.png", f"{width},{CELL}", tmp_path / "profile")
    cells = [region(png, i * CELL, 0, CELL, CELL) for i in range(len(chars) + 1)]
    *glyphs, tofu = cells
    for char, glyph in zip(chars, glyphs, strict=True):
        assert inked(glyph) > 40, f"{char} drew nothing"
        missing = glyph == tofu  # (a bool: pytest would print both images' bytes)
        assert not missing, f"{char} is drawn as the missing-glyph box"
    assert len(set(glyphs)) == len(glyphs), "two characters drew the same box"


@pytest.mark.parametrize("workers", [1, 2])
def test_an_interrupted_replay_resumes_to_the_same_review(
    cut_review: CutReview, ch_admin: Client, workers: int
) -> None:
    settings = cut_review.settings.model_copy(update={"review_workers": workers})
    request = cut_review.request
    seen: list[int] = []

    def interrupt(done: int, total: int) -> None:
        seen.append(total)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        # Small batches: the interruption must come before the end of the range.
        asyncio.run(replay_kafka(settings, request, interrupt, batch_records=500))
    checkpoint = json.loads(cut_review.checkpoint.read_bytes())
    assert 0 < checkpoint["events"] < seen[0], "interrupted after everything: nothing tested"
    assert_resumes_to_whole(settings, ch_admin, request, cut_review.whole)
    assert not cut_review.checkpoint.exists()


class LandingDown(Exception):
    """ClickHouse refusing a batch's insert (planted)."""


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failed_landing_keeps_the_checkpoint_before_its_batch(
    cut_review: CutReview, ch_admin: Client, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """A review lands one batch while it decides the next: its consistent point must
    never pass a batch whose rows are not durable. (Fails when the point moves before the
    landing has succeeded.) With workers, each lands its own rows (and fails in its own
    process: the review says which, and why)."""
    settings = cut_review.settings.model_copy(update={"review_workers": workers})
    landed: list[int] = []
    real_land = Review.land

    def land(review: Review, batch: DecidedBatch) -> None:
        if len(landed) == 2:
            raise LandingDown
        real_land(review, batch)
        landed.append(batch.events)

    with monkeypatch.context() as patched:
        patched.setattr(Review, "land", land)
        # The third batch fails to land after the fourth has been decided: the
        # checkpoint must hold the first two batches' events, not more.
        with pytest.raises((LandingDown, ReplayError)) as failed:
            asyncio.run(replay_kafka(settings, cut_review.request, batch_records=500))
    assert "LandingDown" in str(failed.value) if workers > 1 else failed.type is LandingDown
    checkpoint = json.loads(cut_review.checkpoint.read_bytes())
    assert checkpoint["events"] == sum(landed) > 0
    assert_resumes_to_whole(settings, ch_admin, cut_review.request, cut_review.whole)


def test_a_resumed_replay_reads_the_batches_of_its_first_run_while_records_arrive(
    stack: Settings, ch_admin: Client, unique_name: Callable[..., str], tmp_path: Path
) -> None:
    """Records published into the range between the interruption and the resumption are not
    the review's: it resumes the plan its first run saved (the same batches, the same
    decisions as a review run before they arrived), not a fresh scan of the grown topics."""
    settings = stack.model_copy(update={"topic_prefix": unique_name(), "stack_home": tmp_path})
    lines, _ = simulate("cholera", 2, tmp_path / "first.jsonl")
    prepare(settings)
    start, end = publish_scenario(settings, lines)
    rulebook = default_rulebook()
    before, cut = unique_name("before"), unique_name("cut")
    first: list[tuple[int, int]] = []
    resumed_sizes: list[tuple[int, int]] = []

    def interrupt(done: int, total: int) -> None:
        first.append((done, total))
        raise KeyboardInterrupt

    try:
        asyncio.run(replay_kafka(settings, ReviewRequest(before, rulebook, None, start, end)))
        with pytest.raises(KeyboardInterrupt):
            request = ReviewRequest(cut, rulebook, None, start, end)
            asyncio.run(replay_kafka(settings, request, interrupt, batch_records=200))
        ((done, total),) = first
        assert done < total, "interrupted after everything: nothing tested"
        later, _ = simulate("cholera", 3, tmp_path / "later.jsonl")
        publish_scenario(settings, later)  # the same March: inside the range
        resumed = asyncio.run(
            replay_kafka(
                settings,
                ReviewRequest(cut, rulebook, None, start, end),
                lambda d, t: resumed_sizes.append((d, t)),
                batch_records=200,
            )
        )
        assert resumed.resumed
        # The rest of the first run's batches, no more: the new records were not planned.
        assert {t for _, t in resumed_sizes} == {total - done}
        assert sum(d for d, _ in resumed_sizes) == total - done
        for table in DECISIONS:
            ours = decisions(ch_admin, f"review_{cut}", table)
            assert ours == decisions(ch_admin, f"review_{before}", table), table
    finally:
        drop_databases(ch_admin, f"review_{before}", f"review_{cut}")


def _killed_after(settings: Settings, request: ReviewRequest, batches: int) -> None:
    """Run ``request`` with a save in the background after every batch, and SIGKILL the
    run itself once ``batches`` batches are done (in a forked process: the test's own
    survives)."""
    review_run.CHECKPOINT_EVERY_S = 0.0
    review_run.BACKGROUND_COST_SHARE = 0
    done: list[int] = []

    def kill(n: int, total: int) -> None:
        done.append(n)
        if len(done) == batches:
            os.kill(os.getpid(), signal.SIGKILL)

    asyncio.run(replay_kafka(settings, request, kill, batch_records=500))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_killed_replay_resumes_from_its_saves_in_the_background(
    cut_review: CutReview, ch_admin: Client, workers: int
) -> None:
    """Nothing saves on a hard kill: what a resumed run finds is what the periodic saves
    (forked children; with workers, the states they encoded) wrote. (Fails when those
    write nothing, or a checkpoint that resumes to other decisions.) The resumed run is
    called with the default batch size: it cuts the batches as the killed run did (its
    workers landed a batch past the last save after the kill)."""
    settings = cut_review.settings.model_copy(update={"review_workers": workers})
    run = multiprocessing.get_context("fork").Process(
        target=_killed_after, args=(settings, cut_review.request, 6)
    )
    run.start()
    run.join(timeout=600)
    assert run.exitcode == -signal.SIGKILL
    lock = cut_review.checkpoint.with_name(f"{cut_review.request.name}.lock")
    deadline = time.monotonic() + 60
    while True:  # the save the kill left running ends on its own
        try:
            run_lock(lock, cut_review.request.name).close()
            break
        except ReplayError:
            assert time.monotonic() < deadline, "a save in the background never ended"
            time.sleep(0.2)
    assert json.loads(cut_review.checkpoint.read_bytes())["events"] > 0
    assert_resumes_to_whole(settings, ch_admin, cut_review.request, cut_review.whole)
    assert not lock.exists()  # the complete review removed it
