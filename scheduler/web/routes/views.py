"""The calendar, the reports to download and the channels' health."""

from __future__ import annotations

import mimetypes
import tempfile
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from channels import REGISTRY
from scheduler import queries
from scheduler.clock import LOCAL_TZ, local_midnight, parse_local_date, show_vn
from scheduler.errors import InputError
from scheduler.loudspeaker import station
from scheduler.outbox.holds import holds
from scheduler.plans.compliance import plan_years
from scheduler.plans.periods import offered, parse_period, span_of
from scheduler.record.db import read_session, write_session
from scheduler.web import forms
from scheduler.web.actions import token_warnings
from scheduler.web.deps import (
    CALENDAR_ITEMS,
    LANG_TEXT,
    STAFF,
    ApproverDep,
    CoreDep,
    FormDep,
    StaffDep,
    UnitDep,
    back,
    page,
)

router = APIRouter(dependencies=STAFF)


@router.get("/calendar", response_class=HTMLResponse, include_in_schema=False)
def calendar(request: Request, core: CoreDep, who: StaffDep, view: str = "week", day: str = "") -> HTMLResponse:
    """Deliveries by day, a week or a month at a time (Monday first, Vietnam time)."""
    today = core.now().astimezone(LOCAL_TZ).date()
    shown = parse_local_date(day, "Ngày") if day else today
    view = "month" if view == "month" else "week"
    if view == "month":
        first = shown.replace(day=1)
        last = span_of("month", shown).end - timedelta(days=1)
        start = first - timedelta(days=first.weekday())
        end = last + timedelta(days=7 - last.weekday())
        before, after = first - timedelta(days=1), last + timedelta(days=1)
        heading = f"Tháng {shown.month}/{shown.year}"
    else:
        start = shown - timedelta(days=shown.weekday())
        end = start + timedelta(days=7)
        before, after = start - timedelta(days=7), end
        heading = f"Tuần {start:%d/%m} – {end - timedelta(days=1):%d/%m/%Y}"
    with read_session(core.ready_engine()) as session:
        by_day = queries.calendar(session, since=local_midnight(start), until=local_midnight(end), unit=who.unit)
    days = [start + timedelta(days=n) for n in range((end - start).days)]
    return page(request, "calendar.html", who, view=view, heading=heading, days=days, by_day=by_day,
                today=today, month=shown.month if view == "month" else None, before=before.isoformat(),
                after=after.isoformat(), per_day=CALENDAR_ITEMS if view == "month" else None)


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def reports_page(request: Request, core: CoreDep, who: StaffDep) -> HTMLResponse:
    today = core.now().astimezone(LOCAL_TZ).date()
    years = plan_years(core.config, [who.unit], today.year)[:2]  # a past year: the yearly report first
    options = offered(years, today, (("quarter", 4), ("half", 2), ("year", 1), ("month", 3)),
                      (("year", 1), ("half", 2), ("quarter", 4), ("month", 12)))
    return page(request, "reports.html", who, options=options, unit=core.config.units[who.unit].name,
                plan_year=today.year in years)


@router.get("/reports/download", include_in_schema=False)
def report_download(core: CoreDep, unit: UnitDep, period: str, fmt: str = "docx") -> Response:
    """The report to the Department of Home Affairs for ``period``, as the CLI's ``cchc report`` writes it."""
    from scheduler.plans import report as reports

    if fmt not in ("docx", "xlsx"):
        raise HTTPException(400, "Hãy chọn định dạng DOCX (Word) hoặc XLSX (Excel).")
    span = parse_period(period)
    with read_session(core.ready_engine()) as session:
        data = reports.gather(session, core.config, unit=unit, span=span, now=core.now())
    name = f"bao-cao-cchc-{unit}-{span.label}.{fmt}"
    with tempfile.TemporaryDirectory() as tmp:
        content = reports.write(data, fmt, Path(tmp) / name).read_bytes()
    media = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[fmt]
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/channels", response_class=HTMLResponse, include_in_schema=False)
def channels_page(request: Request, core: CoreDep, who: StaffDep, note: str = "") -> HTMLResponse:
    """Every configured channel and how it has been doing (changes go in config/channels.toml), and the
    station's own sound of each loudspeaker channel, which approvers may upload here."""
    now = core.now()
    with read_session(core.ready_engine()) as session:
        health = queries.channel_health(session, since=now - timedelta(days=7))
        held = {h.channel: h for h in holds(session, now)}
        tokens = {t["channel"]: t for t in queries.expiring_tokens(session, now, token_warnings(core))}
        own = core.config.channels_of(who.unit)
        loudspeakers = [n for n, ch in own.items() if ch.slotted]
        sounds = station.overview(session, core.config, loudspeakers)
    rows = [{"name": name, "title": ch.title, "kind": REGISTRY[ch.kind].label, "unit": core.config.units[ch.unit].name,
             "mode": ch.mode, "enabled": ch.enabled, "languages": ch.languages,
             "ahead": ch.send_ahead_minutes, "held": held[name].reason if name in held else None,
             "held_until": show_vn(held[name].until) if name in held and held[name].until else None,
             "token": tokens.get(name), **health.get(name, {"counts": {}})}
            for name, ch in own.items()]
    return page(request, "channels.html", who, rows=rows, sounds=sounds, note=note,
                titles={n: core.config.channels[n].title for n in loudspeakers},
                audio_types=",".join(forms.AUDIO_TYPES))


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
