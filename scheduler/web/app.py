"""Routes of the staff web app. Pages are rendered on the server (Jinja2, autoescaped) with a little
JavaScript for character counters; every asset is served from here, including the Noto fonts for
Vietnamese and Tai Viet (many offices have poor internet: no CDN).

Security: every page but the login needs a session (cookie ``cchc_session``: HttpOnly, SameSite=Strict,
Secure over https, a new value at each login); every form carries the session's CSRF token, and API
calls that change something send it as ``X-CSRF-Token``; roles decide who may approve; the core
records every action in the audit trail.
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlencode, urlsplit

import fastapi_offline
from fastapi import FastAPI, HTTPException, Query, Request
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel
from sqlmodel import col, func, select
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from channels.tokens import TokenChannel
from scheduler import announcements, audit, labels, queries, users
from scheduler.app import App
from scheduler.clock import LOCAL_TZ, local_midnight, parse_local_date, show, show_vn
from scheduler.db import read_session, write_session
from scheduler.dispatch import holds
from scheduler.errors import CchcError, ContentChangedError, InputError
from scheduler.models import Announcement, AnnouncementStatus, Delivery, Role, ServiceState, Translation, User
from scheduler.models import DeliveryState as S
from scheduler.periods import parse_period, span_at, span_of
from scheduler.text import spreadsheet_cell
from scheduler.web import forms
from scheduler.web.guard import Guard

HERE = Path(__file__).parent
log = logging.getLogger("cchc.web")
GENERIC_HTTP = {(404, "Not Found"): "Không có trang này; hãy kiểm tra lại địa chỉ.",
                (405, "Method Not Allowed"): "Trang này không nhận thao tác đó."}
RowId = Annotated[int, PathParam(ge=1, le=2**63 - 1)]  # a larger number names no row (and overflows SQL)
PageNo = Annotated[int, Query(ge=1, le=1_000_000)]
COOKIE, LOGIN_COOKIE = "cchc_session", "cchc_login"
FONT_DIR = Path("/usr/share/fonts/truetype/noto")  # Debian's fonts-noto-core, installed by scripts/setup.sh
FONTS = ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf", "NotoSansTaiViet-Regular.ttf")
PAGE_SIZE = 50
CALENDAR_ITEMS = 6  # per day in the month view; the week view shows all
MAX_FORM_BYTES = 2 * announcements.MAX_AUDIO_BYTES + 2**20  # two recordings and the text
STATUS_TEXT, STATE_TEXT, ROLE_TEXT = labels.ANNOUNCEMENT_STATUS, labels.DELIVERY_STATE, labels.ROLE
LANG_TEXT = {"vi": "Tiếng Việt", "blt": "Tiếng Thái", "hmn": "Tiếng Mông"}
ATTENTION = (S.NEEDS_PERSON, S.FAILED, S.NEEDS_RECONCILE, S.RETRACTING)


class NeedLogin(Exception):
    """No open session: pages go to the login form, the API answers 401."""


@dataclass(frozen=True)
class Staff:
    user: User
    csrf: str

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


def create_web(core: App) -> FastAPI:
    web = FastAPI(title="CCHC: lịch phát thông tin cải cách hành chính", version="1",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(STATUS_TEXT=STATUS_TEXT, STATE_TEXT=STATE_TEXT, LANG_TEXT=LANG_TEXT,
                                 ROLE_TEXT=ROLE_TEXT, OUTCOME_TEXT=labels.OUTCOME, PREVIEW_MODE=labels.PREVIEW_MODE,
                                 ASRUN_TEXT=labels.AS_RUN_STATUS, AUDIT_TEXT=labels.AUDIT_ACTION,
                                 actor_text=labels.actor, show_vn=show_vn,
                                 show=show)
    templates.env.filters["web_link"] = web_link
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # The API's page, from the packaged Swagger UI: no CDN (offices may be offline), no inline script.
    web.mount("/api/docs/assets", StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"),
              name="swagger")

    @web.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "api-docs.html", {})

    def signed_in(cookie: str | None) -> bool:
        with read_session(engine()) as session:
            return users.current(session, cookie, core.now()) is not None

    web.add_middleware(Guard, signed_in=signed_in, compose_bytes=MAX_FORM_BYTES, cookie=COOKIE)
    proxies = [p.strip() for p in core.settings.trusted_proxies.split(",") if p.strip()]
    if proxies:  # behind nginx: the client's address and https come from its headers, and only from it
        web.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)

    # -- plumbing ---------------------------------------------------------------------------------

    def engine():
        return core.ready_engine()

    def staff(request: Request) -> Staff:
        with read_session(engine()) as session:
            found = users.current(session, request.cookies.get(COOKIE), core.now())
        if found is None:
            raise NeedLogin
        return Staff(found[0], found[1].csrf)

    async def form(request: Request, who: Staff) -> dict[str, Any]:
        """The posted form, after its CSRF token was checked against the session."""
        data = await request.form()
        sent = str(data.get("csrf") or request.headers.get("X-CSRF-Token") or "")
        if not secrets.compare_digest(sent, who.csrf):
            raise HTTPException(403, "Biểu mẫu đã cũ hoặc không hợp lệ; hãy tải lại trang rồi làm lại.")
        return {key: data.getlist(key) if len(data.getlist(key)) > 1 else data.get(key) for key in data}

    def api_csrf(request: Request, who: Staff) -> None:
        if not secrets.compare_digest(request.headers.get("X-CSRF-Token", ""), who.csrf):
            raise HTTPException(403, "thiếu hoặc sai X-CSRF-Token (lấy từ GET /api/me)")

    def page(request: Request, template: str, who: Staff | None, code: int = 200, **context: Any) -> HTMLResponse:
        return templates.TemplateResponse(request, template, {"who": who, "now": show(core.now()), **context},
                                          status_code=code)

    def back(path: str, note: str = "") -> RedirectResponse:
        return RedirectResponse(path + (f"?{urlencode({'note': note})}" if note else ""), status_code=303)

    @web.exception_handler(NeedLogin)
    async def _need_login(request: Request, _: NeedLogin) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "cần đăng nhập"}, status_code=401)
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @web.exception_handler(CchcError)
    async def _refused(request: Request, exc: CchcError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=400 if isinstance(exc, InputError) else 409)
        return page(request, "message.html", None, code=400 if isinstance(exc, InputError) else 409,
                    title="Không thực hiện được", message=forms.message(exc))

    @web.exception_handler(StarletteHTTPException)  # also the router's own 404 and 405
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        message = GENERIC_HTTP.get((exc.status_code, exc.detail), exc.detail)
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=exc.status_code)
        return page(request, "message.html", None, code=exc.status_code, title="Không thực hiện được",
                    message=message)

    @web.exception_handler(Exception)
    async def _failed(request: Request, exc: Exception) -> Response:  # a fault of ours: said, never shown
        log.exception("web request %s %s failed", request.method, request.url.path)
        message = "Hệ thống gặp lỗi khi xử lý yêu cầu này; việc chưa được thực hiện. Hãy thử lại, hoặc báo quản trị."
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": message}, status_code=500)
        return page(request, "message.html", None, code=500, title="Lỗi hệ thống", message=message)

    @web.exception_handler(RequestValidationError)
    async def _malformed(request: Request, exc: RequestValidationError) -> Response:
        where = ", ".join(".".join(str(part) for part in error["loc"][1:]) for error in exc.errors())
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": f"dữ liệu không hợp lệ ở: {where}", "detail": exc.errors()},
                                status_code=422)
        return page(request, "message.html", None, code=400, title="Địa chỉ không đúng",
                    message=f"Giá trị không hợp lệ ở: {where}. Hãy quay lại trang trước và chọn lại.")

    @web.get("/fonts/{name}", include_in_schema=False)
    def font(name: str) -> FileResponse:
        if name not in FONTS:
            raise HTTPException(404, "Không có tệp này.")
        return FileResponse(FONT_DIR / name, media_type="font/ttf",
                            headers={"Cache-Control": "public, max-age=604800"})

    # -- login ------------------------------------------------------------------------------------

    @web.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request, next: str = "/") -> HTMLResponse:  # noqa: A002
        token = secrets.token_urlsafe(24)  # double-submit: the form and a cookie must agree
        response = page(request, "login.html", None, next=_local(next), csrf=token)
        response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_https(request))
        return response

    @web.post("/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        data = await request.form()
        sent, kept = str(data.get("csrf", "")), request.cookies.get(LOGIN_COOKIE, "")
        if not sent or not secrets.compare_digest(sent, kept):  # an empty token never matches an empty cookie
            raise HTTPException(403, "Biểu mẫu đăng nhập đã cũ; hãy tải lại trang đăng nhập.")
        address = request.client.host if request.client else "?"
        try:
            with write_session(engine()) as session:
                opened = users.log_in(session, name=str(data.get("name", "")), password=str(data.get("password", "")),
                                      address=address, now=core.now())
            problem = None if opened else users.WRONG
        except CchcError as exc:
            opened, problem = None, str(exc)
        if opened is None:
            token = secrets.token_urlsafe(24)
            response = page(request, "login.html", None, code=401, next=_local(str(data.get("next", "/"))),
                            csrf=token, error=problem, name=str(data.get("name", ""))[:60])
            response.set_cookie(LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_https(request))
            return response
        response = RedirectResponse(_local(str(data.get("next", "/"))), status_code=303)
        response.set_cookie(COOKIE, opened.cookie, httponly=True, samesite="strict", secure=_https(request),
                            max_age=users.SESSION_HOURS * 3600)
        response.delete_cookie(LOGIN_COOKIE)
        return response

    @web.post("/logout", include_in_schema=False)
    async def logout(request: Request) -> Response:
        who = staff(request)
        await form(request, who)
        with write_session(engine()) as session:
            users.log_out(session, request.cookies.get(COOKIE), core.now())
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE)
        return response

    # -- dashboard --------------------------------------------------------------------------------

    @web.get("/", response_class=HTMLResponse, include_in_schema=False)
    def dashboard(request: Request) -> HTMLResponse:
        who = staff(request)
        return page(request, "dashboard.html", who, **overview())

    def overview() -> dict[str, Any]:
        from scheduler.compliance import evaluate

        now = core.now()
        day = now.astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
        unit = core.config.default_unit
        loudspeakers = [n for n, ch in core.config.channels_of(unit).items() if ch.slotted]
        with read_session(engine()) as session:
            today = queries.schedule(session, since=day, until=day + timedelta(days=1), unit=unit)
            slots = queries.as_run(session, since=day, until=day + timedelta(days=1))
            try:
                quotas = [evaluate(session, core.config, unit=unit, span=span_at(kind, now), now=now)
                          for kind in ("month", "quarter")]
                plan_problem = None
            except CchcError as exc:  # e.g. no plan for this year yet: the rest of the page still matters
                quotas, plan_problem = [], forms.message(exc)
            attention = session.exec(select(Delivery).where(col(Delivery.state).in_(ATTENTION))
                                     .order_by(col(Delivery.state) != S.NEEDS_PERSON, col(Delivery.due_at).desc())
                                     .limit(50)).all()
            held = holds(session, now)
            beat = session.get(ServiceState, "heartbeat")
            unrecorded = queries.missing_recordings(session, core.config)
            tokens = queries.expiring_tokens(session, now, token_warnings())
            waiting = session.exec(select(func.count()).select_from(Announcement).where(
                Announcement.status == AnnouncementStatus.SUBMITTED)).one()
        return {
            "unit": core.config.units[unit].name, "today": today, "slots": slots,
            "loudspeaker_today": [r for r in today if r["channel"] in loudspeakers],
            "quotas": quotas, "plan_problem": plan_problem,
            "attention": [queries.delivery_row(d) for d in attention],
            "held": [{"channel": h.channel, "why": h.reason, "since": show_vn(h.since),
                      "until": show_vn(h.until) if h.until else None} for h in held],
            "unrecorded": unrecorded, "tokens": tokens,
            "heartbeat": show(beat.updated_at) if beat else None,
            "heartbeat_late": beat is None or now - beat.updated_at > timedelta(minutes=5),
            "waiting": waiting,
        }

    # -- announcements ----------------------------------------------------------------------------

    @web.get("/announcements", response_class=HTMLResponse, include_in_schema=False)
    def announcement_list(request: Request, status: str | None = None, note: str = "") -> HTMLResponse:
        who = staff(request)
        if status and status not in STATUS_TEXT:
            raise InputError("Trạng thái", "hãy chọn trạng thái trong danh sách")
        with read_session(engine()) as session:
            rows = queries.announcements(session, status=status or None)
        return page(request, "announcements.html", who, rows=rows, status=status or "", note=note)

    @web.get("/approvals", response_class=HTMLResponse, include_in_schema=False)
    def approvals(request: Request, note: str = "") -> HTMLResponse:
        who = staff(request)
        with read_session(engine()) as session:
            rows = queries.announcements(session, status="submitted")
        return page(request, "announcements.html", who, rows=rows, status="submitted", note=note, approvals=True)

    @web.get("/announcements/new", response_class=HTMLResponse, include_in_schema=False)
    def new_announcement(request: Request) -> HTMLResponse:
        who = staff(request)
        return compose_page(request, who, {"languages": ["vi"], "priority": "normal", "repeat": "none"})

    @web.get("/announcements/{announcement_id}/edit", response_class=HTMLResponse, include_in_schema=False)
    def edit_announcement(request: Request, announcement_id: RowId) -> HTMLResponse:
        who = staff(request)
        with read_session(engine()) as session:
            detail = queries.announcement(session, announcement_id)
        if detail["status"] == "cancelled":
            raise HTTPException(409, f"Thông báo {detail['ref']} đã bị hủy, không sửa được; hãy soạn thông báo mới.")
        return compose_page(request, who, forms.form_values(detail), ann=detail)

    def compose_page(request: Request, who: Staff, values: dict[str, Any], *, ann: dict | None = None,
                     error: str | None = None) -> HTMLResponse:
        config, unit = core.config, core.config.default_unit
        plan = next((p for p in config.plans.values() if p.unit == unit), None)
        return page(request, "compose.html", who, code=400 if error else 200, values=values, ann=ann, error=error,
                    topics={code: t.text for code, t in plan.topics.items()} if plan else {},
                    channels={n: ch.title for n, ch in config.channels.items() if ch.unit == unit and ch.enabled},
                    previewing={n for n, ch in config.channels.items() if ch.mode == "preview"},
                    repeating=[ch.title for n, ch in config.channels.items()
                               if ch.unit == unit and ch.enabled and config.repeats(n)],
                    translated=forms.TRANSLATED, audio_types=",".join(forms.AUDIO_TYPES),
                    max_audio_mb=announcements.MAX_AUDIO_BYTES // 2**20)

    @web.post("/announcements", include_in_schema=False)
    async def create_announcement(request: Request) -> Response:
        return await save(request, None)

    @web.post("/announcements/{announcement_id}/edit", include_in_schema=False)
    async def update_announcement(request: Request, announcement_id: RowId) -> Response:
        return await save(request, announcement_id)

    async def save(request: Request, announcement_id: int | None) -> Response:
        """Create or change an announcement with its translations and recordings, in one transaction:
        if anything is wrong nothing is stored, and the form comes back as it was typed."""
        who = staff(request)
        values = await form(request, who)
        uploads: dict[str, Path] = {}
        try:
            for lang in forms.TRANSLATED:
                saved = await forms.save_upload(values.get(f"audio_{lang}"), f"audio_{lang}", uploads_dir())
                if saved is not None:
                    uploads[lang] = saved
            ann_id, notes = await run_in_threadpool(store, who, announcement_id, values, uploads)
        except CchcError as exc:
            shown = None
            if announcement_id is not None:
                with read_session(engine()) as session:
                    shown = queries.announcement(session, announcement_id)
            return compose_page(request, who, forms.listed(values), ann=shown, error=forms.message(exc))
        finally:
            for path in uploads.values():
                path.unlink(missing_ok=True)
        return back(f"/announcements/{ann_id}", " ".join(notes))

    def uploads_dir() -> Path:
        return core.settings.data_dir / "uploads"

    def store(who: Staff, announcement_id: int | None, values: dict[str, Any],
              uploads: dict[str, Path]) -> tuple[int, list[str]]:
        from channels.loudspeaker.tts import VoiceError, load_recording

        for lang, path in uploads.items():  # not audio, silent or far too long: refused now, not at broadcast
            try:
                load_recording(path, core.config.speech.recordings)
            except VoiceError as exc:
                raise InputError(f"audio_{lang}", str(exc).replace(path.name, "đã chọn")) from None
        actor, now = who.user.name, core.now()
        with write_session(engine()) as session:
            if announcement_id is None:
                ann = announcements.create(session, config=core.config, draft=forms.draft_from(values),
                                           author=actor, now=now)
                notes = [f"Đã lưu thông báo {ann.ref_code}."]
            else:
                ann = announcements.get(session, announcement_id)
                changes = announcements.edit(session, config=core.config, ann=ann,
                                             draft=forms.draft_from(values, ann), actor=actor, now=now)
                notes = [f"Đã lưu thay đổi của {ann.ref_code}."] + [f"{n[:1].upper()}{n[1:]}." for n in changes]
            for lang in forms.TRANSLATED:
                notes += _translation(session, ann, lang, values, uploads.get(lang), actor, now)
            if values.get("submit") and ann.status in (AnnouncementStatus.DRAFT, AnnouncementStatus.REJECTED):
                announcements.submit(session, ann=ann, actor=actor, now=now)
                notes.append("Đã gửi duyệt.")
            return ann.id, notes

    def _translation(session, ann: Announcement, lang: str, values: dict[str, Any], audio: Path | None, actor: str,
                     now: datetime) -> list[str]:
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

    @web.get("/announcements/{announcement_id}", response_class=HTMLResponse, include_in_schema=False)
    def announcement_page(request: Request, announcement_id: RowId, note: str = "") -> HTMLResponse:
        who = staff(request)
        with read_session(engine()) as session:
            detail = queries.announcement(session, announcement_id)
            posts: dict[str, Any] = {}  # one post (or why there is none) per language, for every channel
            for lang in detail["languages"]:
                try:
                    posts[lang] = queries.preview_post(session, core.config, announcement_id, lang, core.now())
                except CchcError as exc:
                    posts[lang] = forms.message(exc)
        listen = detail["languages"] if loudspeaker_of(detail["channels"]) else []
        return page(request, "announcement.html", who, a=detail, previews=previews(posts, detail["channels"]),
                    listen=listen, note=note)

    def loudspeaker_of(names: list[str]) -> str | None:
        return next((n for n in names if core.config.channels[n].slotted and n in core.channels), None)

    def previews(posts: dict[str, Any], names: list[str]) -> list[dict]:
        """What each channel would send, per language: the approver sees exactly what goes out."""
        shown = []
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
        return shown

    @web.post("/api/preview", tags=["api"])
    async def api_preview(request: Request) -> dict[str, Any]:
        """What each chosen channel would send for the compose form's text, before it is saved (form fields
        as the compose page sends them; ``X-CSRF-Token`` header)."""
        who = staff(request)
        values = await form(request, who)
        unit = core.config.default_unit
        chosen = [values.get("channels")] if isinstance(values.get("channels"), str) else values.get("channels") or []
        names = [n for n in core.config.expand_channels([c for c in chosen if c in core.config.channels
                                                         or c in core.config.groups], unit)
                 if n in core.channels]
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
            posts[lang] = queries.draft_post(core.config, unit=unit, ref="XEM-TRUOC", announcement_id=0, lang=lang,
                                             title=heading, body=body, priority=str(values.get("priority") or "normal"),
                                             topics=[], now=core.now())
        return {"previews": previews(posts, names)}

    @web.get("/announcements/{announcement_id}/audio/{lang}", include_in_schema=False)
    def listen(request: Request, announcement_id: RowId, lang: str) -> Response:
        """The announcement in ``lang`` as the loudspeaker will play it (voice or recording, levelled), as MP3."""
        from channels.loudspeaker.tts import NoVoice

        staff(request)
        if lang not in LANG_TEXT:
            raise HTTPException(404, "Không có tiếng này.")
        with read_session(engine()) as session:
            detail = queries.announcement(session, announcement_id)
            text, recording = queries.spoken_version(session, announcement_id, lang)
        name = loudspeaker_of(detail["channels"]) or core.loudspeaker()
        folder = core.settings.data_dir / "cache" / "listen"
        # Rendered once per version: the recording's stored name carries its digest, the text is in the key.
        key = hashlib.sha256("\n".join([name, lang, text, str(recording or "")]).encode()).hexdigest()
        cached = folder / f"{key}.mp3"
        if not cached.exists():
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder) as tmp:
                try:
                    core.broadcaster().listen(name, text, lang, recording, Path(tmp) / "nghe-thu.mp3")
                except NoVoice as exc:
                    raise HTTPException(409, f"Chưa nghe thử được: {exc}") from None
                os.replace(Path(tmp) / "nghe-thu.mp3", cached)
        return FileResponse(cached, media_type="audio/mpeg", headers={"Cache-Control": "no-store"})

    @web.post("/announcements/{announcement_id}/{action}", include_in_schema=False)
    async def act(request: Request, announcement_id: RowId, action: str) -> Response:
        who = staff(request)
        values = await form(request, who)
        try:
            note = _act(who, announcement_id, action, str(values.get("reason") or ""),
                        str(values.get("content_hash") or ""))
        except ContentChangedError as exc:  # show the new version: the approver reads it before deciding
            return back(f"/announcements/{announcement_id}", forms.message(exc))
        return back(f"/announcements/{announcement_id}", note)

    def _act(who: Staff, announcement_id: int, action: str, reason: str, shown_hash: str = "") -> str:
        if action in users.APPROVER_ACTIONS and not who.approver:
            raise HTTPException(403, "Chỉ người có vai trò Thẩm định hoặc Quản trị mới làm được việc này.")
        actor, now = who.user.name, core.now()
        with write_session(engine()) as session:
            ann = announcements.get(session, announcement_id)
            if action == "submit":
                announcements.submit(session, ann=ann, actor=actor, now=now)
                return "Đã gửi duyệt."
            if action == "approve":
                if not shown_hash:
                    raise InputError("content_hash", "thiếu mã nội dung của bản đã đọc (content_hash); hãy mở lại "
                                                     "trang thông báo, đọc rồi phê duyệt")
                count = len(announcements.approve(session, config=core.config, ann=ann, approver=actor, now=now,
                                                  shown_hash=shown_hash))
                return f"Đã phê duyệt: {count} lượt phát đã được xếp lịch."
            if action == "reject":
                if not reason.strip():
                    raise InputError("reason", "hãy ghi lý do từ chối để người viết sửa")
                announcements.reject(session, ann=ann, approver=actor, reason=reason, now=now)
                return "Đã từ chối và gửi lý do cho người viết."
            if action == "cancel":
                count = announcements.cancel(session, ann=ann, actor=actor, reason=reason, now=now)
                return f"Đã hủy thông báo; {count} lượt chưa phát bị hủy."
        raise HTTPException(404, "Không có thao tác này.")

    # -- the delivery log -------------------------------------------------------------------------

    def _log_filters(channel: str, state: str, lang: str, since: str, until: str) -> dict[str, Any]:
        if channel and channel not in core.config.channels:
            raise InputError("Kênh", f"không có kênh '{channel[:60]}'")
        if state and state not in set(S):
            raise InputError("Trạng thái", "hãy chọn trạng thái trong danh sách")
        if lang and lang not in LANG_TEXT:
            raise InputError("Tiếng", "hãy chọn tiếng Việt, tiếng Thái hoặc tiếng Mông")
        return {"channel": channel or None, "status": state or None, "lang": lang or None,
                "since": local_midnight(parse_local_date(since, "Từ ngày")) if since else None,
                "until": local_midnight(parse_local_date(until, "Đến ngày") + timedelta(days=1)) if until else None}

    @web.get("/deliveries", response_class=HTMLResponse, include_in_schema=False)
    def delivery_log(request: Request, channel: str = "", state: str = "", lang: str = "", since: str = "",
                     until: str = "", page_no: PageNo = 1) -> HTMLResponse:
        who = staff(request)
        filters = _log_filters(channel, state, lang, since, until)
        page_no = max(1, page_no)
        with read_session(engine()) as session:
            total = queries.log_count(session, **filters)
            rows = queries.log_rows(session, **filters, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE,
                                    newest_first=True)
        query = {"channel": channel, "state": state, "lang": lang, "since": since, "until": until}
        return page(request, "deliveries.html", who, rows=rows, total=total, page_no=page_no,
                    pages=max(1, -(-total // PAGE_SIZE)), query=query, query_text=urlencode(query),
                    channels=sorted(core.config.channels))

    @web.get("/deliveries.csv", include_in_schema=False)
    def delivery_csv(request: Request, channel: str = "", state: str = "", lang: str = "", since: str = "",
                     until: str = "") -> Response:
        staff(request)
        with read_session(engine()) as session:
            rows = queries.log_rows(session, **_log_filters(channel, state, lang, since, until))
        out = io.StringIO()
        columns = ["time", "ref", "channel", "lang", "origin", "due", "action", "outcome", "http", "ms", "state",
                   "remote_id", "url", "message"]
        writer = csv.DictWriter(out, columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({key: spreadsheet_cell(value) for key, value in row.items()} for row in rows)
        return Response("\ufeff" + out.getvalue(), media_type="text/csv; charset=utf-8",  # BOM: Excel reads UTF-8
                        headers={"Content-Disposition": 'attachment; filename="nhat-ky-phat.csv"'})

    @web.post("/deliveries/{delivery_id}/settle", include_in_schema=False)
    async def settle(request: Request, delivery_id: RowId) -> Response:
        """A person looked on the platform and says whether the post is there (needs_person)."""
        from scheduler import deliveries

        who = staff(request)
        values = await form(request, who)
        if not who.approver:
            raise HTTPException(403, "Chỉ người có vai trò Thẩm định hoặc Quản trị mới xác nhận được lượt phát.")
        posted = str(values.get("posted") or "") == "1"
        url = str(values.get("url") or "").strip() or None
        with write_session(engine()) as session:
            found = deliveries.find(session, str(delivery_id))
            state = deliveries.settle(session, delivery=found, posted=posted, url=url if posted else None,
                                      actor=who.user.name, now=core.now())
            ref = found.ref_code
        return back("/", f"Đã xác nhận lượt {ref}: {STATE_TEXT[S(state)].lower()}.")

    # -- calendar, reports, channels --------------------------------------------------------------

    @web.get("/calendar", response_class=HTMLResponse, include_in_schema=False)
    def calendar(request: Request, view: str = "week", day: str = "") -> HTMLResponse:
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
        with read_session(engine()) as session:
            by_day = queries.calendar(session, since=local_midnight(start), until=local_midnight(end),
                                      unit=core.config.default_unit)
        days = [start + timedelta(days=n) for n in range((end - start).days)]
        return page(request, "calendar.html", who, view=view, heading=heading, days=days, by_day=by_day,
                    today=today, month=shown.month if view == "month" else None, before=before.isoformat(),
                    after=after.isoformat(), per_day=CALENDAR_ITEMS if view == "month" else None)

    @web.get("/reports", response_class=HTMLResponse, include_in_schema=False)
    def reports_page(request: Request) -> HTMLResponse:
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

    @web.get("/reports/download", include_in_schema=False)
    def report_download(request: Request, period: str, fmt: str = "docx") -> Response:
        """The report to the Department of Home Affairs for ``period``, as the CLI's ``cchc report`` writes it."""
        from scheduler import report as reports

        staff(request)
        if fmt not in ("docx", "xlsx"):
            raise HTTPException(400, "Hãy chọn định dạng DOCX (Word) hoặc XLSX (Excel).")
        span = parse_period(period)
        unit = core.config.default_unit
        with read_session(engine()) as session:
            data = reports.gather(session, core.config, unit=unit, span=span, now=core.now())
        name = f"bao-cao-cchc-{unit}-{span.label}.{fmt}"
        with tempfile.TemporaryDirectory() as tmp:
            content = reports.write(data, fmt, Path(tmp) / name).read_bytes()
        media = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
                 "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}[fmt]
        return Response(content, media_type=media, headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @web.get("/channels", response_class=HTMLResponse, include_in_schema=False)
    def channels_page(request: Request) -> HTMLResponse:
        """Every configured channel and how it has been doing: read only (changes go in config/channels.toml)."""
        who = staff(request)
        now = core.now()
        with read_session(engine()) as session:
            health = queries.channel_health(session, since=now - timedelta(days=7))
            held = {h.channel: h for h in holds(session, now)}
            tokens = {t["channel"]: t for t in queries.expiring_tokens(session, now, token_warnings())}
        rows = [{"name": name, "title": ch.title, "kind": ch.kind, "unit": core.config.units[ch.unit].name,
                 "mode": ch.mode, "enabled": ch.enabled, "languages": ch.languages,
                 "ahead": ch.send_ahead_minutes, "held": held[name].reason if name in held else None,
                 "held_until": show_vn(held[name].until) if name in held and held[name].until else None,
                 "token": tokens.get(name), **health.get(name, {"counts": {}})}
                for name, ch in core.config.channels.items()]
        return page(request, "channels.html", who, rows=rows)

    def token_warnings() -> dict[str, int]:
        """Channels that renew their own tokens, and how many days ahead to warn of expiry."""
        return {name: getattr(channel.settings, "expiry_warning_days", 14) for name, channel in core.channels.items()
                if isinstance(channel, TokenChannel)}

    # -- accounts and the audit trail ---------------------------------------------------------------

    def admin_only(request: Request) -> Staff:
        who = staff(request)
        if not who.admin:
            raise HTTPException(403, "Chỉ người có vai trò Quản trị mới quản lý tài khoản.")
        return who

    @web.get("/users", response_class=HTMLResponse, include_in_schema=False)
    def users_page(request: Request, note: str = "") -> HTMLResponse:
        who = admin_only(request)
        with read_session(engine()) as session:
            rows = users.list_users(session, core.now())
        return page(request, "users.html", who, rows=rows, note=note)

    @web.post("/users", include_in_schema=False)
    async def user_add(request: Request) -> Response:
        who = admin_only(request)
        values = await form(request, who)
        with write_session(engine()) as session:
            added = users.add_user(session, name=str(values.get("name") or ""), role=str(values.get("role") or ""),
                                   password=str(values.get("password") or ""), actor=who.user.name, now=core.now())
        return back("/users", f"Đã tạo tài khoản {added.name}.")

    @web.post("/users/{name}/{action}", include_in_schema=False)
    async def user_change(request: Request, name: str, action: str) -> Response:
        who = admin_only(request)
        values = await form(request, who)
        actor, now = who.user.name, core.now()
        with write_session(engine()) as session:
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

    @web.get("/audit", response_class=HTMLResponse, include_in_schema=False)
    def audit_page(request: Request, actor: str = "", action: str = "", since: str = "", until: str = "",
                   page_no: PageNo = 1) -> HTMLResponse:
        """Who did what to which item, when: approvers and admins."""
        who = staff(request)
        if not who.approver:
            raise HTTPException(403, "Chỉ người có vai trò Thẩm định hoặc Quản trị mới xem nhật ký thao tác.")
        filters = {"actor": actor.strip()[:60] or None, "action": action or None,
                   "since": local_midnight(parse_local_date(since, "Từ ngày")) if since else None,
                   "until": local_midnight(parse_local_date(until, "Đến ngày") + timedelta(days=1)) if until else None}
        if action and action not in labels.AUDIT_ACTION:
            raise InputError("Việc", "hãy chọn việc trong danh sách")
        if "\x00" in actor:
            raise InputError("Người", "tên có ký tự không hợp lệ")
        with read_session(engine()) as session:
            total = audit.count(session, **filters)
            rows = audit.events(session, **filters, limit=PAGE_SIZE, offset=(page_no - 1) * PAGE_SIZE)
        query = {"actor": actor, "action": action, "since": since, "until": until}
        return page(request, "audit.html", who, rows=rows, total=total, page_no=page_no,
                    pages=max(1, -(-total // PAGE_SIZE)), query=query, query_text=urlencode(query))

    # -- JSON API ---------------------------------------------------------------------------------

    @web.get("/api/me", tags=["api"])
    def api_me(request: Request) -> dict[str, Any]:
        """Who is logged in, and the CSRF token to send as ``X-CSRF-Token`` with changes."""
        who = staff(request)
        return {"name": who.user.name, "role": who.user.role, "csrf": who.csrf}

    @web.get("/api/announcements", tags=["api"])
    def api_announcements(request: Request, status: str | None = None) -> list[dict]:
        staff(request)
        with read_session(engine()) as session:
            return queries.announcements(session, status=status)

    @web.post("/api/announcements", tags=["api"], status_code=201)
    def api_create(request: Request, body: DraftIn) -> dict[str, Any]:
        who = staff(request)
        api_csrf(request, who)
        draft = forms.draft_from(body.model_dump(exclude={"submit"}))
        with write_session(engine()) as session:
            ann = announcements.create(session, config=core.config, draft=draft, author=who.user.name,
                                       now=core.now())
            if body.submit:
                announcements.submit(session, ann=ann, actor=who.user.name, now=core.now())
            return {"id": ann.id, "ref": ann.ref_code, "status": ann.status}

    @web.get("/api/announcements/{announcement_id}", tags=["api"])
    def api_announcement(request: Request, announcement_id: RowId) -> dict[str, Any]:
        staff(request)
        with read_session(engine()) as session:
            return queries.announcement(session, announcement_id)

    @web.post("/api/announcements/{announcement_id}/{action}", tags=["api"])
    def api_act(request: Request, announcement_id: RowId, action: str, reason: str = "",
                content_hash: str = "") -> Response:
        """``action``: submit, approve (with ``content_hash``, the hash of the version read, as
        ``GET /api/announcements/{id}`` gives it), reject (with ``reason``) or cancel. An approval of a
        version that changed since is refused (409) with the current version."""
        who = staff(request)
        api_csrf(request, who)
        try:
            return JSONResponse({"result": _act(who, announcement_id, action, reason, content_hash)})
        except ContentChangedError as exc:
            with read_session(engine()) as session:
                current = queries.announcement(session, announcement_id)
            return JSONResponse({"error": str(exc), "content_hash": exc.current_hash, "announcement": current},
                                status_code=409)

    @web.get("/api/deliveries", tags=["api"])
    def api_deliveries(request: Request, channel: str = "", state: str = "", lang: str = "", since: str = "",
                       until: str = "", page_no: PageNo = 1) -> dict[str, Any]:
        staff(request)
        filters = _log_filters(channel, state, lang, since, until)
        with read_session(engine()) as session:
            return {"total": queries.log_count(session, **filters),
                    "rows": queries.log_rows(session, **filters, limit=PAGE_SIZE,
                                             offset=(max(1, page_no) - 1) * PAGE_SIZE, newest_first=True)}

    return web


def web_link(url: str | None) -> bool:
    """Whether a URL that came back from a platform may be shown as a link: http or https only (never
    ``javascript:``, ``data:`` or a file path)."""
    return bool(url) and urlsplit(url.strip()).scheme.lower() in ("http", "https") and "\n" not in url


def _local(path: str) -> str:
    """Only a path on this site may be a redirect target (never ``//elsewhere``)."""
    return path if path.startswith("/") and not path.startswith("//") and "\\" not in path else "/"


def _https(request: Request) -> bool:
    """Over https (directly, or through a trusted proxy: CCHC_TRUSTED_PROXIES), cookies are Secure."""
    return request.url.scheme == "https"
