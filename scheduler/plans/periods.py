"""Calendar periods of a plan, in Vietnam time: week, month, quarter, half-year, year.

A period is written the way offices write it in file names: ``2025-W36`` (ISO week), ``2025-09``,
``2025-Q3``, ``2025-H1``, ``2025``. A week belongs to the month, quarter or year that holds its
Thursday (the ISO 8601 rule), so every week is counted in exactly one of them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from scheduler.clock import LOCAL_TZ, check_year, local_midnight
from scheduler.errors import InputError

# A target's period is one of week..year; "day" and "range" are only spans to look from.
KINDS = ("day", "week", "month", "quarter", "half", "year")
ROMAN = {1: "I", 2: "II", 3: "III", 4: "IV"}
_FORMS = re.compile(r"^(\d{4})(?:-(?:W(\d{1,2})|(\d{1,2})|Q([1-4])|H([12])))?$", re.IGNORECASE)


@dataclass(frozen=True, order=True)
class Span:
    """One calendar period: days ``[start, end)`` in Vietnam time."""

    start: date
    end: date
    kind: str
    label: str

    @property
    def start_at(self) -> datetime:
        return local_midnight(self.start)

    @property
    def end_at(self) -> datetime:
        return local_midnight(self.end)

    def elapsed(self, now: datetime) -> float:
        """How much of the period has passed at ``now``: 0 before it starts, 1 once it is over."""
        total = (self.end_at - self.start_at).total_seconds()
        return min(1.0, max(0.0, (now - self.start_at).total_seconds() / total))

    @property
    def title(self) -> str:
        """The period as a Vietnamese report says it: "quý III năm 2025", "tháng 9/2025"."""
        year = self.start.year if self.kind != "week" else self.start.isocalendar().year
        if self.kind == "week":
            last = self.end - timedelta(days=1)
            return f"tuần {self.start.isocalendar().week}/{year} ({self.start:%d/%m}–{last:%d/%m})"
        if self.kind in ("range", "day"):
            last = self.end - timedelta(days=1)
            if last == self.start:
                return f"ngày {self.start:%d/%m/%Y}"
            return f"từ {self.start:%d/%m/%Y} đến {last:%d/%m/%Y}"
        if self.kind == "month":
            return f"tháng {self.start.month}/{year}"
        if self.kind == "quarter":
            return f"quý {ROMAN[(self.start.month - 1) // 3 + 1]} năm {year}"
        if self.kind == "half":
            return f"6 tháng {'đầu' if self.start.month == 1 else 'cuối'} năm {year}"
        return f"năm {year}"


def parse_period(text: str, field: str = "--period") -> Span:
    """``2025-09`` | ``2025-W36`` | ``2025-Q3`` | ``2025-H1`` | ``2025`` → the period."""
    raw = (text or "").strip()
    match = _FORMS.match(raw)
    if not match:
        raise InputError(field, f"'{raw}' không phải một kỳ; hãy viết 2025-09 (tháng), 2025-W36 (tuần), "
                                "2025-Q3 (quý), 2025-H1 (6 tháng) hoặc 2025 (năm)")
    year, week, month, quarter, half = match.groups()
    y = int(year)
    check_year(y, field)
    if week is not None:
        if not 1 <= int(week) <= date(y, 12, 28).isocalendar().week:
            raise InputError(field, f"năm {y} không có tuần {int(week)}")
        return span_of("week", date.fromisocalendar(y, int(week), 1))
    if month is not None:
        if not 1 <= int(month) <= 12:
            raise InputError(field, f"tháng {int(month)} không tồn tại; tháng từ 01 đến 12")
        return span_of("month", date(y, int(month), 1))
    if quarter is not None:
        return span_of("quarter", date(y, 3 * int(quarter) - 2, 1))
    if half is not None:
        return span_of("half", date(y, 1 if half == "1" else 7, 1))
    return span_of("year", date(y, 1, 1))


def span_of(kind: str, day: date) -> Span:
    """The period of ``kind`` that holds ``day``."""
    if kind == "week":
        start = day - timedelta(days=day.weekday())
        iso = start.isocalendar()
        return Span(start, start + timedelta(days=7), kind, f"{iso.year}-W{iso.week:02d}")
    if kind == "month":
        start = day.replace(day=1)
        return Span(start, _add_months(start, 1), kind, f"{day.year}-{day.month:02d}")
    if kind == "quarter":
        start = date(day.year, (day.month - 1) // 3 * 3 + 1, 1)
        return Span(start, _add_months(start, 3), kind, f"{day.year}-Q{(day.month - 1) // 3 + 1}")
    if kind == "half":
        start = date(day.year, 1 if day.month <= 6 else 7, 1)
        return Span(start, _add_months(start, 6), kind, f"{day.year}-H{1 if day.month <= 6 else 2}")
    if kind == "year":
        return Span(date(day.year, 1, 1), date(day.year + 1, 1, 1), kind, str(day.year))
    raise ValueError(f"unknown period kind {kind!r}")


def spans_in(kind: str, outer: Span) -> list[Span]:
    """The periods of ``kind`` that belong to ``outer``: weeks by their Thursday, others by their start.

    A kind longer than ``outer`` gives the one period that holds it (a yearly quota seen in September).
    Any date range (kind ``range``, the simulation) takes every period that overlaps it.
    """
    if outer.kind == "range":
        found, span = [], span_of(kind, outer.start)
        while span.start < outer.end:
            found.append(span)
            span = span_of(kind, span.end)
        return found
    if KINDS.index(kind) >= KINDS.index(outer.kind):
        return [span_of(kind, outer.start)]
    found = []
    span = span_of(kind, outer.start)
    while span.start < outer.end:
        anchor = span.start + timedelta(days=3) if kind == "week" else span.start
        if outer.start <= anchor < outer.end:
            found.append(span)
        span = span_of(kind, span.end)
    return found


def day_span(day: date) -> Span:
    """One day, as the place to look from: each target's period that holds it (see ``spans_in``)."""
    return Span(day, day + timedelta(days=1), "day", day.isoformat())


def span_at(kind: str, moment: datetime) -> Span:
    return span_of(kind, moment.astimezone(LOCAL_TZ).date())


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def offered(years: list[int], today: date, kinds: tuple[tuple[str, int], ...],
            past: tuple[tuple[str, int], ...]) -> list[tuple[str, str]]:
    """The periods a page offers, as (label, title), for each of ``years`` (most recent first): this year's
    by ``kinds`` (kind, how many) counted back from today; a past year's by ``past``, from its last day."""
    options = []
    for year in years:
        last = min(today, date(year, 12, 31))
        for kind, count in kinds if year == today.year else past:
            day = last
            for _ in range(count):
                span = span_of(kind, day)
                if span.start.year != year:
                    break
                options.append((span.label, span.title[:1].upper() + span.title[1:]))
                day = span.start - timedelta(days=1)
    return options
