"""The calendar, the reports to download and the channels' health."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response

from channels.tokens import TokenChannel
from scheduler import queries
from scheduler.app import App
from scheduler.clock import LOCAL_TZ, local_midnight, parse_local_date, show_vn
from scheduler.db import read_session
from scheduler.dispatch import holds
from scheduler.periods import parse_period, span_of
from scheduler.web.deps import (
    CALENDAR_ITEMS,
    CoreDep,
    page,
    staff,
)

router = APIRouter()


@router.get("/calendar", response_class=HTMLResponse, include_in_schema=False)
def calendar(request: Request, core: CoreDep, view: str = "week", day: str = "") -> HTMLResponse:
    """Deliveries by day, a week or a month at a time (Monday first, Vietnam time)."""
    who = staff(request)
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
        by_day = queries.calendar(session, since=local_midnight(start), until=local_midnight(end),
                                  unit=core.config.default_unit)
    days = [start + timedelta(days=n) for n in range((end - start).days)]
    return page(request, "calendar.html", who, view=view, heading=heading, days=days, by_day=by_day,
                today=today, month=shown.month if view == "month" else None, before=before.isoformat(),
                after=after.isoformat(), per_day=CALENDAR_ITEMS if view == "month" else None)


@router.get("/reports", response_class=HTMLResponse, include_in_schema=False)
def reports_page(request: Request, core: CoreDep) -> HTMLResponse:
    who = staff(request)
    today = core.now().astimezone(LOCAL_TZ).date()
    options = []
    for kind, count in (("quarter", 4), ("half", 2), ("year", 2), ("month", 3)):
        day = today
        for _ in range(count):
            span = span_of(kind, day)
            options.append((span.label, span.title[:1].upper() + span.title[1:]))
            day = span.start - timedelta(days=1)
    return page(request, "reports.html", who, options=options, unit=core.config.units[
        core.config.default_unit].name)


@router.get("/reports/download", include_in_schema=False)
def report_download(request: Request, core: CoreDep, period: str, fmt: str = "docx") -> Response:
    """The report to the Department of Home Affairs for ``period``, as the CLI's ``cchc report`` writes it."""
    from scheduler import report as reports

    staff(request)
    if fmt not in ("docx", "xlsx"):
        raise HTTPException(400, "Hãy chọn định dạng DOCX (Word) hoặc XLSX (Excel).")
    span = parse_period(period)
    unit = core.config.default_unit
    with read_session(core.ready_engine()) as session:
        data = reports.gather(session, core.config, unit=unit, span=span, now=core.now())
    name = f"bao-cao-cchc-{unit}-{span.label}.{fmt}"
    with tempfile.TemporaryDirectory() as tmp:
        content = reports.write(data, fmt, Path(tmp) / name).read_bytes()
    media = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
             "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[fmt]
    return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/channels", response_class=HTMLResponse, include_in_schema=False)
def channels_page(request: Request, core: CoreDep) -> HTMLResponse:
    """Every configured channel and how it has been doing: read only (changes go in config/channels.toml)."""
    who = staff(request)
    now = core.now()
    with read_session(core.ready_engine()) as session:
        health = queries.channel_health(session, since=now - timedelta(days=7))
        held = {h.channel: h for h in holds(session, now)}
        tokens = {t["channel"]: t for t in queries.expiring_tokens(session, now, token_warnings(core))}
    rows = [{"name": name, "title": ch.title, "kind": ch.kind, "unit": core.config.units[ch.unit].name,
             "mode": ch.mode, "enabled": ch.enabled, "languages": ch.languages,
             "ahead": ch.send_ahead_minutes, "held": held[name].reason if name in held else None,
             "held_until": show_vn(held[name].until) if name in held and held[name].until else None,
             "token": tokens.get(name), **health.get(name, {"counts": {}})}
            for name, ch in core.config.channels.items()]
    return page(request, "channels.html", who, rows=rows)


def token_warnings(core: App) -> dict[str, int]:
    """Channels that renew their own tokens, and how many days ahead to warn of expiry."""
    return {name: getattr(channel.settings, "expiry_warning_days", 14) for name, channel in core.channels.items()
            if isinstance(channel, TokenChannel)}
