"""What every route of the web app shares, as FastAPI dependencies: the core (``CoreDep``), the logged-in
staff member and what their role allows (``StaffDep``, ``ApproverDep``, ``AdminDep``, ``ProvinceDep``), the
unit the pages show (``UnitDep``), a posted form whose CSRF token was checked (``FormDep``) and the API's
``X-CSRF-Token`` (``ApiCsrf``); rendering a page, and the names pages show.

``create_web`` puts the ``App`` and the templates on ``app.state``. Every router but the public one
(``routes.PUBLIC``: login, fonts, health) is declared with ``STAFF``, so each of its routes needs a
session by construction; a missing one raises ``NeedLogin`` before anything of the request is read
(pages go to the login form, the API answers 401). A handler names what it needs and reads as what it
does: ``def page(who: StaffDep, values: FormDep)``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import Depends, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ValidationError

from channels.languages import LANGUAGE_TITLES
from scheduler import labels
from scheduler.app import App
from scheduler.clock import show
from scheduler.record import scope, users
from scheduler.record.db import read_session
from scheduler.record.models import DeliveryState as S
from scheduler.record.models import Role, User

RowId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]  # a larger number names no row (and overflows SQL)
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]
COOKIE, LOGIN_COOKIE, UNIT_COOKIE = "cchc_session", "cchc_login", "cchc_unit"
FONT_DIR = Path("/usr/share/fonts/truetype/noto")  # Debian's fonts-noto-core, installed by scripts/setup.sh
FONTS = ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf", "NotoSansTaiViet-Regular.ttf")
PAGE_SIZE = 50
CALENDAR_ITEMS = 6  # per day in the month view; the week view shows all
STATUS_TEXT, STATE_TEXT, ROLE_TEXT = labels.ANNOUNCEMENT_STATUS, labels.DELIVERY_STATE, labels.ROLE
LANG_TEXT = LANGUAGE_TITLES
ATTENTION = (S.NEEDS_PERSON, S.FAILED, S.NEEDS_RECONCILE, S.RETRACTING)


class NeedLogin(Exception):
    """No open session: pages go to the login form, the API answers 401."""


@dataclass(frozen=True)
class Staff:
    """The logged-in staff member: their account, the session's CSRF token, the units the account may read
    (``scope``) and the one the pages show now (``unit``: their own, or a commune a province user chose
    in the header)."""

    user: User
    csrf: str
    scope: scope.Scope
    unit: str
    units: tuple[tuple[str, str], ...] = ()  # (id, name) of every unit the account reads, for the header

    province: bool = False  # the account belongs to a province: it has the page of all its communes

    @property
    def acts_here(self) -> bool:
        """Whether the unit shown is the account's own (a province user reading a commune only reads)."""
        return self.unit == self.scope.home

    @property
    def approver(self) -> bool:
        return self.user.role in users.APPROVERS

    @property
    def admin(self) -> bool:
        return self.user.role == Role.ADMIN


class DraftIn(BaseModel):
    """An announcement as the JSON API takes it (times in Vietnam time, ``YYYY-MM-DD HH:MM``)."""

    title: str | None = None
    body: str | None = None
    topics: list[str] | None = None
    channels: list[str] | None = None
    languages: list[str] | None = None
    priority: str | None = None
    at: str | None = None
    next_slot: bool | None = None
    repeat: str | None = None
    until: str | None = None
    expires: str | None = None
    submit: bool = False


def core_of(request: Request) -> App:
    return request.app.state.core


CoreDep = Annotated[App, Depends(core_of)]


def staff(request: Request) -> Staff:
    """The staff member of the request's session; ``NeedLogin`` without one (once a request: FastAPI keeps a
    dependency's value for the rest of the request)."""
    core = core_of(request)
    with read_session(core.ready_engine()) as session:
        found = users.current(session, request.cookies.get(COOKIE), core.now())
    if found is None:
        raise NeedLogin
    user = found[0]
    seen = scope.of_user(core.config, user)
    chosen = request.cookies.get(UNIT_COOKIE, "")
    units = tuple((uid, core.config.units[uid].name) for uid in seen.readable)
    return Staff(user, found[1].csrf, seen, chosen if seen.reads(chosen) else seen.home, units,
                 core.config.units[seen.home].level == "province")


