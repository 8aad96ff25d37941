"""The province's view (province accounts): every commune against every target for a month or a
quarter, the totals per kind of channel and language, every commune's warnings; CSV and XLSX."""

from __future__ import annotations

import io

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from scheduler.app import App
from scheduler.clock import LOCAL_TZ
from scheduler.plans import province as provinces
from scheduler.plans.compliance import STATUS_TEXT, Status, plan_years
from scheduler.plans.periods import offered, parse_period, span_of
from scheduler.record.db import read_session
from scheduler.record.scope import below
from scheduler.text import csv_text, spreadsheet_cell
from scheduler.web.deps import STAFF, CoreDep, ProvinceDep, Staff, page

router = APIRouter(dependencies=STAFF)


def _options(core: App, who: Staff) -> list[tuple[str, str]]:
    """The quarters, halves, years and months of the last two years any commune has a plan for (this year's up to
    today): the seeds roll the communes up every quarter, 6 months and year."""
    today = core.now().astimezone(LOCAL_TZ).date()
    years = plan_years(core.config, below(core.config, who.scope.home), today.year)[:2]
    kinds = (("quarter", 4), ("half", 2), ("year", 1), ("month", 6))
    return offered(years, today, kinds, kinds)


def _view(core: App, who: Staff, period: str) -> provinces.ProvinceView:
    """``period``'s view; by default the first period offered (this quarter, or the last quarter of the
    latest year with plans, when this year has none yet)."""
    options = _options(core, who)
    if period:
        span = parse_period(period, "Kỳ")
    elif options:
        span = parse_period(options[0][0], "Kỳ")
    else:
        span = span_of("quarter", core.now().astimezone(LOCAL_TZ).date())
    with read_session(core.ready_engine()) as session:
        return provinces.gather(session, core.config, province=who.scope.home, span=span, now=core.now())


@router.get("/province", response_class=HTMLResponse, include_in_schema=False)
def province_page(request: Request, core: CoreDep, who: ProvinceDep, period: str = "", order: str = "worst"
                  ) -> HTMLResponse:
    view = _view(core, who, period)
    order = "name" if order == "name" else "worst"
    return page(request, "province.html", who, view=view, communes=view.sorted(order), order=order,
                period=view.span.label, options=_options(core, who), status_text=STATUS_TEXT)


@router.get("/province/export", include_in_schema=False)
def province_export(core: CoreDep, who: ProvinceDep, period: str = "", fmt: str = "xlsx") -> Response:
    if fmt not in ("csv", "xlsx"):
        raise HTTPException(400, "Hãy chọn định dạng CSV hoặc XLSX (Excel).")
    view = _view(core, who, period)
    name = f"tong-hop-cac-xa-{view.province}-{view.span.label}.{fmt}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    if fmt == "csv":
        columns = [str(n) for n in range(len(provinces.ROW_HEADERS))]
        rows = [dict(zip(columns, row, strict=True)) for row in view.rows()]
        text = csv_text(rows, columns, dict(zip(columns, provinces.ROW_HEADERS, strict=True)))
        return Response("\ufeff" + text, media_type="text/csv; charset=utf-8", headers=headers)
    return Response(xlsx(view), headers=headers,
                    media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def xlsx(view: provinces.ProvinceView) -> bytes:
    """The commune x target table, a sheet of the details and one of the totals."""
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    fills = {Status.MET: "C8E6C9", Status.ON_TRACK: "FFF9C4",
             Status.AT_RISK: "FFCCBC", Status.MISSED: "EF9A9A"}
    book = Workbook()
    grid = book.active
    grid.title = "Tổng hợp"
    grid.append([f"{view.province_name}: kết quả các xã, {view.span.title}"])
    grid["A1"].font = Font(bold=True)
    grid.append(["Đơn vị", *view.targets.values()])
    for commune in view.sorted("worst"):
        grid.append([commune.name, *[commune.cells[key].text if key in commune.cells else (commune.problem or "")
                                     for key in view.targets]])
        for column, key in enumerate(view.targets, start=2):
            if key in commune.cells:
                colour = fills.get(commune.cells[key].status)
                if colour:
                    grid.cell(grid.max_row, column).fill = PatternFill("solid", fgColor=colour)
    details = book.create_sheet("Chi tiết")
    details.append(provinces.ROW_HEADERS)
    for row in view.rows():
        details.append([spreadsheet_cell(value) for value in row])
    totals = book.create_sheet("Theo kênh")
    totals.append(["Loại kênh", "Ngôn ngữ", "Đã phát/đăng", "Không thành công"])
    for row in view.by_channel:
        totals.append([row["kind"], row["lang"], row["delivered"], row["failed"]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
