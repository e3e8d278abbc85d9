"""Tables a person reads: aligned plain-text (Markdown) tables on the terminal."""

from __future__ import annotations

from collections.abc import Sequence


def format_table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str = "") -> str:
    cells = [[str(value) for value in row] for row in rows]
    widths = [len(header) for header in headers]
    for row in cells:
        for index, value in enumerate(row):
            widths[index] = max(widths[index], len(value))

    def line(values: Sequence[str]) -> str:
        padded = []
        for index, value in enumerate(values):
            numeric = value.replace(",", "").replace(".", "").replace("-", "").isdigit()
            padded.append(value.rjust(widths[index]) if numeric else value.ljust(widths[index]))
        return "| " + " | ".join(padded) + " |"

    out = []
    if title:
        out.append(f"\n{title}\n")
    out.append(line(list(headers)))
    out.append("|" + "|".join("-" * (width + 2) for width in widths) + "|")
    out.extend(line(row) for row in cells)
    return "\n".join(out)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], title: str = "") -> None:
    print(format_table(headers, rows, title), flush=True)
