"""The JSON API (session cookie; changes carry X-CSRF-Token)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from scheduler import announcements, queries
from scheduler.db import read_session, write_session
from scheduler.errors import ContentChangedError
from scheduler.web import forms
from scheduler.web.deps import (
    PAGE_SIZE,
    CoreDep,
    DraftIn,
    PageNo,
    RowId,
    api_csrf,
    staff,
)
from scheduler.web.routes.announcements import act_on, read_announcement
from scheduler.web.routes.deliveries import log_filters

router = APIRouter()


@router.get("/api/me", tags=["api"])
def api_me(request: Request, core: CoreDep) -> dict[str, Any]:
    """Who is logged in, and the CSRF token to send as ``X-CSRF-Token`` with changes."""
    who = staff(request)
    return {"name": who.user.name, "role": who.user.role, "unit": who.scope.home, "units": list(who.scope.readable),
            "csrf": who.csrf}


@router.get("/api/announcements", tags=["api"])
def api_announcements(request: Request, core: CoreDep, status: str | None = None, unit: str = "") -> list[dict]:
    """The announcements of ``unit`` (default: the account's own; a province account may name its communes)."""
    who = staff(request)
    shown = who.scope.pick(core.config, unit or who.unit, "unit")
    with read_session(core.ready_engine()) as session:
        return queries.announcements(session, status=status, unit=shown)


@router.post("/api/announcements", tags=["api"], status_code=201)
def api_create(request: Request, core: CoreDep, body: DraftIn) -> dict[str, Any]:
    who = staff(request)
    api_csrf(request, who)
    draft = forms.draft_from(body.model_dump(exclude={"submit"}))
    draft.unit = who.scope.home
    with write_session(core.ready_engine()) as session:
        ann = announcements.create(session, config=core.config, draft=draft, author=who.user.name,
                                   now=core.now())
        if body.submit:
            announcements.submit(session, ann=ann, actor=who.user.name, now=core.now())
        return {"id": ann.id, "ref": ann.ref_code, "status": ann.status}


@router.get("/api/announcements/{announcement_id}", tags=["api"])
def api_announcement(request: Request, core: CoreDep, announcement_id: RowId) -> dict[str, Any]:
    return read_announcement(core, request, staff(request), announcement_id)


@router.post("/api/announcements/{announcement_id}/{action}", tags=["api"])
def api_act(request: Request, core: CoreDep, announcement_id: RowId, action: str, reason: str = "",
            content_hash: str = "") -> Response:
    """``action``: submit, approve (with ``content_hash``, the hash of the version read, as
    ``GET /api/announcements/{id}`` gives it), reject (with ``reason``) or cancel. An approval of a
    version that changed since is refused (409) with the current version."""
    who = staff(request)
    api_csrf(request, who)
    try:
        return JSONResponse({"result": act_on(core, who, announcement_id, action, reason, content_hash)})
    except ContentChangedError as exc:
        current = read_announcement(core, request, who, announcement_id)
        return JSONResponse({"error": str(exc), "content_hash": exc.current_hash, "announcement": current},
                            status_code=409)


@router.get("/api/deliveries", tags=["api"])
def api_deliveries(request: Request, core: CoreDep, channel: str = "", state: str = "", lang: str = "", since: str = "",
                   until: str = "", page_no: PageNo = 1) -> dict[str, Any]:
    who = staff(request)
    filters = log_filters(core, who.unit, channel, state, lang, since, until)
    with read_session(core.ready_engine()) as session:
        return {"total": queries.log_count(session, **filters),
                "rows": queries.log_rows(session, **filters, limit=PAGE_SIZE,
                                         offset=(max(1, page_no) - 1) * PAGE_SIZE, newest_first=True)}
