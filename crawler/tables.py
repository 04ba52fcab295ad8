"""Data tables in an article's body, kept as rows and cells.

The body text already renders a table one line per row, cells joined with `` | `` (as
trafilatura does); this keeps the structure too, so an export or the web view can show the
table itself. A table counts when it has at least two rows of at least two cells and most of
its rows are lines of the extracted body (a layout table, or one in a side column, is not).
"""

from __future__ import annotations

import lxml.html

MIN_ROWS = 2
MIN_CELLS = 2


def _cells(row: lxml.html.HtmlElement) -> list[str]:
    return [" ".join(cell.text_content().split()) for cell in row if isinstance(cell.tag, str) and cell.tag in ("td", "th")]


def read(tree: lxml.html.HtmlElement, body_lines: list[str]) -> list[list[list[str]]]:
    """The body's data tables: each a list of rows, each a list of cell texts."""
    lines = set(body_lines)
    found = []
    for table in tree.iter("table"):
        if table.xpath("ancestor::table"):  # a nested table is read as part of its row's cell
            continue
        rows = [cells for row in table.xpath("./tr | ./thead/tr | ./tbody/tr | ./tfoot/tr")
                if any(cells := _cells(row))]
        if len(rows) < MIN_ROWS or max(len(r) for r in rows) < MIN_CELLS:
            continue
        shown = sum(1 for r in rows if " | ".join(c for c in r if c) in lines)
        if shown * 2 > len(rows):
            found.append(rows)
    return found


def as_text(table: list[list[str]]) -> list[str]:
    """The table as body lines: one per row, cells joined with `` | ``."""
    return [" | ".join(c for c in row if c) for row in table]
