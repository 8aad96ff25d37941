"""The Channels page: every channel of the unit and how it has been doing; a channel's own page, where its
unit's administrator changes what the office sets up and anyone who approves checks its connection
(``scheduler.channel_setup``); the station's own sound of each loudspeaker, which approvers upload."""

from __future__ import annotations

import mimetypes
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from channels import REGISTRY
from scheduler import channel_setup, queries
from scheduler.clock import show_vn
from scheduler.errors import InputError
from scheduler.loudspeaker import station
from scheduler.outbox.holds import holds
from scheduler.record import audit
from scheduler.record.db import read_session, write_session
from scheduler.web import forms
from scheduler.web.actions import token_warnings
from scheduler.web.deps import (
    LANG_TEXT,
    STAFF,
    AdminDep,
    ApproverDep,
    CoreDep,
    FormDep,
    Staff,
    StaffDep,
    back,
    page,
)

router = APIRouter(dependencies=STAFF)


def _health(core: CoreDep, names: list[str]) -> list[dict]:
    """Each channel named, with its state now and what it sent these 7 days."""
    now = core.now()
    with read_session(core.ready_engine()) as session:
        health = queries.channel_health(session, since=now - timedelta(days=7))
        held = {h.channel: h for h in holds(session, now)}
        tokens = {t["channel"]: t for t in queries.expiring_tokens(session, now, token_warnings(core))}
    channels = core.config.channels
    return [{"name": name, "title": channels[name].title, "kind": REGISTRY[channels[name].kind].label,
             "unit": core.config.units[channels[name].unit].name, "mode": channels[name].mode,
             "enabled": channels[name].enabled, "languages": channels[name].languages,
             "ahead": channels[name].send_ahead_minutes, "held": held[name].reason if name in held else None,
             "held_until": show_vn(held[name].until) if name in held and held[name].until else None,
             "token": tokens.get(name), **health.get(name, {"counts": {}})} for name in names]


@router.get("/channels", response_class=HTMLResponse, include_in_schema=False)
def channels_page(request: Request, core: CoreDep, who: StaffDep, note: str = "") -> HTMLResponse:
    own = core.config.channels_of(who.unit)
    loudspeakers = [n for n, ch in own.items() if ch.slotted]
    with read_session(core.ready_engine()) as session:
        sounds = station.overview(session, core.config, loudspeakers)
    return page(request, "channels.html", who, rows=_health(core, list(own)), sounds=sounds, note=note,
                titles={n: core.config.channels[n].title for n in loudspeakers},
                audio_types=",".join(forms.AUDIO_TYPES))


def _channel_page(request: Request, core: CoreDep, who: Staff, name: str, *, note: str = "", error: str = "",
                  typed: dict | None = None, code: int = 200) -> HTMLResponse:
    unit = core.config.channels[name].unit
    fields = channel_setup.fields(core.config, name)
    target = core.channels.get(name)
    return page(request, "channel.html", who, code=code, row=_health(core, [name])[0], fields=fields,
                typed=typed or {}, note=note, error=error, edits=who.admin and unit == who.scope.home,
                checks=who.approver and unit == who.scope.home and target is not None,
                token=who.admin and unit == who.scope.home and getattr(target, "tokens", None) is not None)


@router.get("/channels/{name}", response_class=HTMLResponse, include_in_schema=False)
def channel_page(request: Request, core: CoreDep, who: StaffDep, name: str, note: str = "") -> HTMLResponse:
    """One channel: its state, the settings its office sets up, its connection check."""
    who.scope.channel(core.config, name, "Kênh")
    return _channel_page(request, core, who, name, note=note)


@router.post("/channels/{name}", include_in_schema=False)
async def channel_settings(request: Request, core: CoreDep, who: AdminDep, values: FormDep, name: str) -> Response:
    """Change the channel's settings (its unit's administrator): checked, written, in the audit trail, in use
    by the running service within a tick."""
    unit = core.config.channels[who.scope.channel(core.config, name, "Kênh")].unit
    who.scope.check_act(core.config, unit, f"kênh {name}")
    fields = channel_setup.fields(core.config, name)
    try:
        wanted = channel_setup.read_form(fields, values)
        changed = channel_setup.change(core.settings.config_dir, core.config, name, wanted)
    except InputError as exc:
        return _channel_page(request, core, who, name, error=forms.message(exc), code=400,
                             typed={f.key: values.get(f.key) for f in fields})
    if not changed:
        return back(f"/channels/{name}", "Không có gì thay đổi.")
    with write_session(core.ready_engine()) as session:
        audit.record(session, unit=unit, actor=who.user.name, action="channel-settings", subject=f"channel:{name}",
                     at=core.now(), changed=changed)
    core.refresh_config()
    return back(f"/channels/{name}", "Đã lưu: " + "; ".join(changed) + ". Dịch vụ dùng cài đặt mới từ lượt gửi sau.")


