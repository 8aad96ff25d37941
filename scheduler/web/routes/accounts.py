"""Accounts (admins) and the audit trail (approvers and admins)."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from scheduler import labels
from scheduler.clock import local_midnight, parse_local_date
from scheduler.errors import InputError
from scheduler.record import audit, users
from scheduler.record.db import read_session, write_session
from scheduler.web.deps import (
    PAGE_SIZE,
    STAFF,
    AdminDep,
    ApproverDep,
    CoreDep,
    FormDep,
    PageNo,
    back,
    page,
)

router = APIRouter(dependencies=STAFF)


@router.get("/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, core: CoreDep, who: AdminDep, note: str = "") -> HTMLResponse:
    with read_session(core.ready_engine()) as session:
        rows = [row for row in users.list_users(session, core.now()) if who.scope.reads(row["unit"] or "")]
    names = dict(who.units)
    return page(request, "users.html", who, rows=[{**row, "unit_name": names[row["unit"]]} for row in rows],
                note=note)


@router.post("/users", include_in_schema=False)
async def user_add(core: CoreDep, who: AdminDep, values: FormDep) -> Response:
    unit = who.scope.pick(core.config, str(values.get("unit") or ""), "Đơn vị")
    with write_session(core.ready_engine()) as session:
        added = users.add_user(session, name=str(values.get("name") or ""), role=str(values.get("role") or ""),
                               password=str(values.get("password") or ""), unit=unit, actor=who.user.name,
                               now=core.now())
    return back("/users", f"Đã tạo tài khoản {added.name} ({core.config.units[unit].name}).")


@router.post("/users/{name}/{action}", include_in_schema=False)
async def user_change(core: CoreDep, who: AdminDep, values: FormDep, name: str, action: str) -> Response:
    """Lock, unlock, end the sessions of, or set a new password for an account of a unit the admin reads."""
    actor, now = who.user.name, core.now()
    with write_session(core.ready_engine()) as session:
        who.scope.check_manage(core.config, users.get_user(session, name))
        if action in ("disable", "enable"):
            changed = users.set_active(session, name=name, active=action == "enable", actor=actor, now=now)
            note = f"Đã {'mở khóa' if changed.active else 'khóa'} tài khoản {changed.name}."
        elif action == "revoke":
            ended = users.revoke_sessions(session, name=name, actor=actor, now=now)
            note = f"Đã kết thúc {ended} phiên đăng nhập của {name}."
        elif action == "passwd":
            changed = users.set_password(session, name=name, password=str(values.get("password") or ""),
                                         actor=actor, now=now)
            note = f"Đã đổi mật khẩu của {changed.name}; các phiên cũ đã kết thúc."
        else:
            raise HTTPException(404, "Không có thao tác này.")
    return back("/users", note)


@router.get("/audit", response_class=HTMLResponse, include_in_schema=False)
def audit_page(request: Request, core: CoreDep, who: ApproverDep, actor: str = "", action: str = "", since: str = "",
               until: str = "", page_no: PageNo = 1) -> HTMLResponse:
    """Who did what to which item, when: approvers and admins."""
    filters = {"actor": actor.strip()[:60] or None, "action": action or None,
               "since": local_midnight(parse_local_date(since, "Từ ngày")) if since else None,
               "until": local_midnight(parse_local_date(until, "Đến ngày") + timedelta(days=1)) if until else None}
    if action and action not in labels.AUDIT_ACTION:
        raise InputError("Việc", "hãy chọn việc trong danh sách")
    if "\x00" in actor:
        raise InputError("Người", "tên có ký tự không hợp lệ")
    # the unit shown: its own events, and the top unit's page also the installation's (a restore)
    filters |= {"unit": who.unit, "installation": core.config.units[who.unit].parent is None}
    with read_session(core.ready_engine()) as session:
        total = audit.count(session, **filters)
        rows = audit.events(session, **filters, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
    query = {"actor": actor, "action": action, "since": since, "until": until}
    return page(request, "audit.html", who, rows=rows, total=total, page_no=page_no,
                pages=max(1, -(-total // PAGE_SIZE)), query=query, query_text=urlencode(query))
