"""Signing in and out, the unit a province user reads, and the fonts the pages use. ``router`` is public (the
login form, the fonts); ``session_router`` needs a session, like every other router."""

from __future__ import annotations

import secrets

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from scheduler.errors import CchcError
from scheduler.record import users
from scheduler.record.db import write_session
from scheduler.web.deps import (
    COOKIE,
    FONT_DIR,
    FONTS,
    LOGIN_COOKIE,
    STAFF,
    UNIT_COOKIE,
    CoreDep,
    FormDep,
    StaffDep,
    form,
    is_https,
    local_path,
    page,
)

router = APIRouter()
session_router = APIRouter(dependencies=STAFF)


@router.get("/fonts/{name}", include_in_schema=False)
def font(name: str) -> FileResponse:
    if name not in FONTS:
        raise HTTPException(404, "Không có tệp này.")
    return FileResponse(FONT_DIR / name, media_type="font/ttf",
                        headers={"Cache-Control": "public, max-age=604800"})


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, core: CoreDep, next: str = "/") -> HTMLResponse:  # noqa: A002
    token = secrets.token_urlsafe(24)  # double-submit: the form and a cookie must agree
    response = page(request, "login.html", None, next=local_path(next), csrf=token)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request))
    return response


@router.post("/login", include_in_schema=False)
async def login(request: Request, core: CoreDep) -> Response:
    data = await request.form()
    sent, kept = str(data.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")
    if not sent or not secrets.compare_digest(sent, kept):  # an empty token never matches an empty cookie
        raise HTTPException(403, "Biểu mẫu đăng nhập đã cũ; hãy tải lại trang đăng nhập.")
    address = request.client.host if request.client else "?"
    try:
        with write_session(core.ready_engine()) as session:
            opened = users.log_in(session, name=str(data.get("name", "")), password=str(data.get("password", "")),
                                  address=address, now=core.now())
        problem = None if opened else users.WRONG
    except CchcError as exc:
        opened, problem = None, str(exc)
    if opened is None:
        token = secrets.token_urlsafe(24)
        response = page(request, "login.html", None, code=401, next=local_path(str(data.get("next", "/"))),
                        csrf=token, error=problem, name=str(data.get("name", ""))[:60])
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request))
        return response
    response = RedirectResponse(local_path(str(data.get("next", "/"))), status_code=303)
    response.set_cookie(COOKIE, opened.cookie, httponly=True, samesite="strict", secure=is_https(request),
                        max_age=users.SESSION_HOURS * 3600)
    response.delete_cookie(LOGIN_COOKIE)
    return response


@session_router.post("/logout", include_in_schema=False, dependencies=[Depends(form)])
async def logout(request: Request, core: CoreDep) -> Response:
    with write_session(core.ready_engine()) as session:
        users.log_out(session, request.cookies.get(COOKIE), core.now())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    response.delete_cookie(UNIT_COOKIE)
    return response


@session_router.post("/unit", include_in_schema=False)
async def choose_unit(request: Request, core: CoreDep, who: StaffDep, values: FormDep) -> Response:
    """A province user chooses the unit the pages show (the header's list): one the account may read."""
    unit = who.scope.pick(core.config, str(values.get("unit") or ""), "Đơn vị")
    response = RedirectResponse(local_path(str(values.get("next") or "/")), status_code=303)
    response.set_cookie(UNIT_COOKIE, unit, httponly=True, samesite="strict", secure=is_https(request),
                        max_age=users.SESSION_HOURS * 3600)
    return response