@router.post("/channels/{name}/check", response_class=HTMLResponse, include_in_schema=False)
async def channel_check(request: Request, core: CoreDep, who: ApproverDep, values: FormDep, name: str) -> Response:
    """Ask the platform whether the channel's credentials and rights work (approvers and admins of its unit)."""
    unit = core.config.channels[who.scope.channel(core.config, name, "Kênh")].unit
    who.scope.check_act(core.config, unit, f"kênh {name}")
    checked = await run_in_threadpool(channel_setup.check, core, name, actor=who.user.name, field="Kênh")
    notes = (" Lưu ý: " + "; ".join(checked.notes)) if checked.notes else ""
    if checked.problems:  # said on the page, as a problem; nothing changed
        return _channel_page(request, core, who, name, error="Kết nối chưa được: " + "; ".join(checked.problems)
                             + ". Thông tin xác thực do quản trị máy chủ đặt: hãy gửi họ thông báo này." + notes)
    note = "Kết nối tốt: thông tin xác thực và quyền đều ổn."
    if checked.released:
        note += " Kênh đã được mở lại: các lượt đang chờ sẽ được gửi (nếu còn trong hạn)."
    return back(f"/channels/{name}", note + notes)


@router.post("/channels/{name}/token", include_in_schema=False)
async def channel_token(core: CoreDep, who: AdminDep, values: FormDep, name: str) -> Response:
    """Enter a refresh token for Zalo or TikTok (its unit's administrator): sealed, then proved by one renewal."""
    unit = core.config.channels[who.scope.channel(core.config, name, "Kênh")].unit
    who.scope.check_act(core.config, unit, f"kênh {name}")
    expires = await run_in_threadpool(channel_setup.enter_token, core, name, str(values.get("token") or ""),
                                      field="Mã làm mới")
    with write_session(core.ready_engine()) as session:
        audit.record(session, unit=unit, actor=who.user.name, action="channel-token", subject=f"channel:{name}",
                     at=core.now())
    until = show_vn(expires) if expires else "không rõ"
    return back(f"/channels/{name}", f"Đã lưu mã (mã hoá); mã truy cập mới dùng được đến {until}.")


@router.post("/channels/{name}/station", include_in_schema=False)
async def station_upload(core: CoreDep, who: ApproverDep, values: FormDep, name: str) -> Response:
    """Make an uploaded recording the channel's jingle, station ID or outro (approvers and admins)."""
    who.scope.channel(core.config, name, "Kênh", loudspeaker=True)
    kind, lang = str(values.get("kind") or ""), str(values.get("lang") or "")
    folder = core.settings.data_dir / "uploads"
    saved = await forms.save_upload(values.get("file"), "FILE", folder)
    if saved is None:
        raise InputError("FILE", "hãy chọn tệp ghi âm cần tải lên")
    shown = Path(getattr(values.get("file"), "filename", "") or saved.name).name

    def store() -> str:
        with write_session(core.ready_engine()) as session:
            row = station.store(session, core.config, core.settings.data_dir, channel=name, kind=kind, lang=lang,
                                source=saved, actor=who.user.name, now=core.now(), shown_as=shown)
        where = f" ({LANG_TEXT.get(row.lang, row.lang).lower()})" if row.lang else ""
        return f"Đã đặt {station.KINDS[kind]}{where} cho {core.config.channels[name].title}: {shown}."

    try:
        note = await run_in_threadpool(store)
    finally:
        saved.unlink(missing_ok=True)
    return back("/channels", note)


@router.post("/channels/{name}/station/clear", include_in_schema=False)
async def station_clear(core: CoreDep, who: ApproverDep, values: FormDep, name: str) -> Response:
    """Go back to the default sound for a part (approvers and admins)."""
    who.scope.channel(core.config, name, "Kênh", loudspeaker=True)
    kind, lang = str(values.get("kind") or ""), str(values.get("lang") or "")
    with write_session(core.ready_engine()) as session:
        station.clear(session, core.config, channel=name, kind=kind, lang=lang, actor=who.user.name, now=core.now())
    return back("/channels", f"Đã bỏ {station.KINDS[kind]} riêng; chương trình dùng lại mặc định.")


@router.get("/channels/{name}/station/{kind}/{lang}", include_in_schema=False)
def station_listen(core: CoreDep, who: StaffDep, name: str, kind: str, lang: str) -> Response:
    """The station's recording as it was uploaded, to listen to (of a unit the account reads)."""
    who.scope.channel(core.config, name, "Kênh", loudspeaker=True)
    with read_session(core.ready_engine()) as session:
        found = station.find(session, name, kind, "" if lang == "-" else lang)
    if found is None:
        raise HTTPException(404, "Kênh này chưa có bản ghi đó.")
    path = station.path_of(core.settings.data_dir, found)
    return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                        headers={"Cache-Control": "no-store"})
