"""Announcements: list, compose and edit (with translations and recordings), read, act on."""

from __future__ import annotations

import hashlib
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from sqlmodel import select
from starlette.concurrency import run_in_threadpool

from scheduler import announcements, queries
from scheduler.app import App
from scheduler.clock import LOCAL_TZ
from scheduler.errors import CchcError, ContentChangedError, InputError, OtherUnitError
from scheduler.plans import province
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Announcement, AnnouncementStatus, Translation
from scheduler.web import forms
from scheduler.web.actions import act_on, read_announcement
from scheduler.web.deps import (
    LANG_TEXT,
    STAFF,
    STATUS_TEXT,
    CoreDep,
    FormDep,
    RowId,
    Staff,
    StaffDep,
    back,
    page,
)

router = APIRouter(dependencies=STAFF)


@router.get("/announcements", response_class=HTMLResponse, include_in_schema=False)
def announcement_list(request: Request, core: CoreDep, who: StaffDep, status: str | None = None,
                      note: str = "") -> HTMLResponse:
    if status and status not in STATUS_TEXT:
        raise InputError("Trạng thái", "hãy chọn trạng thái trong danh sách")
    with read_session(core.ready_engine()) as session:
        rows = queries.announcements(session, status=status or None, unit=who.unit, now=core.now())
    return page(request, "announcements.html", who, rows=rows, status=status or "", note=note)


@router.get("/approvals", response_class=HTMLResponse, include_in_schema=False)
def approvals(request: Request, core: CoreDep, who: StaffDep, note: str = "") -> HTMLResponse:
    with read_session(core.ready_engine()) as session:
        rows = queries.announcements(session, status="submitted", unit=who.unit, now=core.now())
    return page(request, "announcements.html", who, rows=rows, status="submitted", note=note, approvals=True)


@router.get("/announcements/new", response_class=HTMLResponse, include_in_schema=False)
def new_announcement(request: Request, core: CoreDep, who: StaffDep) -> HTMLResponse:
    return compose_page(core, request, who, {"languages": ["vi"], "priority": "normal", "repeat": "none"})


@router.get("/announcements/{announcement_id}/edit", response_class=HTMLResponse, include_in_schema=False)
def edit_announcement(request: Request, core: CoreDep, who: StaffDep, announcement_id: RowId) -> HTMLResponse:
    detail = read_announcement(core, who, announcement_id)
    if detail["status"] == "cancelled":
        raise HTTPException(409, f"Thông báo {detail['ref']} đã bị hủy, không sửa được; hãy soạn thông báo mới.")
    return compose_page(core, request, who, forms.form_values(detail), ann=detail)


