"""What ``tierflow board`` shows, as rich renderables: pure functions of one snapshot.

The board is a header (database, read time, display zone, counts), sections (active
incidents, stood down, overdue tasks, beds, transfers, redirects, stock) and a footer
(the DLQ, next steps). Incidents are named by disease or category and city; ids appear
with ``--ids``. Every time is local, in the display zone the header names.

``one_line`` renders every row on one line (cells cut with an ellipsis): what
``--watch`` needs to page the board into a fixed-size screen (``board_pages``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from sinks.display import unique_names
from streams.commands.board_cells import (
    TIER_NAME,
    Cell,
    Row,
    declared_cell,
    tier_badge,
    timeline_text,
)
from streams.commands.board_layout import Column, Section, View
from streams.commands.board_resources import (
    beds_section,
    forecast_section,
    logistics_sections,
    staff_section,
)


def _incident_section(view: View, title: str, rows: list[dict[str, Any]], active: bool) -> Section:
    names = unique_names(rows)
    # The declared tier took the place of a "since" column: the recommended timeline ends
    # with the time of the current recommendation (an incident without one: since when).
    columns = [
        Column("rules say", width=10),
        Column("declared", width=10),
        Column("incident", ratio=1),
        Column("recommended timeline", ratio=1),
    ]
    if view.ids:
        columns.append(Column("incident id", width=36))
    out: list[Row] = []
    for row in rows:
        changes = view.board.timeline.get(row["incident_id"], [])
        badge = tier_badge(row["tier"], warning=row["warning"] and active, stood_down=not active)
        cells: list[Cell] = [
            badge,
            declared_cell(row),
            names[row["incident_id"]],
            timeline_text(changes, view.clock)
            if changes
            else f"since {view.clock.short(row['updated_at'])}",
        ]
        if view.ids:
            cells.append(row["incident_id"])
        out.append(tuple(cells))
    return Section(title, columns, out)


def _overdue_section(view: View) -> Section:
    board = view.board
    known = board.incidents + board.stood_down
    names = unique_names(known)
    elsewhere = (
        f"{board.overdue_elsewhere} more of stood-down incidents or superseded tiers: "
        "see the review report"
        if board.overdue_elsewhere
        else ""
    )
    columns = [Column("task", ratio=1), Column("agency", width=15), Column("due", width=11)]
    if view.ids:
        columns.append(Column("task id (ack this)", width=36))
    rows: list[Row] = []
    current = None
    for task in board.overdue_tasks:
        if task["incident_id"] != current:
            current = task["incident_id"]
            name = names.get(current) or current
            count = sum(1 for t in board.overdue_tasks if t["incident_id"] == current)
            header = Text.assemble(tier_badge(task["tier"]), " ", (name, "bold"), f" — {count}")
            rows.append((header, "", "", *([""] if view.ids else [])))
        cells: list[Cell] = [
            f"  {task['action']}",
            task["agency_type"],
            Text(view.clock.short(task["due_at"]), style="red"),
        ]
        if view.ids:
            cells.append(task["task_id"])
        rows.append(tuple(cells))
    title = f"Overdue tasks of live tiers ({len(board.overdue_tasks)})"
    return Section(title, columns, rows, note=elsewhere)


def sections(view: View) -> list[Section]:
    """The board's sections in the order the room reads them."""
    board = view.board
    return [
        _incident_section(view, "Active incidents by tier", board.incidents, True),
        _incident_section(view, "Stood down (latest 10)", board.stood_down, False),
        _overdue_section(view),
        beds_section(view),
        staff_section(view),
        forecast_section(view),
        *logistics_sections(view),
    ]


def header(view: View) -> list[Text]:
    """Title (database, read time, zone), the worker's health, and the counts."""
    board = view.board
    title = Text.assemble(
        ("tierflow board", "bold"),
        f" · {view.database} · read {view.clock.local(view.read_at):%m-%d %H:%M:%S} · "
        f"{view.clock.label(view.read_at)}",
    )
    tiers = [row["tier"] for row in board.incidents if row["tier"]]
    by_tier = ", ".join(f"{t} {tiers.count(t)}" for t in TIER_NAME if t in tiers)
    counts = Text.assemble(
        (f"{len(board.incidents)} active", "bold"),
        f" ({by_tier})" if by_tier else "",
        " · ",
        (f"{len(board.overdue_tasks)} overdue tasks", "bold red" if board.overdue_tasks else ""),
        f" · {len(board.transfers)} transfers in flight · ",
        (f"DLQ {board.dlq_count}", "bold yellow" if board.dlq_count else ""),
    )
    return [title, *([view.health] if view.health else []), counts]


