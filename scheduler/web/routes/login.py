"""Signing in and out, the unit a province user reads, and the fonts the pages use. ``router`` is public (the
login form, the fonts); ``session_router`` needs a session, like every other router."""

from __future__ import annotations

import ipaddress
import secrets

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from scheduler.errors import CchcError, InputError
from scheduler.record import users
from scheduler.record.db import read_session, write_session
from scheduler.web import forms
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


def _at_the_server(request: Request) -> bool:
    """The browser runs on the server itself (behind a trusted proxy, the client's own address counts)."""
    try:
        return ipaddress.ip_address(request.client.host if request.client else "").is_loopback
    except ValueError:
        return False


def _login_page(request: Request, core: CoreDep, code: int = 200, **context: object) -> HTMLResponse:
    """The login form; on a new install (no account yet), the first administrator's form instead, shown to a
    browser on the server only."""
    with read_session(core.ready_engine()) as session:
        first = users.no_account_yet(session)
    token = secrets.token_urlsafe(24)  # double-submit: the form and a cookie must agree
    tops = [(uid, unit.name) for uid, unit in core.config.units.items() if unit.parent is None]
    response = page(request, "login.html", None, code=code, csrf=token, first=first, here=_at_the_server(request),
                    tops=tops, **context)
    response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=is_https(request))
    return response


def _form_token(data: object, request: Request) -> None:
    sent, kept = str(data.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")  # type: ignore[attr-defined]
    if not sent or not secrets.compare_digest(sent, kept):  # an empty token never matches an empty cookie
        raise HTTPException(403, "Biểu mẫu đã cũ; hãy tải lại trang đăng nhập.")


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, core: CoreDep, next: str = "/") -> HTMLResponse:  # noqa: A002
    return _login_page(request, core, next=local_path(next))


@router.post("/setup", include_in_schema=False)
async def first_administrator(request: Request, core: CoreDep) -> Response:
    """The install's first administrator (``users.first_admin``), signed in at once."""
    data = await request.form()
    _form_token(data, request)
    if not _at_the_server(request):
        raise HTTPException(403, "Tài khoản quản trị đầu tiên chỉ tạo được từ trình duyệt trên chính máy chủ.")
    name, password = str(data.get("name", ""))[:60], str(data.get("password", ""))
    unit = str(data.get("unit", ""))
    try:
        if unit not in core.config.units or core.config.units[unit].parent is not None:
            raise InputError("Đơn vị", "hãy chọn đơn vị cấp cao nhất trong danh sách")
        if password != str(data.get("again", "")):
            raise InputError("Mật khẩu", "hai lần nhập mật khẩu không giống nhau; hãy nhập lại")
        with write_session(core.ready_engine()) as session:
            users.first_admin(session, name=name, password=password, unit=unit, now=core.now())
    except InputError as exc:
        return _login_page(request, core, code=400, next="/", error=forms.message(exc), name=name)
    address = request.client.host if request.client else "?"
    with write_session(core.ready_engine()) as session:
        opened = users.log_in(session, name=name, password=password, address=address, now=core.now())
    response = RedirectResponse("/", status_code=303)
    if opened is not None:
        response.set_cookie(COOKIE, opened.cookie, httponly=True, samesite="strict", secure=is_https(request),
                            max_age=users.SESSION_HOURS * 3600)
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/login", include_in_schema=False)
async def login(request: Request, core: CoreDep) -> Response:
    data = await request.form()
    _form_token(data, request)
    address = request.client.host if request.client else "?"
    try:
        with write_session(core.ready_engine()) as session:
            opened = users.log_in(session, name=str(data.get("name", "")), password=str(data.get("password", "")),
                                  address=address, now=core.now())
        problem = None if opened else users.WRONG
    except CchcError as exc:
        opened, problem = None, str(exc)
    if opened is None:
        return _login_page(request, core, code=401, next=local_path(str(data.get("next", "/"))), error=problem,
                           name=str(data.get("name", ""))[:60])
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
