"""The staff web app: ``create_web`` builds it around an ``App`` (the security middleware, the error
pages, the assets) and includes the routers of ``scheduler/web/routes/``, one module per area, which
share ``scheduler/web/deps.py``. Pages are rendered on the server (Jinja2, autoescaped) with a little
JavaScript for character counters; every asset is served from here, including the Noto fonts for
Vietnamese and Tai Viet (many offices have poor internet: no CDN).

Security: every page but the login needs a session (cookie ``cchc_session``: HttpOnly, SameSite=Strict,
Secure over https, a new value at each login); every form carries the session's CSRF token, and API
calls that change something send it as ``X-CSRF-Token``; roles decide who may approve; the core
records every action in the audit trail.
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import quote

import fastapi_offline
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from scheduler import announcements, labels
from scheduler.app import App
from scheduler.clock import show, show_vn, vn_input
from scheduler.errors import CchcError, InputError, OtherUnitError
from scheduler.record import users
from scheduler.record.db import read_session
from scheduler.web import forms
from scheduler.web.deps import COOKIE, LANG_TEXT, ROLE_TEXT, STATE_TEXT, STATUS_TEXT, NeedLogin, page, web_link
from scheduler.web.guard import Guard
from scheduler.web.routes import ROUTERS

HERE = Path(__file__).parent
log = logging.getLogger("cchc.web")
GENERIC_HTTP = {(404, "Not Found"): "Không có trang này; hãy kiểm tra lại địa chỉ.",
                (405, "Method Not Allowed"): "Trang này không nhận thao tác đó."}
MAX_FORM_BYTES = 2 * announcements.MAX_AUDIO_BYTES + 2**20  # two recordings and the text


def create_web(core: App) -> FastAPI:
    web = FastAPI(title="CCHC: lịch phát thông tin cải cách hành chính", version="1",
                  docs_url=None, redoc_url=None, openapi_url="/api/openapi.json")
    templates = Jinja2Templates(directory=HERE / "templates")
    templates.env.globals.update(STATUS_TEXT=STATUS_TEXT, STATE_TEXT=STATE_TEXT, LANG_TEXT=LANG_TEXT,
                                 ROLE_TEXT=ROLE_TEXT, OUTCOME_TEXT=labels.OUTCOME, PREVIEW_MODE=labels.PREVIEW_MODE,
                                 MODE_TEXT=labels.MODE, ASRUN_TEXT=labels.AS_RUN_STATUS, AUDIT_TEXT=labels.AUDIT_ACTION,
                                 ACTION_TEXT=labels.ATTEMPT_KIND, DECISION_TEXT=labels.DECISION,
                                 actor_text=labels.actor, show_vn=show_vn, audit_subject=labels.audit_subject,
                                 audit_detail=labels.audit_detail,
                                 show=show)
    templates.env.filters["web_link"] = web_link
    templates.env.filters["vn_input"] = vn_input  # dates typed and shown dd/mm/yyyy, whatever the browser's language
    web.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # The API's page, from the packaged Swagger UI: no CDN (offices may be offline), no inline script.
    web.mount("/api/docs/assets", StaticFiles(directory=Path(fastapi_offline.__file__).parent / "static"),
              name="swagger")

    @web.get("/api/docs", response_class=HTMLResponse, include_in_schema=False)
    def api_docs(request: Request) -> HTMLResponse:
        return templates.TemplateResponse(request, "api-docs.html", {})

    web.state.core, web.state.templates = core, templates

    def signed_in(cookie: str | None) -> bool:
        with read_session(core.ready_engine()) as session:
            return users.current(session, cookie, core.now()) is not None

    web.add_middleware(Guard, signed_in=signed_in, compose_bytes=MAX_FORM_BYTES, cookie=COOKIE)
    proxies = [p.strip() for p in core.settings.trusted_proxies.split(",") if p.strip()]
    if proxies:  # behind nginx: the client's address and https come from its headers, and only from it
        web.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)

    @web.exception_handler(NeedLogin)
    async def _need_login(request: Request, _: NeedLogin) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "cần đăng nhập"}, status_code=401)
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)

    @web.exception_handler(CchcError)
    async def _refused(request: Request, exc: CchcError) -> Response:
        # a wrong value 400; another unit's item, account or channel 403 (scheduler.record.scope); a refused action 409
        code = 400 if isinstance(exc, InputError) else 403 if isinstance(exc, OtherUnitError) else 409
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": str(exc)}, status_code=code)
        return page(request, "message.html", None, code=code, title="Không thực hiện được", message=forms.message(exc))

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

    for router in ROUTERS:
        web.include_router(router)
    return web
