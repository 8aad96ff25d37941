"""The delivery log (page and CSV) and settling what a platform cannot answer about."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from scheduler import labels, queries
from scheduler.app import App
from scheduler.clock import local_midnight, parse_local_date
from scheduler.db import read_session, write_session
from scheduler.errors import InputError
from scheduler.models import DeliveryState as S
from scheduler.text import csv_text
from scheduler.web.deps import (
    LANG_TEXT,
    PAGE_SIZE,
    STATE_TEXT,
    CoreDep,
    PageNo,
    RowId,
    back,
    form,
    page,
    staff,
)

router = APIRouter()


def log_filters(core: App, unit: str, channel: str, state: str, lang: str, since: str, until: str) -> dict[str, Any]:
    """The delivery log's filters, on ``unit``'s channels only."""
    own = sorted(core.config.channels_of(unit))
    if channel and channel not in own:
        raise InputError("Kênh", f"{core.config.units[unit].name} không có kênh '{channel[:60]}'")
    if state and state not in set(S):
        raise InputError("Trạng thái", "hãy chọn trạng thái trong danh sách")
    if lang and lang not in LANG_TEXT:
        raise InputError("Tiếng", "hãy chọn tiếng Việt, tiếng Thái hoặc tiếng Mông")
    return {"channel": channel or None, "channels": own, "status": state or None, "lang": lang or None,
            "since": local_midnight(parse_local_date(since, "Từ ngày")) if since else None,
            "until": local_midnight(parse_local_date(until, "Đến ngày") + timedelta(days=1)) if until else None}


@router.get("/deliveries", response_class=HTMLResponse, include_in_schema=False)
def delivery_log(request: Request, core: CoreDep, channel: str = "", state: str = "", lang: str = "", since: str = "",
                 until: str = "", page_no: PageNo = 1) -> HTMLResponse:
    who = staff(request)
    filters = log_filters(core, who.unit, channel, state, lang, since, until)
    page_no = max(1, page_no)
    with read_session(core.ready_engine()) as session:
        total = queries.log_count(session, **filters)
        rows = queries.log_rows(session, **filters, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE,
                                newest_first=True)
    query = {"channel": channel, "state": state, "lang": lang, "since": since, "until": until}
    return page(request, "deliveries.html", who, rows=rows, total=total, page_no=page_no,
                pages=max(1, -(-total // PAGE_SIZE)), query=query, query_text=urlencode(query),
                channels=filters["channels"])


@router.get("/deliveries.csv", include_in_schema=False)
def delivery_csv(request: Request, core: CoreDep, channel: str = "", state: str = "", lang: str = "", since: str = "",
                 until: str = "") -> Response:
    who = staff(request)
    with read_session(core.ready_engine()) as session:
        rows = queries.log_rows(session, **log_filters(core, who.unit, channel, state, lang, since, until))
    columns = ["time", "ref", "channel", "lang", "origin", "due", "action", "outcome", "http", "ms", "state",
               "remote_id", "url", "message"]
    return Response("\ufeff" + csv_text(labels.readable(rows, columns), columns, labels.COLUMN),
                    media_type="text/csv; charset=utf-8",  # BOM: Excel reads UTF-8
                    headers={"Content-Disposition": 'attachment; filename="nhat-ky-phat.csv"'})


@router.post("/deliveries/{delivery_id}/settle", include_in_schema=False)
async def settle(request: Request, core: CoreDep, delivery_id: RowId) -> Response:
    """A person looked on the platform and says whether the post is there (needs_person)."""
    from scheduler import deliveries

    who = staff(request)
    values = await form(request, who)
    if not who.approver:
        raise HTTPException(403, "Chỉ người có vai trò Thẩm định hoặc Quản trị mới xác nhận được lượt phát.")
    posted = str(values.get("posted") or "") == "1"
    url = str(values.get("url") or "").strip() or None
    with write_session(core.ready_engine()) as session:
        found = deliveries.find(session, str(delivery_id))
        state = deliveries.settle(session, delivery=found, posted=posted, url=url if posted else None,
                                  actor=who.user.name, now=core.now())
        ref = found.ref_code
    return back("/", f"Đã xác nhận lượt {ref}: {STATE_TEXT[S(state)].lower()}.")
