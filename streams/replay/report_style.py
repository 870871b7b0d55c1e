"""The after-action report's HTML building blocks: its inline CSS (fonts with CJK glyphs
first), escaping, tables, and times and tiers formatted in the report's zone and colours."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape

from sinks.display import LocalTime
from streams.replay.report import ReviewReport
from streams.replay.report_charts import paint

# The tier names are Chinese: fonts with CJK glyphs first (Linux: fonts-noto-cjk; Windows:
# Microsoft YaHei; macOS: PingFang SC), then the platform's own. Nothing is fetched.
FONT_STACK = (
    '"Noto Sans CJK SC","Source Han Sans SC","Microsoft YaHei","PingFang SC",'
    '"WenQuanYi Micro Hei",system-ui,sans-serif'
)
CSS = (
    "body{font-family:"
    + FONT_STACK
    + ";margin:24px;color:#222;max-width:1100px}"
    + """
.summary th{width:170px}
h1{font-size:22px}h2{font-size:18px;border-bottom:2px solid #ddd;padding-bottom:4px;
margin-top:32px}h3{font-size:15px;margin-bottom:4px}
table{border-collapse:collapse;margin:6px 0 14px;font-size:12px}
th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3}.tier{display:inline-block;padding:0 6px;border-radius:3px;color:#fff}
.late{color:#b30000;font-weight:bold}.ok{color:#1a7f37}.muted{color:#777}
.legend span{margin-right:14px}.cover{margin:4px 8px 8px 0}.grid{display:flex;flex-wrap:wrap}
"""
)


def esc(value: object) -> str:
    return escape(str(value)) if value is not None else "-"


class Html:
    """Formatting helpers bound to the report's time zone and tier colours."""

    def __init__(self, report: ReviewReport) -> None:
        self.clock = LocalTime(report.tz)
        self.lanes = {lane.tier: lane for lane in report.lanes}

    def at(self, value: datetime | None) -> str:
        return self.clock.full(value)

    def zone_label(self, at: datetime | None) -> str:
        return self.clock.label(at or datetime(2026, 1, 1, tzinfo=UTC))

    def tier(self, tier: str | None) -> str:
        lane = self.lanes.get(tier or "")
        if lane is None:
            return '<span class="muted">stood down</span>' if tier is None else esc(tier)
        colour = paint(lane.color)
        text = "#222" if lane.color == "yellow" else "#fff"
        return (
            f'<span class="tier" style="background:{colour};color:{text}">{esc(lane.label)}</span>'
        )


def table(head: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """A table of already-escaped cells."""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    heads = "".join(f"<th>{escape(h)}</th>" for h in head)
    return f"<table><tr>{heads}</tr>{body}</table>"
