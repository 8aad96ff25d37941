"""What every request and every answer of the web app passes through (an ASGI middleware).

- **Body limits before reading.** A request that declares a body over its limit is refused (413)
  before a byte of it is read; one sent in chunks is counted as it arrives and stopped at the limit
  (``BodyTooLarge``, answered 413 here), so nothing is spooled to memory or disk. Without a
  session the limit is small (the login form); the compose form may carry two recordings.
- **Headers.** A Content-Security-Policy without inline script, no framing, no MIME sniffing, the
  referrer kept to this site, and ``Cache-Control: no-store`` on pages and API answers (they carry
  the CSRF token or staff data).
- **Redaction.** Every text answer (HTML, JSON, CSV) goes through ``channels.secrets.redact``: a
  secret that reached a message despite everything is still never shown.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.concurrency import run_in_threadpool

from channels.secrets import redact

ANONYMOUS_BYTES = 16 * 1024  # the login form, with room to spare
FORM_BYTES = 256 * 1024  # a signed-in form without files
API_BYTES = 2**20  # JSON
CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "media-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
       "frame-ancestors 'none'")
HEADERS = [(b"content-security-policy", CSP.encode()), (b"x-content-type-options", b"nosniff"),
           (b"referrer-policy", b"same-origin"), (b"x-frame-options", b"DENY")]
# Answers that carry data (pages, JSON, CSV); code and styles (JS, CSS) are files of ours, left as they are.
TEXT = (b"text/html", b"application/json", b"text/csv", b"text/plain")
# the forms that carry files: recordings, evidence, the station's own sound
COMPOSE = re.compile(r"^/(announcements(/\d+/edit)?|activities|channels/[^/]+/station)$")
WITH_BODY = {"POST", "PUT", "PATCH", "DELETE"}
TOO_LARGE = "Yêu cầu quá lớn: tối đa {limit}. Nếu là tệp ghi âm, hãy chọn tệp nhỏ hơn hoặc nén sang MP3."

Scope = dict[str, Any]
Message = dict[str, Any]


class BodyTooLarge(BaseException):  # noqa: N818
    """A body sent in chunks went past its limit while the app was reading it.

    A ``BaseException`` on purpose: FastAPI turns any ``Exception`` met while reading a body into a
    400; this one goes through the app's handlers back to the guard, which answers 413."""

    def __init__(self, limit: int):
        super().__init__(TOO_LARGE.format(limit=size_text(limit)))
        self.limit = limit


def size_text(size: int) -> str:
    return f"{size // 2**20} MB" if size >= 2**20 else f"{size // 1024} KB"


class Guard:
    """The middleware. ``signed_in(cookie)`` says whether a session cookie is open (a database read,
    made only for requests that carry a body); ``compose_bytes`` is the compose form's limit."""

    def __init__(self, app: Callable, *, signed_in: Callable[[str | None], bool], compose_bytes: int,
                 cookie: str):
        self.app, self.signed_in, self.compose_bytes, self.cookie = app, signed_in, compose_bytes, cookie

    async def __call__(self, scope: Scope, receive: Callable[[], Awaitable[Message]],
                       send: Callable[[Message], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = await self._limit(scope)
        declared = _header(scope, b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await _refuse(scope, send, limit)
            return
        seen = 0

        async def bounded() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge(limit)
            return message

        answer = _Answer(scope, send)
        try:
            await self.app(scope, bounded, answer)
        except BodyTooLarge:
            if answer.started:
                raise
            await _refuse(scope, send, limit)

    async def _limit(self, scope: Scope) -> int:
        if scope["method"] not in WITH_BODY:
            return ANONYMOUS_BYTES
        cookie = _cookie(scope, self.cookie)
        if not cookie or not await run_in_threadpool(self.signed_in, cookie):
            return ANONYMOUS_BYTES
        path = scope["path"]
        if COMPOSE.match(path):
            return self.compose_bytes
        return API_BYTES if path.startswith("/api/") else FORM_BYTES


class _Answer:
    """``send`` with the security headers added and text bodies redacted (buffered until complete)."""

    def __init__(self, scope: Scope, send: Callable[[Message], Awaitable[None]]):
        self.scope, self.send = scope, send
        self.start: Message | None = None
        self.chunks: list[bytes] = []
        self.started = False

    async def __call__(self, message: Message) -> None:
        self.started = True
        if message["type"] == "http.response.start":
            headers = [(k, v) for k, v in message.get("headers", []) if k.lower() not in dict(HEADERS)]
            kind = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if kind.startswith(b"text/html") or self.scope["path"].startswith("/api/"):
                headers = [(k, v) for k, v in headers if k.lower() != b"cache-control"] + [
                    (b"cache-control", b"no-store")]
            message = {**message, "headers": headers + HEADERS}
            if not kind.startswith(TEXT):
                await self.send(message)
                return
            self.start = message  # held until the whole body is known: its length may change
            return
        if message["type"] != "http.response.body" or self.start is None:
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        body = redact(b"".join(self.chunks).decode("utf-8", "surrogateescape")).encode("utf-8", "surrogateescape")
        headers = [(k, v) for k, v in self.start["headers"] if k.lower() != b"content-length"]
        await self.send({**self.start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
        await self.send({"type": "http.response.body", "body": body})


async def _refuse(scope: Scope, send: Callable[[Message], Awaitable[None]], limit: int) -> None:
    text = TOO_LARGE.format(limit=size_text(limit))
    if scope["path"].startswith("/api/"):
        body, kind = json.dumps({"error": text}, ensure_ascii=False).encode(), b"application/json"
    else:
        body = (f'<!doctype html><html lang="vi"><meta charset="utf-8"><title>Yêu cầu quá lớn</title>'
                f"<h1>Yêu cầu quá lớn</h1><p>{text}</p></html>").encode()
        kind = b"text/html; charset=utf-8"
    await send({"type": "http.response.start", "status": 413,
                "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close"), *HEADERS]})
    await send({"type": "http.response.body", "body": body})


def _header(scope: Scope, name: bytes) -> str | None:
    return next((v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == name), None)


def _cookie(scope: Scope, name: str) -> str | None:
    raw = _header(scope, b"cookie") or ""
    for part in raw.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None