def compose_page(core: App, request: Request, who: Staff, values: dict[str, Any], *, ann: dict | None = None,
                 error: str | None = None) -> HTMLResponse:
    config, unit = core.config, who.unit
    plan = next((p for p in config.plans.values() if p.unit == unit), None)
    return page(request, "compose.html", who, code=400 if error else 200, values=values, ann=ann, error=error,
                topics={code: t.text for code, t in plan.topics.items()} if plan else {},
                channels={n: ch.title for n, ch in announcements.allowed_channels(config, unit).items() if ch.enabled},
                previewing={n for n, ch in config.channels.items() if ch.mode == "preview"},
                repeating=[ch.title for n, ch in config.channels.items()
                           if ch.unit == unit and ch.enabled and config.repeats(n)],
                translated=forms.TRANSLATED, audio_types=",".join(forms.AUDIO_TYPES),
                max_audio_mb=announcements.MAX_AUDIO_BYTES // 2**20)


@router.post("/announcements", include_in_schema=False)
async def create_announcement(request: Request, core: CoreDep, who: StaffDep, values: FormDep) -> Response:
    return await save(core, request, who, values, None)


@router.post("/announcements/{announcement_id}/edit", include_in_schema=False)
async def update_announcement(request: Request, core: CoreDep, who: StaffDep, values: FormDep,
                              announcement_id: RowId) -> Response:
    return await save(core, request, who, values, announcement_id)


async def save(core: App, request: Request, who: Staff, values: dict[str, Any], announcement_id: int | None
               ) -> Response:
    """Create or change an announcement with its translations and recordings, in one transaction:
    if anything is wrong nothing is stored, and the form comes back as it was typed."""
    uploads: dict[str, Path] = {}
    try:
        for lang in forms.TRANSLATED:
            saved = await forms.save_upload(values.get(f"audio_{lang}"), f"audio_{lang}", uploads_dir(core))
            if saved is not None:
                uploads[lang] = saved
        ann_id, notes = await run_in_threadpool(store, core, who, announcement_id, values, uploads)
    except OtherUnitError:
        raise  # another unit's item: 403, and its form is not shown back
    except CchcError as exc:
        shown = None
        if announcement_id is not None:
            with read_session(core.ready_engine()) as session:
                shown = queries.announcement(session, announcement_id)
        return compose_page(core, request, who, forms.listed(values), ann=shown, error=forms.message(exc))
    finally:
        for path in uploads.values():
            path.unlink(missing_ok=True)
    return back(f"/announcements/{ann_id}", " ".join(notes))


def uploads_dir(core: App) -> Path:
    return core.settings.data_dir / "uploads"


def store(core: App, who: Staff, announcement_id: int | None, values: dict[str, Any],
          uploads: dict[str, Path]) -> tuple[int, list[str]]:
    for lang, path in uploads.items():
        announcements.check_recording(path, core.config, f"audio_{lang}", shown_as="đã chọn")
    actor, now = who.user.name, core.now()
    with write_session(core.ready_engine()) as session:
        if announcement_id is None:
            draft = forms.draft_from(values)
            draft.unit = who.unit
            ann = announcements.create(session, config=core.config, draft=draft, author=actor, now=now)
            notes = [f"Đã lưu thông báo {ann.ref_code}."]
        else:
            ann = announcements.get(session, announcement_id)
            who.scope.check_read(core.config, ann.unit_id, f"thông báo {ann.ref_code}")
            changes = announcements.edit(session, config=core.config, ann=ann,
                                         draft=forms.draft_from(values, ann), actor=actor, now=now)
            notes = [f"Đã lưu thay đổi của {ann.ref_code}."] + [f"{n[:1].upper()}{n[1:]}." for n in changes]
        for lang in forms.TRANSLATED:
            notes += _translation(core, session, ann, lang, values, uploads.get(lang), actor, now)
        if values.get("submit") and ann.status in (AnnouncementStatus.DRAFT, AnnouncementStatus.REJECTED):
            announcements.submit(session, ann=ann, actor=actor, now=now)
            notes.append("Đã gửi duyệt.")
        return ann.id, notes


def _translation(core: App, session, ann: Announcement, lang: str, values: dict[str, Any], audio: Path | None,
                 actor: str, now: datetime) -> list[str]:
    """Store the form's ``lang`` version if it is new or changed; an empty box leaves it as it was."""
    body = str(values.get(f"body_{lang}") or "").strip()
    title = str(values.get(f"title_{lang}") or "").strip() or None
    if not body and audio is None:
        return []
    existing = session.exec(select(Translation).where(Translation.announcement_id == ann.id,
                                                      Translation.lang == lang)).first()
    if (audio is None and existing is not None and existing.body == body
            and existing.title == (title or ann.title)):
        return []
    try:
        changes = announcements.translate(session, ann=ann, lang=lang, title=title, body=body, audio=audio,
                                          recordings=core.settings.data_dir / "recordings", translator=actor,
                                          now=now)
    except InputError as exc:
        field = {"--body": f"body_{lang}", "--title": f"title_{lang}"}.get(exc.field, exc.field)
        raise InputError(field, str(exc).removeprefix(exc.field + ": ")) from None
    return [f"Đã lưu {LANG_TEXT[lang]}{' kèm ghi âm' if audio else ''}."] + [
        f"{n[:1].upper()}{n[1:]}." for n in changes]


@router.get("/announcements/{announcement_id}", response_class=HTMLResponse, include_in_schema=False)
def announcement_page(request: Request, core: CoreDep, who: StaffDep, announcement_id: RowId,
                      note: str = "") -> HTMLResponse:
    detail = read_announcement(core, who, announcement_id)
    with read_session(core.ready_engine()) as session:
        posts: dict[str, Any] = {}  # one post (or why there is none) per language, for every channel
        for lang in detail["languages"]:
            try:
                posts[lang] = queries.preview_post(session, core.config, announcement_id, lang, core.now())
            except CchcError as exc:
                posts[lang] = forms.message(exc)
    listen = detail["languages"] if loudspeaker_of(core, detail["channels"]) else []
    where = province.reach(core.config, detail["unit"], detail["deliveries"]) if who.scope.reads(detail["unit"]) else []
    return page(request, "announcement.html", who, a=detail, previews=previews(core, posts, detail["channels"]),
                listen=listen, note=note, reach=where, reach_summary=province.reach_summary(where) if where else "")


def loudspeaker_of(core: App, names: list[str]) -> str | None:
    return next((n for n in names if core.config.channels[n].slotted and n in core.channels), None)


def previews(core: App, posts: dict[str, Any], names: list[str]) -> list[dict]:
    """What each channel would send, per language: the approver sees exactly what goes out, and what
    many channels send alike (a province item on 75 communes' loudspeakers) once, naming them all."""
    shown: list[dict] = []
    for name in names:
        channel = core.channels.get(name)
        for lang, post in posts.items():
            if channel is None or lang not in core.config.channels[name].languages:
                continue
            title, language = core.config.channels[name].title, LANG_TEXT.get(lang, lang)
            if isinstance(post, str):
                shown.append({"channel": name, "title": title, "lang": lang, "language": language, "text": "",
                              "problem": post})
                continue
            text = channel.preview_text(post)
            limit = getattr(channel.settings, "max_chars", None)
            shown.append({"channel": name, "title": title, "lang": lang, "language": language,
                          "post_title": post.title,
                          "text": text, "length": len(text), "limit": limit})
    alike: dict[tuple, dict] = {}
    for item in shown:
        key = tuple(item.get(k) for k in ("lang", "problem", "post_title", "text", "limit"))
        if key in alike:
            alike[key]["others"].append(item["title"])
        else:
            alike[key] = {**item, "others": []}
    for item in alike.values():
        if item["others"]:
            item["title"] += f" và {len(item['others'])} kênh khác cùng nội dung"
    return list(alike.values())


@router.post("/api/preview", tags=["api"])
async def api_preview(core: CoreDep, who: StaffDep, values: FormDep) -> dict[str, Any]:
    """What each chosen channel would send for the compose form's text, before it is saved (form fields
    as the compose page sends them; ``X-CSRF-Token`` header)."""
    unit = who.unit
    chosen = [values.get("channels")] if isinstance(values.get("channels"), str) else values.get("channels") or []
    allowed = announcements.allowed_channels(core.config, unit)  # never another unit's channel or its name
    names = [n for n in core.config.expand_channels([c for c in chosen if c in core.config.channels
                                                     or c in core.config.groups], unit)
             if n in core.channels and n in allowed]
    langs = values.get("languages") or ["vi"]
    title = str(values.get("title") or "")
    posts: dict[str, Any] = {}
    for lang in [langs] if isinstance(langs, str) else langs:
        if lang not in LANG_TEXT:
            continue
        body = str(values.get("body" if lang == "vi" else f"body_{lang}") or "")
        if not body.strip() and lang != "vi":
            posts[lang] = f"chưa nhập bản t{LANG_TEXT[lang][1:]}"  # "bản tiếng Mông"
            continue
        heading = title if lang == "vi" else str(values.get(f"title_{lang}") or "") or title
        ref = f"{core.config.units[unit].ref_prefix}-{core.now().astimezone(LOCAL_TZ).year}-mới"  # numbered on saving
        posts[lang] = queries.draft_post(core.config, unit=unit, ref=ref, announcement_id=0, lang=lang,
                                         title=heading, body=body, priority=str(values.get("priority") or "normal"),
                                         topics=[], now=core.now())
    return {"previews": previews(core, posts, names)}


@router.get("/announcements/{announcement_id}/audio/{lang}", include_in_schema=False)
def listen(request: Request, core: CoreDep, who: StaffDep, announcement_id: RowId, lang: str) -> Response:
    """The announcement in ``lang`` as the loudspeaker will play it (voice or recording, levelled), as MP3."""
    from channels.loudspeaker.tts import NoVoice

    if lang not in LANG_TEXT:
        raise HTTPException(404, "Không có tiếng này.")
    detail = read_announcement(core, who, announcement_id)
    with read_session(core.ready_engine()) as session:
        text, recording = queries.spoken_version(session, announcement_id, lang)
    name = loudspeaker_of(core, detail["channels"]) or core.loudspeaker(scope=who.scope)
    folder = core.settings.data_dir / "cache" / "listen"
    # Rendered once per version: the recording's stored name carries its digest, the text is in the key.
    key = hashlib.sha256("\n".join([name, lang, text, str(recording or "")]).encode()).hexdigest()
    cached = folder / f"{key}.mp3"
    if not cached.exists():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder) as tmp:
            try:
                core.broadcaster().programmes.listen(name, text, lang, recording, Path(tmp) / "nghe-thu.mp3")
            except NoVoice as exc:
                raise HTTPException(409, f"Chưa nghe thử được: {exc}") from None
            os.replace(Path(tmp) / "nghe-thu.mp3", cached)
    return FileResponse(cached, media_type="audio/mpeg", headers={"Cache-Control": "no-store"})


@router.post("/announcements/{announcement_id}/{action}", include_in_schema=False)
async def act(core: CoreDep, who: StaffDep, values: FormDep, announcement_id: RowId, action: str) -> Response:
    try:
        note = act_on(core, who, announcement_id, action, str(values.get("reason") or ""),
                    str(values.get("content_hash") or ""))
    except ContentChangedError as exc:  # show the new version: the approver reads it before deciding
        return back(f"/announcements/{announcement_id}", forms.message(exc))
    return back(f"/announcements/{announcement_id}", note)
