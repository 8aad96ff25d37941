"""The delivery log (page and CSV) and settling what a platform cannot answer about."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from scheduler import labels, queries
from scheduler.record.db import read_session, write_session
from scheduler.record.models import DeliveryState as S
from scheduler.text import csv_text
from scheduler.web.actions import log_filters
from scheduler.web.deps import (
    PAGE_SIZE,
    STAFF,
    STATE_TEXT,
    ApproverDep,
    CoreDep,
    FormDep,
    PageNo,
    RowId,
    StaffDep,
    UnitDep,
    back,
    page,
)

router = APIRouter(dependencies=STAFF)


@router.get("/deliveries", response_class=HTMLResponse, include_in_schema=False)
def delivery_log(request: Request, core: CoreDep, who: StaffDep, unit: UnitDep, channel: str = "", state: str = "",
                 lang: str = "", since: str = "", until: str = "", page_no: PageNo = 1) -> HTMLResponse:
    filters = log_filters(core, unit, channel, state, lang, since, until)
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
def delivery_csv(core: CoreDep, unit: UnitDep, channel: str = "", state: str = "", lang: str = "", since: str = "",
                 until: str = "") -> Response:
    with read_session(core.ready_engine()) as session:
        rows = queries.log_rows(session, **log_filters(core, unit, channel, state, lang, since, until))
    columns = ["time", "ref", "channel", "lang", "origin", "due", "action", "outcome", "http", "ms", "state",
               "remote_id", "url", "message"]
    return Response("\ufeff" + csv_text(labels.readable(rows, columns), columns, labels.COLUMN),
                    media_type="text/csv; charset=utf-8",  # BOM: Excel reads UTF-8
                    headers={"Content-Disposition": 'attachment; filename="nhat-ky-phat.csv"'})


@router.post("/deliveries/{delivery_id}/settle", include_in_schema=False)
async def settle(core: CoreDep, who: ApproverDep, values: FormDep, delivery_id: RowId) -> Response:
    """A person looked on the platform and says whether the post is there (needs_person): approvers only."""
    from scheduler.outbox import deliveries

    posted = str(values.get("posted") or "") == "1"
    url = str(values.get("url") or "").strip() or None
    with write_session(core.ready_engine()) as session:
        found = deliveries.find(session, str(delivery_id))
        state = deliveries.settle(session, delivery=found, posted=posted, url=url if posted else None,
                                  actor=who.user.name, now=core.now())
        ref = found.ref_code
    return back("/", f"Đã xác nhận lượt {ref}: {STATE_TEXT[S(state)].lower()}.")
