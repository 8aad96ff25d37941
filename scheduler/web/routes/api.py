"""The JSON API (session cookie; changes carry X-CSRF-Token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response

from scheduler import announcements, queries
from scheduler.errors import ContentChangedError
from scheduler.record.db import read_session, write_session
from scheduler.web import forms
from scheduler.web.actions import act_on, log_filters, read_announcement
from scheduler.web.deps import (
    PAGE_SIZE,
    STAFF,
    ApiCsrf,
    CoreDep,
    DraftDep,
    DraftIn,
    PageNo,
    RowId,
    StaffDep,
    UnitDep,
)

router = APIRouter(dependencies=STAFF, tags=["api"])


@router.get("/api/me")
def api_me(who: StaffDep) -> dict[str, Any]:
    """Who is logged in, and the CSRF token to send as ``X-CSRF-Token`` with changes."""
    return {"name": who.user.name, "role": who.user.role, "unit": who.scope.home, "units": list(who.scope.readable),
            "csrf": who.csrf}


@router.get("/api/announcements")
def api_announcements(core: CoreDep, who: StaffDep, status: str | None = None, unit: str = "") -> list[dict]:
    """The announcements of ``unit`` (default: the account's own; a province account may name its communes)."""
    shown = who.scope.pick(core.config, unit or who.unit, "unit")
    with read_session(core.ready_engine()) as session:
        return queries.announcements(session, status=status, unit=shown, now=core.now())


@router.post("/api/announcements", status_code=201, dependencies=[ApiCsrf], openapi_extra={"requestBody": {
    "required": True, "content": {"application/json": {"schema": DraftIn.model_json_schema()}}}})
def api_create(core: CoreDep, who: StaffDep, body: DraftDep) -> dict[str, Any]:
    """A new announcement of the account's unit (``submit``: sent for review at once)."""
    draft = forms.draft_from(body.model_dump(exclude={"submit"}))
    draft.unit = who.scope.home
    with write_session(core.ready_engine()) as session:
        ann = announcements.create(session, config=core.config, draft=draft, author=who.user.name,
                                   now=core.now())
        if body.submit:
            announcements.submit(session, ann=ann, actor=who.user.name, now=core.now())
        return {"id": ann.id, "ref": ann.ref_code, "status": ann.status}


@router.get("/api/announcements/{announcement_id}")
def api_announcement(core: CoreDep, who: StaffDep, announcement_id: RowId) -> dict[str, Any]:
    """One announcement with its translations, approvals and deliveries (of the units the account reads)."""
    return read_announcement(core, who, announcement_id)


@router.post("/api/announcements/{announcement_id}/{action}", dependencies=[ApiCsrf])
def api_act(core: CoreDep, who: StaffDep, announcement_id: RowId, action: str, reason: str = "",
            content_hash: str = "") -> Response:
    """``action``: submit, approve (with ``content_hash``, the hash of the version read, as
    ``GET /api/announcements/{id}`` gives it), reject (with ``reason``) or cancel. An approval of a
    version that changed since is refused (409) with the current version."""
    try:
        return JSONResponse({"result": act_on(core, who, announcement_id, action, reason, content_hash)})
    except ContentChangedError as exc:
        current = read_announcement(core, who, announcement_id)
        return JSONResponse({"error": str(exc), "content_hash": exc.current_hash, "announcement": current},
                            status_code=409)


@router.get("/api/deliveries")
def api_deliveries(core: CoreDep, unit: UnitDep, channel: str = "", state: str = "", lang: str = "", since: str = "",
                   until: str = "", page_no: PageNo = 1) -> dict[str, Any]:
    """The delivery log of the unit shown, newest first, a page at a time."""
    filters = log_filters(core, unit, channel, state, lang, since, until)
    with read_session(core.ready_engine()) as session:
        return {"total": queries.log_count(session, **filters),
                "rows": queries.log_rows(session, **filters, limit=PAGE_SIZE,
                                         offset=(max(1, page_no) - 1) * PAGE_SIZE, newest_first=True)}
