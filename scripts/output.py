"""Printing for the command line: aligned tables (Vietnamese-aware widths), CSV and JSON."""

from __future__ import annotations

import json
import unicodedata
from typing import Any

import click

from scheduler.text import csv_text


def width(text: str) -> int:
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def cell(value: Any, limit: int = 60) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = ",".join(str(v) for v in value)
    text = " ".join(str(value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def table(rows: list[dict], columns: list[str], headers: dict[str, str] | None = None) -> str:
    """An aligned table: Vietnamese column titles (``labels.COLUMN``, or ``headers``) and coded values
    in words (``labels.readable``)."""
    from scheduler.labels import COLUMN, readable

    headers = {**COLUMN, **(headers or {})}
    shown = [[cell(row.get(col)) for col in columns] for row in readable(rows, columns)]
    titles = [headers.get(col, col) for col in columns]
    widths = [max([width(t)] + [width(r[i]) for r in shown]) for i, t in enumerate(titles)]

    def line(values: list[str]) -> str:
        return "  ".join(v + " " * (w - width(v)) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(titles), line(["-" * w for w in widths])]
    out += [line(r) for r in shown]
    return "\n".join(out)


def to_json(data: Any) -> str:
    return json.dumps(data, ensure_ascii=False, indent=2, default=str)


def emit(rows: list[dict], columns: list[str], *, fmt: str, empty: str) -> None:
    if fmt == "json":
        click.echo(to_json(rows))
    elif fmt == "csv":
        from scheduler.labels import COLUMN, readable

        click.echo(csv_text(readable(rows, columns), columns, COLUMN), nl=False)
    elif not rows:
        click.echo(empty)
    else:
        click.echo(table(rows, columns))