def next_steps(view: View) -> RenderableType:
    """What the room can do from here, as commands that run as printed (long ones broken
    with a shell continuation, so a copy of the lines still runs)."""
    run = view.program
    start, end = _review_range(view)
    steps = Table.grid(padding=(0, 2))
    steps.add_column(no_wrap=True)
    steps.add_column()
    steps.add_row(
        "ack a task",
        Text.assemble(
            "put its id in an Ack (examples/incident-ack.json), then\n",
            (f"{run} publish ack.jsonl", "bold"),
            "\ntask ids: ",
            (f"{run} board --ids", "bold"),
        ),
    )
    steps.add_row(
        "review",
        Text.assemble(
            (f"{run} replay --name NAME \\\n  --from {start} --to {end}", "bold"),
            "\nthen ",
            (f"{run} review report NAME --out aar.html", "bold"),
        ),
    )
    dlq = view.board.dlq_count
    steps.add_row(
        "rejected",
        Text.assemble(
            (f"{run} dlq list", "bold"),
            "   ",
            (f"{dlq} records in the DLQ", "bold yellow" if dlq else "dim"),
        ),
    )
    return Group(Text("Next steps", style="bold"), steps)


def _review_range(view: View) -> tuple[str, str]:
    """Whole local days around every tier change on the board (RFC 3339, local offset):
    the ``--from``/``--to`` of a review of what the board shows."""
    instants = [c["effective_at"] for cs in view.board.timeline.values() for c in cs]
    if not instants:
        instants = [view.read_at]
    first = view.clock.local(min(instants)).replace(hour=0, minute=0, second=0, microsecond=0)
    last = view.clock.local(max(instants)).replace(hour=0, minute=0, second=0, microsecond=0)
    return first.isoformat(), (last + timedelta(days=1)).isoformat()


def render(view: View, width: int) -> Group:
    """The whole board (``tierflow board``): rows wrap, nothing is left out."""
    parts: list[RenderableType] = list(header(view))
    for section in sections(view):
        table = section.table(section.rows, width, one_line=False) if section.rows else None
        parts += [Text(), table or section.nothing()]
    parts += [Text(), next_steps(view)]
    return Group(*parts)


Measure = Callable[[RenderableType, int], int]  # height in lines at a width
WIDE = 160  # from this width on, the board is two panels side by side


def board_pages(view: View, width: int, height: int, measure: Measure) -> list[RenderableType]:
    """The board cut into pages of at most ``height`` lines (rows on one line each; a
    section split over pages repeats its title and header). From ``WIDE`` columns on,
    each page is two panels: incidents and tasks on the left, beds, logistics, stock and
    next steps on the right."""
    parts: list[Section | RenderableType] = [*sections(view), Group(Text(), next_steps(view))]
    if width < WIDE:
        return [Group(*page) for page in _pack(parts, width, height, measure)]
    half = (width - 2) // 2
    left, right = _pack(parts[:3], half, height, measure), _pack(parts[3:], half, height, measure)
    pages: list[RenderableType] = []
    for i in range(max(len(left), len(right))):
        grid = Table.grid(padding=(0, 2))
        grid.add_column(width=half)
        grid.add_column(width=half)
        grid.add_row(
            Group(*(left[i] if i < len(left) else [])), Group(*(right[i] if i < len(right) else []))
        )
        pages.append(grid)
    return pages


def _pack(
    parts: Sequence[Section | RenderableType], width: int, height: int, measure: Measure
) -> list[list[RenderableType]]:
    pages: list[list[RenderableType]] = [[]]
    room = height

    def place(renderable: RenderableType, lines: int) -> None:
        nonlocal room
        if lines > room and pages[-1]:
            pages.append([])
            room = height
        pages[-1].append(renderable)
        room -= lines

    for part in parts:
        if not isinstance(part, Section):
            place(part, measure(part, width))
        elif not part.rows:
            place(part.nothing(), measure(part.nothing(), width))
        else:
            frame = measure(part.table(part.rows[:1], width, one_line=True), width) - 1
            rows, continued = list(part.rows), False
            while rows:
                if room < frame + 1 and pages[-1]:
                    pages.append([])
                    room = height
                take = max(1, min(len(rows), room - frame))
                chunk = part.table(
                    rows[:take], width, one_line=True, continued=continued, last=take == len(rows)
                )
                place(chunk, measure(chunk, width))
                rows, continued = rows[take:], True
    return pages
