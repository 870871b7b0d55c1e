"""The after-action report from hand-written rows: what it assembles and what the HTML
and its SVG charts show (no ClickHouse here; the integration tests read a real review)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sinks.command_view import ReviewRecord
from streams.core import default_rulebook
from streams.replay.report import assemble_report
from streams.replay.report_html import render_report

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
CST = timezone(timedelta(hours=8))
SVG = "{http://www.w3.org/2000/svg}"


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def change(
    incident: str, hours: float, tier: str | None, previous: str | None, **evidence: float
) -> dict[str, Any]:
    return {
        "incident_id": incident,
        "effective_at": at(hours),
        "tier": tier,
        "previous_tier": previous,
        "rule_ids": [f"rule-{tier}"] if tier else [],
        "evidence": evidence,
        "decided_at": at(hours + 0.5),
        "rulebook_version": "2026.1",
    }


def task(
    incident: str, task_id: str, due: float, state: str, acked: float | None
) -> dict[str, Any]:
    return {
        "task_id": task_id,
        "incident_id": incident,
        "tier": "II",
        "agency_type": "emergency",
        "action": "convene joint command",
        "issued_at": at(0),
        "due_at": at(due),
        "state": state,
        "acked_at": at(acked) if acked is not None else None,
    }


def record(timeline: list[dict[str, Any]], **extra: Any) -> ReviewRecord:
    base: dict[str, Any] = {
        "incidents": [],
        "timeline": timeline,
        "tasks": [],
        "transfers": [],
        "logistics_alerts": [],
        "days_of_cover": [],
    }
    return ReviewRecord(**{**base, **extra})


REVIEW = record(
    [
        change("A", 0, "IV", None, confirmed=1),
        change("A", 24, "III", "IV", confirmed=10),
        change("A", 60, "II", "III", confirmed=20),
    ],
    incidents=[
        {
            "incident_id": "A",
            "jurisdiction": "5101",
            "opened_at": at(0),
            "updated_at": at(48),
            "headline": "cholera <Chengdu>",
            "category": "infectious_disease",
            "disease": "cholera",
        },
    ],
    tasks=[
        task("A", "t-late", 2, "acked", 5),
        task("A", "t-ok", 2, "acked", 1),
        task("A", "t-open", 2, "overdue", None),
    ],
    transfers=[
        {
            "transfer_id": "T-1",
            "incident_id": "A",
            "triage": "immediate",
            "from_facility": "H-1",
            "to_facility": "H-2",
            "required_bed": "icu",
            "transfer_status": "arrived",
            "occurred_at": at(3),
            "eta": at(4),
        },
    ],
    logistics_alerts=[
        {
            "alert_kind": "capacity_redirect",
            "level": "orange",
            "subject_id": "T-1",
            "incident_id": "A",
            "at": at(3),
            "message": "H-2 has no free icu bed: redirect to H-3",
        },
        {
            "alert_kind": "transfer_delayed",
            "level": "yellow",
            "subject_id": "T-9",
            "incident_id": None,
            "at": at(7),
            "message": "transfer T-9 not arrived by its eta",
        },
    ],
    days_of_cover=[
        {
            "site_id": "DEPOT",
            "item": "ppe.n95",
            "at": at(24 * d),
            "on_hand": 100.0,
            "days_of_cover": cover,
            "days_at_full_load": full,  # issue 15 item 5: the latest figure is shown
        }
        for d, (cover, full) in enumerate([(50.0, 4.0), (31.0, 2.5), (12.0, None)])
    ],
)
LIVE = record(
    [
        change("A", 0, "IV", None, confirmed=1),
        change("A", 24, "III", "IV", confirmed=10),
        change("A", 84, "II", "III", confirmed=30),
        change("B", 10, "IV", None, confirmed=1),
    ]
)


def report(reference: tuple[str, ReviewRecord] | None = ("live", LIVE)) -> Any:
    return assemble_report(
        "what-if",
        "review_what_if",
        REVIEW,
        rulebook=default_rulebook(),
        tz=CST,
        reference=reference,
    )


def test_assembly_groups_by_incident_and_keeps_reference_only_incidents() -> None:
    got = report()
    assert [s.incident_id for s in got.incidents] == ["A", "B"]
    a, b = got.incidents
    assert [c.tier for c in a.changes] == ["IV", "III", "II"]
    assert [c.tier for c in (a.reference_changes or [])] == ["IV", "III", "II"]
    assert b.changes == [] and [c.tier for c in (b.reference_changes or [])] == ["IV"]
    late = {t.task_id: t.late_by for t in a.tasks}
    assert late == {"t-late": timedelta(hours=3), "t-ok": None, "t-open": None}
    assert [x.subject_id for x in a.alerts] == ["T-1"]
    assert [x.subject_id for x in got.unlinked_alerts] == ["T-9"]
    assert got.target_days == 30
    assert got.diff is not None and got.diff.latency_shown
    verdicts = {(d.incident_id, d.tier): (d.verdict, d.shift) for d in got.diff.rows}
    assert verdicts[("A", "II")] == ("earlier", timedelta(hours=-24))
    assert verdicts[("B", "IV")] == ("missing", None)
    assert verdicts[("A", "III")] == ("same", timedelta(0))


def test_html_is_self_contained_and_shows_every_part() -> None:
    html = render_report(report())
    assert "<script" not in html and "url(" not in html and "@import" not in html
    assert not re.search(r'\s(src|href)="(?!#)', html)  # links within the page only
    # The only URL is the SVG namespace, which is a name, not a fetch.
    assert set(re.findall(r"https?://[^\"'\s<]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "cholera &lt;Chengdu&gt;" in html  # escaped headline
    for name in ("I 特别重大", "II 重大", "III 较大", "IV 一般"):
        assert name in html
    assert "confirmed = 20" in html and "rule-II" in html
    assert "+3h00m00s late" in html  # acked at 05:00, due at 02:00
    assert "in time" in html
    assert "not acked, overdue since 2026-03-02 10:00:00" in html  # 02:00 UTC at +08:00
    assert "H-2 has no free icu bed" in html and "T-9" in html
    assert "target 30 d" in html
    assert "Diff against live" in html and "-24h00m00s" in html
    assert "live decision latency" in html and "+0h30m00s" in html


def test_incidents_are_titled_by_disease_and_city_in_both_languages() -> None:
    html = render_report(report())
    assert '<h2 id="A">霍乱 cholera · 成都市 Chengdu</h2>' in html
    assert "<h2>A</h2>" not in html and "<h2>cholera &lt;Chengdu&gt;</h2>" not in html


def test_the_summary_comes_first_with_the_figures_a_chief_asks_for() -> None:
    html = render_report(report())
    summary = html[html.index("<h2>Summary</h2>") :]
    assert html.index("<h2>Summary</h2>") < html.index("<h2 id=")  # before any incident
    summary = summary[: summary.index("<h2 id=")]
    # Range: first and last event time of the review's record, at +08:00.
    assert "2026-03-02 08:00:00 – 2026-03-04 20:00:00" in summary  # at(0) … at(60)
    assert "2, 1 reached a tier" in summary  # B: only the live run gave it a tier
    assert "II 重大</span> — 霍乱 cholera · 成都市 Chengdu" in summary
    assert "3 issued · 1 acked late · " in summary and "1 overdue, never acked" in summary
    # Live latency: every live decision 30 min after its event time.
    assert "median +0h30m00s, worst +0h30m00s over 4 decisions" in summary
    assert "2 of 4 tier changes differ, 2 the same" in summary  # A II earlier, B IV missing


def test_the_diff_lists_only_differences_and_counts_the_same() -> None:
    html = render_report(report())
    diff = html[html.index("Diff against live") :]
    assert "4 tier changes: 2 differ, 2 the same" in diff
    assert ">same<" not in diff and ">earlier<" in diff and ">missing<" in diff


def test_latency_of_back_dated_events_is_not_shown() -> None:
    """The demo publishes March's scenarios in December: each live decision comes months
    after its event time, which measures the publication, not the decision."""
    months = timedelta(hours=6622)
    back_dated = record(
        [
            {**row, "decided_at": row["effective_at"] + months + timedelta(minutes=n)}
            for n, row in enumerate(LIVE.timeline)
        ]
    )
    html = render_report(report(("live", back_dated)))
    assert "+6622h" not in html and "6622" not in html.replace("6,622", "")
    assert "published after the fact" in html
    diff = html[html.index("Diff against live") :]
    assert "<th>live decision latency</th>" not in diff


def _svgs(html: str, cls: str) -> list[ET.Element]:
    found = re.findall(rf'<svg [^>]*class="{cls}".*?</svg>', html, flags=re.S)
    return [ET.fromstring(s) for s in found]


def test_timeline_bars_follow_the_changes_in_tier_colours() -> None:
    timelines = _svgs(render_report(report()), "timeline")
    assert len(timelines) == 2  # A, and B which only the reference has
    bars = [r for r in timelines[0].iter(f"{SVG}rect") if r.find(f"{SVG}title") is not None]
    # IV blue, III yellow, II orange, in time order, left to right, each up one lane.
    assert [r.get("fill") for r in bars] == ["#2c7bb6", "#f2c12e", "#f28e2b"]
    xs = [float(r.get("x", "nan")) for r in bars]
    ys = [float(r.get("y", "nan")) for r in bars]
    assert xs == sorted(xs) and ys == sorted(ys, reverse=True)
    # Bar widths are proportional to how long each tier held: 24 h, 36 h, then to the end.
    widths = [float(r.get("width", "nan")) for r in bars]
    assert abs(widths[1] / widths[0] - 36 / 24) < 0.02
    assert timelines[0].find(f"{SVG}polyline") is not None  # the reference, dashed


def test_cover_curve_and_no_diff() -> None:
    html = render_report(report(reference=None))
    assert "Diff against" not in html
    (cover,) = _svgs(html, "cover")
    line = next(p for p in cover.iter(f"{SVG}polyline"))
    ys = [float(p.split(",")[1]) for p in (line.get("points") or "").split()]
    assert ys == sorted(ys)  # 50, 31, 12 days: falling, so y grows downward
    target = next(x for x in cover.iter(f"{SVG}line") if x.get("stroke") == "#d7191c")
    assert ys[1] < float(target.get("y1", "nan")) < ys[2]  # 31 above the 30 line, 12 below
    assert "at full load (every bed occupied): 2.5 days" in html


def declared(incident: str, hours: float, tier: str | None, previous: str | None) -> dict[str, Any]:
    return {
        **change(incident, hours, tier, previous),
        "rule_ids": [],
        "evidence": {},
        "basis": "declared",
        "declared_by": "EM-5101",
        "reason": f"joint assessment: {tier}",
    }


def test_declarations_are_listed_with_their_decision_lags() -> None:
    # recommended A: IV at 0 h, III at 24 h, II at 60 h (REVIEW); declared IV at 3 h
    # (lag 3 h), II at 62.5 h (lag 2 h 30: from the II recommendation at 60 h) and I at
    # 70 h, a tier the rules never recommended (no lag)
    timeline = [
        *REVIEW.timeline,
        declared("A", 3, "IV", None),
        declared("A", 62.5, "II", "IV"),
        declared("A", 70, "I", "II"),
    ]
    got = assemble_report(
        "r",
        "review_r",
        record(timeline, incidents=REVIEW.incidents),
        rulebook=default_rulebook(),
        tz=CST,
    )
    (a,) = got.incidents
    assert [c.tier for c in a.changes] == ["IV", "III", "II"]  # the recommendations only
    assert [(d.tier, d.lag) for d in a.declarations] == [
        ("IV", timedelta(hours=3)),
        ("II", timedelta(hours=2, minutes=30)),
        ("I", None),
    ]
    lags = got.summary.decision
    # lags 2h30 and 3h: the upper median is 3 h, the worst 3 h
    assert (lags.median, lags.worst, lags.declarations, lags.without_recommendation) == (
        timedelta(hours=3),
        timedelta(hours=3),
        3,
        1,
    )
    html = render_report(got)
    assert "Declarations and decision lags" in html
    assert "+2h30m00s" in html and "not recommended before" in html
    assert "median +3h00m00s, worst +3h00m00s over 3 declarations, 1 ahead of the rules" in html
