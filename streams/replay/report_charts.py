"""Hand-written inline SVG for the after-action report: a tier timeline per incident and a
days-of-cover curve per site and item. Pure functions of plain data; no I/O, no scripts,
nothing fetched when the report is opened.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from html import escape

# The rulebook names its tier colours; these are the shades the report paints them with.
PALETTE = {"red": "#d7191c", "orange": "#f28e2b", "yellow": "#f2c12e", "blue": "#2c7bb6"}
NO_TIER = "#bdbdbd"


@dataclass(frozen=True)
class TierLane:
    """One horizontal lane of the timeline chart: a tier, its label and its colour."""

    tier: str
    label: str  # e.g. "II 重大"
    color: str  # rulebook colour name or CSS colour


@dataclass(frozen=True)
class Step:
    """The incident holds ``tier`` (None: no tier) from ``at`` until the next step."""

    at: datetime
    tier: str | None


@dataclass(frozen=True)
class Frame:
    """Plot area of a chart: pixel box and the time range shown."""

    left: float
    top: float
    width: float
    height: float
    start: datetime
    end: datetime

    def x(self, at: datetime) -> float:
        span = (self.end - self.start).total_seconds() or 1.0
        share = (at - self.start).total_seconds() / span
        return self.left + self.width * min(1.0, max(0.0, share))


def paint(color: str) -> str:
    return PALETTE.get(color, color)


def time_range(instants: Sequence[datetime]) -> tuple[datetime, datetime]:
    """A range around ``instants`` with 4 % room at the end (1 h when they are one instant)."""
    start, end = min(instants), max(instants)
    if end <= start:
        return start, start + timedelta(hours=1)
    return start, end + (end - start) * 0.04


def _time_axis(frame: Frame, tz: tzinfo, ticks: int = 6) -> list[str]:
    parts = []
    bottom = frame.top + frame.height
    span = frame.end - frame.start
    for i in range(ticks + 1):
        at = frame.start + span * (i / ticks)
        x = frame.x(at)
        parts.append(
            f'<line x1="{x:.1f}" y1="{frame.top:.1f}" x2="{x:.1f}" y2="{bottom:.1f}" '
            'stroke="#e0e0e0"/>'
            f'<text x="{x:.1f}" y="{bottom + 14:.1f}" font-size="10" text-anchor="middle" '
            f'fill="#444">{at.astimezone(tz):%m-%d %H:%M}</text>'
        )
    return parts


def _spans(steps: Sequence[Step]) -> list[tuple[Step, Step | None]]:
    """Each step with the one that ends it (None: it lasts to the end of the chart)."""
    ordered = sorted(steps, key=lambda s: s.at)
    return list(zip(ordered, [*ordered[1:], None], strict=False))


def tier_timeline_svg(
    steps: Sequence[Step],
    lanes: Sequence[TierLane],
    start: datetime,
    end: datetime,
    *,
    tz: tzinfo,
    reference: Sequence[Step] | None = None,
    title: str = "tier timeline",
) -> str:
    """The tier held over ``[start, end]`` as coloured bars, one lane per tier (highest on
    top, "no tier" at the bottom); ``reference`` steps (another run) as a dashed line."""
    width, lane_h, left, top = 900, 26, 96, 22
    rows = [*(lane.tier for lane in lanes), None]
    frame = Frame(left, top, width - left - 44, lane_h * len(rows), start, end)
    height = top + frame.height + 44
    lane_y = {tier: top + i * lane_h for i, tier in enumerate(rows)}
    colour = {lane.tier: paint(lane.color) for lane in lanes}
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{width}" '
        f'height="{height:.0f}" viewBox="0 0 {width} {height:.0f}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height:.0f}" fill="#ffffff"/>',
    ]
    for lane in (*lanes, TierLane("", "no tier", NO_TIER)):
        y = lane_y[lane.tier or None]
        parts.append(
            f'<text x="{left - 8}" y="{y + lane_h * 0.65:.1f}" font-size="12" '
            f'text-anchor="end" fill="#222">{escape(lane.label)}</text>'
        )
    parts.extend(_time_axis(frame, tz))
    for step, after in _spans(steps):
        x0, x1 = frame.x(step.at), frame.x(after.at if after else end)
        y = lane_y.get(step.tier, lane_y[None])
        fill = colour.get(step.tier or "", NO_TIER)
        parts.append(
            f'<rect x="{x0:.1f}" y="{y + 4:.1f}" width="{max(x1 - x0, 2.0):.1f}" '
            f'height="{lane_h - 8}" fill="{fill}" rx="2"><title>'
            f"{escape(step.tier or 'no tier')} from {step.at.astimezone(tz):%Y-%m-%d %H:%M}"
            "</title></rect>"
        )
        if after is not None:
            y_next = lane_y.get(after.tier, lane_y[None])
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y + lane_h / 2:.1f}" x2="{x1:.1f}" '
                f'y2="{y_next + lane_h / 2:.1f}" stroke="#555" stroke-width="1"/>'
            )
    if reference:
        parts.append(_reference_path(reference, frame, lane_y, lane_h, end))
    parts.append("</svg>")
    return "".join(parts)


def _reference_path(
    steps: Sequence[Step],
    frame: Frame,
    lane_y: Mapping[str | None, float],
    lane_h: float,
    end: datetime,
) -> str:
    points: list[str] = []
    for step, after in _spans(steps):
        y = lane_y.get(step.tier, lane_y[None]) + lane_h / 2
        points.append(f"{frame.x(step.at):.1f},{y:.1f}")
        points.append(f"{frame.x(after.at if after else end):.1f},{y:.1f}")
    return (
        f'<polyline points="{" ".join(points)}" fill="none" stroke="#111" '
        'stroke-width="2" stroke-dasharray="6 4"><title>reference run</title></polyline>'
    )


def cover_curve_svg(
    points: Sequence[tuple[datetime, float]],
    target_days: float,
    tz: tzinfo,
    title: str,
) -> str:
    """Days of cover over time against the target (dashed), the band below it tinted; the
    y axis stops at four times the target so one idle item does not flatten the rest."""
    width, height, left, top, bottom = 440, 170, 44, 18, 28
    start, end = time_range([at for at, _ in points])
    frame = Frame(left, top, width - left - 36, height - top - bottom, start, end)
    y_max = max(target_days * 1.5, min(max(v for _, v in points), target_days * 4))

    def y(value: float) -> float:
        return top + frame.height * (1 - min(value, y_max) / y_max)

    line = " ".join(f"{frame.x(at):.1f},{y(v):.1f}" for at, v in sorted(points))
    target_y = y(target_days)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="cover" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img">',
        f"<title>{escape(title)}</title>",
        f'<rect x="0" y="0" width="{width}" height="{height}" fill="#ffffff"/>',
        f'<rect x="{left}" y="{target_y:.1f}" width="{frame.width:.1f}" '
        f'height="{top + frame.height - target_y:.1f}" fill="#fdecea"/>',
        *_time_axis(frame, tz, ticks=3),
        f'<line x1="{left}" y1="{target_y:.1f}" x2="{left + frame.width:.1f}" '
        f'y2="{target_y:.1f}" stroke="#d7191c" stroke-dasharray="5 3"/>',
        f'<text x="{left + frame.width:.1f}" y="{target_y - 3:.1f}" font-size="10" '
        f'text-anchor="end" fill="#d7191c">target {target_days:g} d</text>',
        f'<text x="{left - 4}" y="{top + 4}" font-size="10" text-anchor="end" '
        f'fill="#444">{y_max:.0f} d</text>',
        f'<text x="{left - 4}" y="{top + frame.height:.1f}" font-size="10" '
        'text-anchor="end" fill="#444">0</text>',
        f'<polyline points="{line}" fill="none" stroke="#2c7bb6" stroke-width="2"/>',
        "</svg>",
    ]
    return "".join(parts)