StaffDep = Annotated[Staff, Depends(staff)]
STAFF = [Depends(staff)]  # a router's dependencies: every route of it needs a session


def approver_only(who: StaffDep) -> Staff:
    """Approvers and admins only (approve, reject, cancel, station sound, settle, the audit trail)."""
    if not who.approver:
        raise HTTPException(403, "Chỉ người có vai trò Thẩm định hoặc Quản trị mới làm được việc này.")
    return who


def admin_only(who: StaffDep) -> Staff:
    """Admins only (accounts, the year's plan)."""
    if not who.admin:
        raise HTTPException(403, "Chỉ người có vai trò Quản trị mới làm được việc này (tài khoản, kế hoạch năm).")
    return who


def province_only(request: Request, who: StaffDep) -> Staff:
    """Accounts of a province only (the page of its communes)."""
    if core_of(request).config.units[who.scope.home].level != "province":
        raise HTTPException(403, "Trang tổng hợp các xã dành cho tài khoản cấp tỉnh.")
    return who


def shown_unit(who: StaffDep) -> str:
    """The unit the pages show: the account's own, or a commune a province user chose in the header."""
    return who.unit


ApproverDep = Annotated[Staff, Depends(approver_only)]
AdminDep = Annotated[Staff, Depends(admin_only)]
ProvinceDep = Annotated[Staff, Depends(province_only)]
UnitDep = Annotated[str, Depends(shown_unit)]


async def form(request: Request, who: StaffDep) -> dict[str, Any]:
    """The posted form, after its CSRF token was checked against the session."""
    data = await request.form()
    sent = str(data.get("csrf") or request.headers.get("X-CSRF-Token") or "")
    if not secrets.compare_digest(sent, who.csrf):
        raise HTTPException(403, "Biểu mẫu đã cũ hoặc không hợp lệ; hãy tải lại trang rồi làm lại.")
    return {key: data.getlist(key) if len(data.getlist(key)) > 1 else data.get(key) for key in data}


FormDep = Annotated[dict[str, Any], Depends(form)]


def api_csrf(request: Request, who: StaffDep) -> None:
    """An API call that changes something carries the session's token as ``X-CSRF-Token``."""
    if not secrets.compare_digest(request.headers.get("X-CSRF-Token", ""), who.csrf):
        raise HTTPException(403, "thiếu hoặc sai X-CSRF-Token (lấy từ GET /api/me)")


ApiCsrf = Depends(api_csrf)


async def draft_body(request: Request, who: StaffDep) -> DraftIn:
    """The JSON body of ``POST /api/announcements``, read only once the session is known (a body FastAPI parses
    itself is read before any dependency: an anonymous request would hear about its JSON, not its login)."""
    try:
        return DraftIn.model_validate_json(await request.body())
    except ValidationError as exc:
        raise RequestValidationError([{**error, "loc": ("body", *error["loc"])}  # where FastAPI would say it is
                                      for error in exc.errors(include_url=False, include_input=False)]) from None


DraftDep = Annotated[DraftIn, Depends(draft_body)]


def page(request: Request, template: str, who: Staff | None, code: int = 200, **context: Any) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(
        request, template, {"who": who, "now": show(core_of(request).now()), **context}, status_code=code)


def back(path: str, note: str = "") -> RedirectResponse:
    return RedirectResponse(path + (f"?{urlencode({'note': note})}" if note else ""), status_code=303)


def web_link(url: str | None) -> bool:
    """Whether a URL that came back from a platform may be shown as a link: http or https only (never
    ``javascript:``, ``data:`` or a file path)."""
    return bool(url) and urlsplit(url.strip()).scheme.lower() in ("http", "https") and "\n" not in url


def local_path(path: str) -> str:
    """Only a path on this site may be a redirect target (never ``//elsewhere``)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


def is_https(request: Request) -> bool:
    """Over https (directly, or through a trusted proxy: CCHC_TRUSTED_PROXIES), cookies are Secure."""
    return request.url.scheme == "https"
