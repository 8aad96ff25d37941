"""The units (admins): the units the account reads, and, for the top unit's administrator, units added or
updated from a CSV file as ``cchc unit import`` does (checked first, in use at once, audited)."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.datastructures import UploadFile

from scheduler.plans import unit_import
from scheduler.record import audit
from scheduler.record.db import write_session
from scheduler.text import decode_text
from scheduler.web.deps import STAFF, AdminDep, CoreDep, FormDep, Staff, back, page

router = APIRouter(dependencies=STAFF)
MAX_SHEET = 2 * 2**20  # a province's list is tens of kilobytes


def _installs(core: CoreDep, who: Staff) -> bool:
    """The top unit's administrator: who may add units to the install (the rule of ``Actor.check_install``)."""
    return who.admin and who.scope.reads_all(core.config)


@router.get("/units", response_class=HTMLResponse, include_in_schema=False)
def units_page(request: Request, core: CoreDep, who: AdminDep, note: str = "") -> HTMLResponse:
    rows = [{"code": uid, "name": unit.name, "level": "tỉnh" if unit.level == "province" else "xã, phường",
             "parent": core.config.units[unit.parent].name if unit.parent else "", "slots": ", ".join(unit.slots),
             "channels": len(core.config.channels_of(uid))}
            for uid, unit in core.config.units.items() if who.scope.reads(uid)]
    return page(request, "units.html", who, rows=rows, installs=_installs(core, who), note=note)


@router.post("/units/import", include_in_schema=False)
async def units_import(request: Request, core: CoreDep, who: AdminDep, values: FormDep) -> Response:
    if not _installs(core, who):
        raise HTTPException(403, "Chỉ quản trị viên của đơn vị cấp cao nhất (tỉnh) mới thêm đơn vị.")
    upload = values.get("file")
    if not isinstance(upload, UploadFile) or not upload.filename:
        raise HTTPException(400, "Hãy chọn tệp CSV danh sách đơn vị.")
    raw = await upload.read(MAX_SHEET + 1)
    if len(raw) > MAX_SHEET:
        raise HTTPException(413, "Tệp quá lớn: danh sách đơn vị tối đa 2 MB.")
    rows = unit_import.read_rows(decode_text(raw, upload.filename, "Tệp"), core.config)
    known = sum(row.code in core.config.units for row in rows)
    checked = f"Tệp hợp lệ: {len(rows)} đơn vị ({len(rows) - known} mới, {known} đã có)"
    if values.get("dry_run"):
        return units_page(request, core, who, note=f"{checked}; chưa ghi gì.")
    changes = unit_import.apply(core.settings.config_dir, rows, core.config)
    core.refresh_config()
    with write_session(core.ready_engine()) as session:
        audit.record(session, unit=who.scope.home, actor=who.user.name, action="unit_import",
                     subject=f"file:{upload.filename}", at=core.now(), units=len(rows), changes=len(changes))
    return back("/units", f"Đã nhập {len(rows)} đơn vị từ {upload.filename}: {len(changes)} thay đổi, áp dụng ngay "
                          "(kênh mới của các xã bắt đầu gửi từ lượt gửi sau).")
