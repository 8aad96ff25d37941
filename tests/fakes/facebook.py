"""A local fake of the Facebook Graph API for a Page (``api_contracts.md`` section 1)."""

from __future__ import annotations

import base64
import email.policy
import hashlib
import hmac
import json
import time
from email.parser import BytesParser
from urllib.parse import parse_qs, urlparse

from tests.fakes.base import FakeServer, JsonHandler, serve


class FakeGraph(FakeServer):
    """The Facebook Graph API for one Page, per research/api_contracts.md §1.7.

    ``POST /{ver}/{page}/feed`` (form, query or Bearer token), ``GET /{ver}/{page}/feed``,
    ``POST /{ver}/{page}/photos`` (multipart ``source`` and ``caption``; answers ``id`` and ``post_id``),
    ``GET /{ver}/debug_token``; ``published=false`` with ``scheduled_publish_time`` (10 minutes to 30
    days ahead, else #100) keeps a post in ``GET /{ver}/{page}/scheduled_posts`` until its time, then
    in the feed; ``DELETE /{ver}/{post}`` answers ``{"success": true}``, or #100/33 for an id it does
    not have. Errors use Graph's envelope with HTTP 400 (190 also sends
    ``WWW-Authenticate``), a repeated message gets #506, usage goes in ``X-Business-Use-Case-Usage``
    and never ``Retry-After``. ``script`` scripts the next POSTs: ``("error", code, subcode, message)``,
    ``("http", status, text)`` or ``("store-then-drop",)`` (stored, then the connection closes
    unanswered). Posting is not idempotent: two requests make two posts.
    """

    def __init__(self, page_id: str, token: str, app_secret: str | None = None) -> None:
        self.page_id, self.token, self.app_secret = page_id, token, app_secret
        self.posts: list[dict] = []
        self.requests: list[dict] = []
        self.script: list[tuple] = []
        self.usage: dict | None = None  # the X-Business-Use-Case-Usage entry to send, if any
        self.now = time.time  # Facebook's clock, for scheduled posts; tests on a frozen clock replace it
        self.token_info = {"type": "PAGE", "profile_id": page_id, "is_valid": True, "expires_at": 0,
                           "scopes": ["pages_manage_posts", "pages_read_engagement", "pages_show_list"]}
        fake = self

        class Handler(JsonHandler):
            def _received(self) -> tuple[str, dict[str, str]]:
                """The request's path and fields (query, form or multipart), kept in ``fake.requests``."""
                url = urlparse(self.path)
                fields = {k: v[0] for k, v in parse_qs(url.query).items()}
                if self.command == "POST":
                    raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                    kind = self.headers.get("Content-Type", "")
                    if kind.startswith("multipart/form-data"):
                        message = BytesParser(policy=email.policy.HTTP).parsebytes(
                            f"Content-Type: {kind}\r\n\r\n".encode() + raw)
                        for part in message.iter_parts():
                            name = part.get_param("name", header="content-disposition")
                            payload = part.get_payload(decode=True)
                            fields[name] = payload if part.get_filename() else payload.decode()
                    else:
                        fields.update({k: v[0] for k, v in parse_qs(raw.decode(), keep_blank_values=True).items()})
                fake.requests.append({"method": self.command, "path": url.path, "fields": fields,
                                      "at": time.monotonic(), "headers": dict(self.headers)})
                return url.path, fields

            def _error(self, code: int, message: str, sub: int | None = None, status: int = 400) -> None:
                body = {"error": {"message": message, "type": "OAuthException", "code": code,
                                  "fbtrace_id": "AbCdEf123"}}
                if sub:
                    body["error"]["error_subcode"] = sub
                headers = dict(self._usage())
                if code == 190:
                    headers["WWW-Authenticate"] = f'OAuth "Facebook Platform" "invalid_token" "{message}"'
                self._reply(status, body, headers)

            def _usage(self) -> dict[str, str]:
                if fake.usage is None:
                    return {}
                return {"X-Business-Use-Case-Usage": json.dumps({fake.page_id: [{"type": "pages", **fake.usage}]})}

            def _authorised(self, fields: dict[str, str]) -> bool:
                bearer = self.headers.get("Authorization", "").removeprefix("Bearer ")
                token = fields.get("access_token") or bearer
                if token != fake.token:
                    self._error(190, "Error validating access token: Session has expired on Saturday, "
                                     "13-Jun-26 05:00:00 PDT.", 463)
                    return False
                if fake.app_secret:
                    proof = hmac.new(fake.app_secret.encode(), token.encode(), hashlib.sha256).hexdigest()
                    if fields.get("appsecret_proof") != proof:
                        self._error(100, "Invalid appsecret_proof provided in the API argument")
                        return False
                return True

            def do_GET(self):  # noqa: N802
                path, fields = self._received()
                if not self._authorised(fields):
                    return
                if path.endswith("/debug_token"):
                    self._reply(200, {"data": {"app_id": "438", "application": "CCHC", **fake.token_info}})
                elif path.endswith((f"/{fake.page_id}/feed", f"/{fake.page_id}/scheduled_posts")):
                    limit = min(int(fields.get("limit", 25)), 100)  # Graph pages: at most 100 a page
                    start = int(base64.b64decode(fields["after"]).decode()) if fields.get("after") else 0
                    waiting = path.endswith("/scheduled_posts")
                    shown = [{k: v for k, v in p.items() if k not in ("photo", "publish_at")}
                             for p in reversed(fake.posts) if (p.get("publish_at", 0) > fake.now()) == waiting]
                    page = {"data": shown[start:start + limit]}
                    if start + limit < len(shown):  # cursor paging, as Graph does it
                        after = base64.b64encode(str(start + limit).encode()).decode()
                        page["paging"] = {"cursors": {"after": after}, "next": f"{fake.url}{path}?after={after}"}
                    self._reply(200, page, self._usage())
                else:
                    self._error(100, "Unknown path components", status=404)

            def do_DELETE(self):  # noqa: N802
                path, fields = self._received()
                if not self._authorised(fields):
                    return
                post_id = path.rsplit("/", 1)[-1]
                found = [p for p in fake.posts if p["id"] == post_id]
                if not found:
                    self._error(100, f"Unsupported delete request. Object with ID '{post_id}' does not exist, "
                                     "cannot be loaded due to missing permissions, or does not support this "
                                     "operation.", 33)
                    return
                fake.posts.remove(found[0])
                self._reply(200, {"success": True}, self._usage())

            def do_POST(self):  # noqa: N802
                path, fields = self._received()
                edge = path.rsplit("/", 1)[-1]
                if not path.endswith((f"/{fake.page_id}/feed", f"/{fake.page_id}/photos")):
                    self._error(100, "Unknown path components", status=404)
                    return
                if not self._authorised(fields):
                    return
                if edge == "photos":
                    if not isinstance(fields.get("source"), bytes) and not fields.get("url"):
                        self._error(324, "(#324) Requires upload file")
                        return
                    fields["message"] = fields.pop("caption", "")
                step = fake.script.pop(0) if fake.script else ("ok",)
                if step[0] == "error":
                    self._error(step[1], step[3], step[2])
                    return
                if step[0] == "http":
                    self._send(step[1], step[2], content_type="text/html")
                    return
                if fake.posts and fake.posts[-1]["message"] == fields.get("message"):
                    self._error(506, "(#506) Duplicate status message")
                    return
                publish_at = 0
                if fields.get("published") == "false" and "scheduled_publish_time" in fields:
                    publish_at = int(fields["scheduled_publish_time"])
                    if not 600 <= publish_at - fake.now() <= 30 * 86400:
                        self._error(100, "(#100) The specified scheduled publish time is invalid.")
                        return
                post_id = f"{fake.page_id}_{1000 + len(fake.posts)}"
                fake.posts.append({"id": post_id, "message": fields.get("message", ""), "link": fields.get("link"),
                                   "photo": fields.get("source"), "publish_at": publish_at,
                                   "permalink_url": f"https://www.facebook.com/{fake.page_id}/posts/{post_id}",
                                   "created_time": time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime())})
                if step[0] == "store-then-drop":
                    self.connection.shutdown(2)
                    return
                answer = {"id": post_id}
                if edge == "photos":
                    answer = {"id": f"{5000 + len(fake.posts)}", "post_id": post_id}
                self._reply(200, answer, self._usage())

        self.server, self.url = serve(Handler)
