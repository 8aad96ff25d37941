"""The calendar and the reports to download."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from scheduler import queries
from scheduler.clock import LOCAL_TZ, local_midnight, parse_local_date
from scheduler.plans.compliance import plan_years
from scheduler.plans.periods import offered, parse_period, span_of
from scheduler.record.db import read_session
from scheduler.web.deps import (
    CALENDAR_ITEMS,
    STAFF,
    CoreDep,
    StaffDep,
    UnitDep,
    page,
)

router = APIRouter(dependencies=STAFF)


@router.get("/calendar", response_class=HTMLResponse, include_in_schema=False)
def calendar(request: Request, core: CoreDep, who: StaffDep, view: str = "week", day: str = "") -> HTMLResponse:
    """Deliveries by day, a week or a month at a time (Monday first, Vietnam time)."""
    today = core.now().astimezone(LOCAL_TZ).date()
    shown = parse_local_date(day, "Ngày") if day else today
    view = "month" if view == "month" else "week"
    if view == "month":
        first = shown.replace(day=1)
        last = span_of("month", shown).end - timedelta(days=1)
        start = first - timedelta(days=first.weekday())
        end = last + timedelta(days=7 - last.weekday())
        before, after = first - timedelta(days=1), last + timedelta(days=1)
        heading = f"Tháng {shown.month}/{shown.year}"
    else:
        start = shown - timedelta(days=shown.weekday())
        end = start + timedelta(days=7)
        before, after = start - timedelta(days=7), end
        heading = f"Tuần {start:%d/%m} – {end - timedelta(days=1):%d/%m/%Y}"
    with read_session(core.ready_engine()) as session:
        by_day = queries.calendar(session, since=local_midnight(start), until=local_midnight(end), unit=who.unit)
    days = [start + timedelta(days=n) for n in range((end - start).days)]
    return page(request, "calendar.html", who, view=view, heading=heading, days=days, by_day=by_day,
                today=today, month=shown.month if view == "month" else None, before=before.isoformat(),
                after=after.isoformat(), per_day=CALENDAR_ITEMS if view == "month" else None)


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def reports_page(request: Request, core: CoreDep, who: StaffDep) -> HTMLResponse:
    today = core.now().astimezone(LOCAL_TZ).date()
    years = plan_years(core.config, [who.unit], today.year)[:2]  # a past year: the yearly report first
    options = offered(years, today, (("quarter", 4), ("half", 2), ("year", 1), ("month", 3)),
                      (("year", 1), ("half", 2), ("quarter", 4), ("month", 12)))
    return page(request, "reports.html", who, options=options, unit=core.config.units[who.unit].name,
                plan_year=today.year in years)


@router.get("/reports/download", include_in_schema=False)
def report_download(core: CoreDep, unit: UnitDep, period: str, fmt: str = "docx") -> Response:
    """The report to the Department of Home Affairs for ``period``, as the CLI's ``cchc report`` writes it."""
    from scheduler.plans import report as reports

    if fmt not in ("docx", "xlsx"):
        raise HTTPException(400, "Hãy chọn định dạng DOCX (Word) hoặc XLSX (Excel).")
    span = parse_period(period)
    with read_session(core.ready_engine()) as session:
        data = reports.gather(session, core.config, unit=unit, span=span, now=core.now())
    name = f"bao-cao-cchc-{unit}-{span.label}.{fmt}"
    with tempfile.TemporaryDirectory() as tmp:
        content = reports.write(data, fmt, Path(tmp) / name).read_bytes()
    media = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[fmt]
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})
