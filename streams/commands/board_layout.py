"""The board's building blocks: one snapshot and how to show it (:class:`View`), and a
titled table of rows (:class:`Section`) that fits a width or pages."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from rich import box
from rich.cells import cell_len
from rich.table import Table
from rich.text import Text

from sinks.display import LocalTime
from streams.commands.board_cells import Row

if TYPE_CHECKING:
    from sinks.command_view import Board


@dataclass(frozen=True)
class View:
    """One snapshot and how to show it."""

    board: Board
    database: str
    clock: LocalTime
    read_at: datetime
    ids: bool = False  # show incident and task ids
    program: str = "tierflow"  # how the footer's commands start (term.program())
    health: Text | None = None  # the worker's health line, under the title


@dataclass(frozen=True)
class Column:
    name: str
    width: int | None = None  # fixed: never cut (tiers, times, ids)
    ratio: int | None = None  # shares what the fixed columns leave
    justify: str = "left"


@dataclass(frozen=True)
class Section:
    """A titled table: its columns and rows; ``empty`` says what none means."""

    title: str
    columns: Sequence[Column]
    rows: Sequence[Row]
    empty: str = "none"
    note: str = ""  # under the table (its last page)

    def table(
        self,
        rows: Sequence[Row],
        width: int,
        *,
        one_line: bool,
        continued: bool = False,
        last: bool = True,
    ) -> Table:
        """The table of ``rows`` in ``width`` columns: as wide as its content when that
        fits, else the full width with the flexible columns sharing what is left."""
        title = f"{self.title} (continued)" if continued else self.title
        table = Table(
            title=Text(title, style="bold"),
            title_justify="left",
            caption=Text(self.note, style="dim") if self.note and last else None,
            caption_justify="left",
            box=box.SIMPLE_HEAD,
            expand=self.natural_width(rows) > width,
            pad_edge=False,
            show_edge=False,
        )
        for column in self.columns:
            table.add_column(
                column.name,
                width=column.width,
                min_width=column.width,
                ratio=column.ratio,
                no_wrap=one_line or column.width is not None,
                overflow="ellipsis" if one_line else "fold",
                justify=column.justify,  # type: ignore[arg-type]
            )
        for row in rows:
            table.add_row(*row)
        return table

    def natural_width(self, rows: Sequence[Row]) -> int:
        """Columns wide enough for every cell, two spaces between them."""
        widths = [
            column.width or max(cell_len(column.name), *(cell_len(str(r[i])) for r in rows))
            for i, column in enumerate(self.columns)
        ]
        return sum(widths) + 2 * (len(widths) - 1)

    def nothing(self) -> Text:
        note = f" ({self.note})" if self.note else ""
        return Text.assemble((self.title, "bold"), ": ", (self.empty + note, "dim"))
