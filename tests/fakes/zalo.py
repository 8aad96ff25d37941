"""A local fake of the Zalo OA Open API and its OAuth server (``api_contracts.md`` section 2)."""

from __future__ import annotations

import json
import time
from datetime import datetime
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo

from tests.fakes.base import FakeServer, JsonHandler, serve


class FakeZalo(FakeServer):
    """Zalo's OA Open API and its OAuth v4 token endpoint, per research/api_contracts.md §2.8.

    Every answer is HTTP 200, errors as ``{"error": <negative>, "message"}``. The token endpoint
    needs the ``secret_key`` header, rotates refresh tokens (an old one gets -14014) and gives
    ``expires_in`` as a string. ``expire_access()`` makes the current access token answer -216.
    Articles: create answers ``data.token``; verify answers -214 ``processing_polls`` times, then
    ``data.id``; create checks the title, author and description limits (-201). Broadcasts carry an
    article that passed verify and are refused at night (-234, by ``now``). ``script`` scripts the
    next creates: ``("error", code, message)``, ``("http", status, text)`` or ``("store-then-drop",)``.
    The shape of ``getslice`` (``data.medias``) follows the Java SDK sample; Zalo documents no more.
    """

    def __init__(self, app_id: str, secret_key: str, refresh_token: str) -> None:
        self.app_id, self.secret_key = app_id, secret_key
        self.refresh_tokens = {refresh_token}
        self.access_tokens: set[str] = set()
        self.issued = 0
        self.articles: list[dict] = []
        self.broadcasts: list[dict] = []
        self.requests: list[dict] = []
        self.script: list[tuple] = []
        self.processing_polls = 0
        self.refresh_delay = 0.0
        self.now = lambda: datetime.now(ZoneInfo("Asia/Ho_Chi_Minh"))
        fake = self

        class Handler(JsonHandler):
            def _ok(self, data: dict) -> None:
                self._reply(200, {"error": 0, "message": "Success", "data": data},
                            {"X-RateLimit-Limit": "4000", "X-RateLimit-Remain": "3999"})

            def _error(self, code: int, message: str) -> None:
                self._reply(200, {"error": code, "message": message})

            def _read(self) -> tuple[str, dict, bytes]:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0))) if self.command == "POST" else b""
                fake.requests.append({"method": self.command, "path": url.path, "query": query, "at": time.monotonic(),
                                      "headers": dict(self.headers), "raw": raw})
                return url.path, query, raw

            def do_GET(self):  # noqa: N802
                path, query, _ = self._read()
                if not self._authorised():
                    return
                if path == "/v2.0/oa/getoa":
                    self._ok({"oa_id": "579745863508352884", "name": "UBND xã Mường La", "num_follower": 1204})
                elif path == "/v2.0/article/getslice":
                    items = list(reversed(fake.articles))[int(query.get("offset", 0)):][:int(query.get("limit", 10))]
                    self._ok({"medias": [{"id": a["id"], "title": a["title"], "status": a["status"]} for a in items],
                              "total": len(fake.articles)})
                elif path == "/v2.0/article/getdetail":
                    found = [a for a in fake.articles if a["id"] == query.get("id")]
                    self._ok(found[0]) if found else self._error(-201, "id is invalid!")
                else:
                    self._error(-209, "Not supported this api")

            def _authorised(self) -> bool:
                if self.headers.get("access_token") not in fake.access_tokens:
                    self._error(-216, "Access token is invalid")
                    return False
                return True

            def do_POST(self):  # noqa: N802
                path, _, raw = self._read()
                if path == "/v4/oa/access_token":
                    self._refresh(raw)
                    return
                if not self._authorised():
                    return
                body = json.loads(raw or b"{}")
                if path == "/v2.0/article/create":
                    self._create(body)
                elif path == "/v2.0/article/verify":
                    found = [a for a in fake.articles if a["token"] == body.get("token")]
                    if not found:
                        self._error(-201, "token is invalid!")
                    elif found[0]["polls"] < fake.processing_polls:
                        found[0]["polls"] += 1
                        self._error(-214, "Article is being processed")
                    else:
                        found[0]["verified"] = True
                        self._ok({"id": found[0]["id"]})
                elif path == "/v2.0/oa/message":
                    self._broadcast(body)
                else:
                    self._error(-209, "Not supported this api")

            def _refresh(self, raw: bytes) -> None:
                form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
                if self.headers.get("secret_key") != fake.secret_key or form.get("app_id") != fake.app_id:
                    self._reply(200, {"error": -14002, "error_name": "Invalid appId",
                                      "error_description": "app_id or secret_key is invalid"})
                    return
                time.sleep(fake.refresh_delay)
                if form.get("refresh_token") not in fake.refresh_tokens:
                    self._reply(200, {"error": -14014, "error_name": "Invalid refresh token",
                                      "error_description": "Refresh token is invalid or expired"})
                    return
                fake.refresh_tokens.discard(form["refresh_token"])  # single use
                fake.issued += 1
                access, refresh = f"zacc-{fake.issued}-Xy7pQ", f"zref-{fake.issued}-Lm3kW"
                fake.access_tokens = {access}
                fake.refresh_tokens.add(refresh)
                self._reply(200, {"access_token": access, "refresh_token": refresh, "expires_in": "90000"})

            def _create(self, body: dict) -> None:
                limits = {"title": 150, "author": 50, "description": 300}
                for field, limit in limits.items():
                    if not body.get(field) or len(body[field]) > limit:
                        self._error(-201, f"{field} is invalid!")
                        return
                if not (body.get("cover") or {}).get("photo_url"):
                    self._error(-201, "cover is invalid!")
                    return
                step = fake.script.pop(0) if fake.script else ("ok",)
                if step[0] == "error":
                    self._error(step[1], step[2])
                    return
                if step[0] == "http":
                    self._send(step[1], step[2], content_type="text/html")
                    return
                n = len(fake.articles) + 1
                fake.articles.append({"id": f"a{n:04d}e5", "token": f"tok-{n}", "polls": 0, "verified": False,
                                      "title": body["title"], "author": body["author"],
                                      "description": body["description"], "body": body.get("body", []),
                                      "status": body.get("status", "hide"), "cover": body["cover"],
                                      "link": f"https://zalo.me/article/a{n:04d}e5"})
                if step[0] == "store-then-drop":
                    self.connection.shutdown(2)
                    return
                self._ok({"token": f"tok-{n}"})

            def _broadcast(self, body: dict) -> None:
                elements = body["message"]["attachment"]["payload"]["elements"]
                ids = {a["id"] for a in fake.articles if a["verified"]}
                if any(e.get("media_type") != "article" or e.get("attachment_id") not in ids for e in elements):
                    self._error(-201, "attachment_id is invalid!")
                    return
                hour = fake.now().hour
                if hour >= 22 or hour < 6:
                    self._error(-234, "This message cannot be sent at night (10:00PM - 6:00AM)")
                    return
                fake.broadcasts.append(body)
                self._ok({"message_id": f"m{len(fake.broadcasts)}"})

        self.server, self.url = serve(Handler)

    def expire_access(self) -> None:
        self.access_tokens = set()
