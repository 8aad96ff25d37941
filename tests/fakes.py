"""A local fake of a webhook receiver that follows the contract in ``channels/webhook.py``.

It keeps a ledger of every item it stored, so tests count duplicates, and can be told to answer
each POST in a scripted way: an HTTP status (with headers), "store then stall" (the request times
out on the client after the item exists), "hang until released", or "drop the connection".
"""

from __future__ import annotations

import base64
import calendar
import email.policy
import hashlib
import hmac
import html
import io
import json
import threading
import time
from datetime import datetime
from email.parser import BytesParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse
from zoneinfo import ZoneInfo


class JsonHandler(BaseHTTPRequestHandler):
    """Request handler base of the fakes: HTTP/1.1, quiet, and one way to answer with JSON.

    A careless platform: with ``server.echo`` set, every JSON answer also carries what the request
    sent (headers, query, body), and with ``server.echo == "fail"`` it is an HTTP 500 as well, so
    every secret a channel sends comes back inside an error message (the secret-leak test).
    """

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # noqa: ANN002
        pass

    def parse_request(self) -> bool:
        ok = super().parse_request()
        if ok and getattr(self.server, "echo", None):  # keep the body to echo it; the connection then closes
            length = int(self.headers.get("Content-Length") or 0)
            self.raw_body = self.rfile.read(length) if length else b""
            self.rfile = io.BytesIO(self.raw_body)
        return ok

    def _reply(self, status: int, body: dict | list | None = None, headers: dict | None = None) -> None:
        echo = getattr(self.server, "echo", None)
        if echo:
            sent = {"path": self.path, "headers": dict(self.headers),
                    "body": getattr(self, "raw_body", b"")[:4000].decode("utf-8", "replace")}
            body = {**body, "echo": sent} if isinstance(body, dict) else {"data": body, "echo": sent}
            if echo == "fail":
                status = 500
        self._send(status, json.dumps(body or {}, ensure_ascii=False), headers)

    def _send(self, status: int, text: str, headers: dict | None = None,
              content_type: str = "application/json; charset=UTF-8") -> None:
        data = text.encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeServer:
    """What every fake shares: it runs in a daemon thread on loopback until ``close``."""

    server: ThreadingHTTPServer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """Start ``handler`` on a free loopback port in a daemon thread; returns the server and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"


class FakeReceiver(FakeServer):
    def __init__(self) -> None:
        self.ledger: dict[str, dict] = {}
        self.stores: dict[str, int] = {}  # how many times each ref was stored (twice: a duplicate post)
        self.requests: list[dict] = []
        # (status, headers) | ("stall", seconds) | ("hang",) | ("hang-before-storing",) | ("drop",)
        self.script: list[tuple] = []
        self.release = threading.Event()
        self.token: str | None = None
        self.delay = 0.0  # seconds each POST takes before the item is stored and answered (a slow platform)
        receiver = self

        class Handler(JsonHandler):
            def do_GET(self):  # noqa: N802
                ref = parse_qs(urlparse(self.path).query).get("ref", [""])[0]
                item = receiver.ledger.get(ref)
                if item is None:
                    self._reply(404, {"error": "not found"})
                else:
                    self._reply(200, item)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length))
                receiver.requests.append({"headers": dict(self.headers), "json": payload, "at": time.monotonic()})
                if receiver.token and self.headers.get("Authorization") != f"Bearer {receiver.token}":
                    self._reply(401, {"error": "invalid token"})
                    return
                step = receiver.script.pop(0) if receiver.script else (200, {})
                if step[0] == "hang-before-storing":
                    receiver.release.wait(30)
                    self.connection.shutdown(2)
                    return
                if step[0] == "drop":
                    self.connection.shutdown(2)
                    return
                time.sleep(receiver.delay)
                item = {"id": f"item-{len(receiver.ledger) + 1}", "url": f"http://fake/{payload['ref']}",
                        "ref": payload["ref"]}
                if isinstance(step[0], int) and step[0] >= 300:
                    self._reply(step[0], {"error": "scripted"}, step[1])
                    return
                receiver.ledger[payload["ref"]] = item
                receiver.stores[payload["ref"]] = receiver.stores.get(payload["ref"], 0) + 1
                if step[0] == "stall":
                    time.sleep(step[1])
                elif step[0] == "hang":
                    receiver.release.wait(30)
                self._reply(200 if not isinstance(step[0], int) else step[0], item)

        self.server, base = serve(Handler)
        self.url = f"{base}/hook"

    def posts_for(self, ref: str) -> int:
        return sum(1 for r in self.requests if r["json"]["ref"] == ref)

    def close(self) -> None:
        self.release.set()
        super().close()


class FakeGoogleTTS(FakeServer):
    """Google Translate's TTS endpoint as gTTS 2.5.4 calls it (research/api_contracts.md §5).

    ``POST /_/TranslateWebserverUi/data/batchexecute`` with form field ``f.req`` (JSON in JSON,
    inner list ``[text, lang, speed, "null"]``); answers the length-prefixed ``)]}'`` frames with
    compact separators and the base64 of a real MP3. ``mode``: "ok", 429, 500, 503, "slow" (sleeps
    past the client's timeout), "empty" (200 without an audio frame). Unknown languages get the
    null-payload frame, as Google does.
    """

    SUPPORTED = {"vi", "en", "th"}

    def __init__(self, mp3: bytes) -> None:
        from urllib.parse import parse_qs as parse_form

        self.mode: object = "ok"
        self.requests: list[list] = []
        audio = base64.b64encode(mp3).decode()
        fake = self

        class Handler(JsonHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                form = parse_form(self.rfile.read(length).decode())
                envelope = json.loads(form["f.req"][0])
                inner = json.loads(envelope[0][0][1])
                fake.requests.append(inner)
                if self.path != "/_/TranslateWebserverUi/data/batchexecute":
                    self._send(404, "Not Found")
                    return
                if isinstance(fake.mode, int):
                    self._send(fake.mode, "error", {"Retry-After": "30"} if fake.mode == 429 else None)
                    return
                if fake.mode == "slow":
                    time.sleep(3)
                if fake.mode == "empty":
                    self._send(200, ")]}'\n\n27\n[[\"e\",4,null,null,5662]\n]\n")
                    return
                payload = "null" if inner[1] not in fake.SUPPORTED else json.dumps(f'["{audio}"]\n')
                frame = f'[["wrb.fr","jQ1olc",{payload},null,null,null,"generic"]]'
                self._send(200, f")]}}'\n\n{len(frame)}\n{frame}\n")

        self.server, base = serve(Handler)
        self.url = f"{base}/"

class FakeRadioPlatform(FakeServer):
    """A smart-radio platform following the generic upload contract of ``HttpPlayout``."""

    def __init__(self, token: str) -> None:

        self.token, self.uploads, self.status = token, [], 201
        self.withdrawn: list[str] = []
        fake = self

        class Handler(JsonHandler):
            def do_DELETE(self):  # noqa: N802
                from urllib.parse import parse_qs, urlsplit

                if self.headers.get("X-Api-Key") != f"Token {fake.token}":
                    return self._reply(401, {"error": "no"})
                ref = parse_qs(urlsplit(self.path).query).get("client_ref", [""])[0]
                kept = [u for u in fake.uploads if u["fields"].get("client_ref") != ref]
                found = len(kept) != len(fake.uploads)
                fake.uploads[:] = kept
                fake.withdrawn.append(ref)
                self._reply(200 if found else 404, {"deleted": found})

            def do_POST(self):  # noqa: N802
                from email.parser import BytesParser
                from email.policy import HTTP

                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                message = BytesParser(policy=HTTP).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + raw)
                fields, files = {}, {}
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    if part.get_filename():
                        files[name] = part.get_payload(decode=True)
                    else:
                        fields[name] = part.get_content()
                authorised = self.headers.get("X-Api-Key") == f"Token {fake.token}"
                status = fake.status if authorised else 401
                body = {"data": {"id": f"prog-{len(fake.uploads) + 1}"}} if status < 300 else {"error": "no"}
                if status < 300:  # the same external id replaces the earlier upload
                    fake.uploads[:] = [u for u in fake.uploads if u["fields"].get("client_ref") is None
                                       or u["fields"].get("client_ref") != fields.get("client_ref")]
                    fake.uploads.append({"fields": fields, "files": files})
                self._reply(status, body)

        self.server, base = serve(Handler)
        self.url = f"{base}/api/programmes"

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
            def _fields(self) -> tuple[str, dict[str, str]]:
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
                path, fields = self._fields()
                fake.requests.append({"method": "GET", "path": path, "fields": fields,
                                      "headers": dict(self.headers)})
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
                path, fields = self._fields()
                fake.requests.append({"method": "DELETE", "path": path, "fields": fields,
                                      "headers": dict(self.headers)})
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
                path, fields = self._fields()
                fake.requests.append({"method": "POST", "path": path, "fields": fields, "at": time.monotonic(),
                                      "headers": dict(self.headers)})
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

class FakeWordPress(FakeServer):
    """A WordPress site's REST API, per research/api_contracts.md §4.6 (as Debian's 6.1 behaves).

    HTTP Basic with an Application Password (spaces ignored); 401 ``rest_cannot_create`` on writes
    and ``rest_not_logged_in`` on ``users/me`` for bad credentials; the account's ``role`` as on the
    real site (tests/test_wordpress_site.py): a contributor gets 403 ``rest_cannot_publish``, only an
    editor may create categories (403 ``rest_cannot_create`` otherwise), anyone may create tags;
    posts 201 with ``Location``, the 60-second future rule, unique
    slugs (``-2``) and no idempotency; ``rest_invalid_param`` for a bad status or non-integer term
    ids; terms found with ``?search=`` and created with 201 or 400 ``term_exists`` with
    ``data.term_id``; ``DELETE`` moves a post to the trash (410 ``rest_already_trashed`` the second
    time, 404 ``rest_post_invalid_id`` for an unknown id); both ``/wp-json/...`` and
    ``/?rest_route=...``; media uploads as a raw body with ``Content-Disposition`` (400 without it or
    without data, 500 ``rest_upload_sideload_error`` for a type not allowed), found again by slug.
    ``script`` scripts the next post creations: ``("http", status, text)`` or
    ``("store-then-drop",)``.
    """

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password, self.role = user, password, "author"
        self.now = time.time  # the site's clock, for the future rule; tests on a frozen clock replace it
        self.posts: list[dict] = []
        self.media: list[dict] = []
        self.terms: dict[str, dict[str, int]] = {"categories": {"Uncategorized": 1}, "tags": {}}
        self.requests: list[dict] = []
        self.script: list[tuple] = []
        fake = self

        class Handler(JsonHandler):
            def _route(self) -> tuple[str, dict[str, str]]:
                url = urlparse(self.path)
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                route = query.pop("rest_route", None) or url.path.removeprefix("/wp-json")
                return route, query

            def _error(self, status: int, code: str, message: str, **data) -> None:
                self._reply(status, {"code": code, "message": message, "data": {"status": status, **data}})

            def _logged_in(self) -> bool:
                header = self.headers.get("Authorization", "")
                if not header.startswith("Basic "):
                    return False
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                return user == fake.user and password.replace(" ", "") == fake.password.replace(" ", "")

            def do_GET(self):  # noqa: N802
                route, query = self._route()
                fake.requests.append({"method": "GET", "route": route, "query": query})
                if route == "/wp/v2/users/me":
                    if not self._logged_in():
                        self._error(401, "rest_not_logged_in", "You are not currently logged in.")
                        return
                    self._reply(200, {"id": 1, "name": fake.user, "roles": [fake.role], "capabilities": {
                        "read": True, "edit_posts": True, "publish_posts": fake.can_publish,
                        "manage_categories": fake.role == "editor"}})
                elif route.removeprefix("/wp/v2/") in fake.terms:
                    words = query.get("search", "").lower()
                    found = [{"id": i, "name": html.escape(n, quote=False), "taxonomy": route[7:]}
                             for n, i in fake.terms[route.removeprefix("/wp/v2/")].items() if words in n.lower()]
                    self._reply(200, found, {"X-WP-Total": str(len(found))})
                elif route == "/wp/v2/media":
                    found = [{k: v for k, v in m.items() if k != "data"} for m in fake.media
                             if "slug" not in query or m["slug"] == query["slug"]]
                    self._reply(200, found, {"X-WP-Total": str(len(found))})
                elif route == "/wp/v2/posts":
                    wanted = set(query.get("status", "publish").split(","))
                    if wanted - {"publish"} and not self._logged_in():
                        self._error(400, "rest_invalid_param", "Invalid parameter(s): status")
                        return
                    found = [p for p in fake.posts if p["status"] in wanted
                             and ("slug" not in query or p["slug"] == query["slug"])]
                    self._reply(200, found, {"X-WP-Total": str(len(found))})
                else:
                    self._error(404, "rest_no_route", "No route was found matching the URL and request method.")

            def do_DELETE(self):  # noqa: N802
                route, _ = self._route()
                fake.requests.append({"method": "DELETE", "route": route})
                post_id = route.removeprefix("/wp/v2/posts/")
                found = [p for p in fake.posts if str(p["id"]) == post_id]
                if not self._logged_in():
                    self._error(401, "rest_cannot_delete", "Sorry, you are not allowed to delete this post.")
                elif not found:
                    self._error(404, "rest_post_invalid_id", "Invalid post ID.")
                elif found[0]["status"] == "trash":
                    self._error(410, "rest_already_trashed", "The post has already been deleted.")
                else:
                    found[0].update(status="trash", slug=f"{found[0]['slug']}__trashed")
                    self._reply(200, found[0])

            def do_POST(self):  # noqa: N802
                route, query = self._route()
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if route == "/wp/v2/media":
                    self._upload(raw)
                    return
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    self._error(400, "rest_invalid_json", "Invalid JSON body passed.")
                    return
                fake.requests.append({"method": "POST", "route": route, "json": body})
                taxonomy = route.removeprefix("/wp/v2/")
                if not self._logged_in():
                    self._error(401, "rest_cannot_create", "Sorry, you are not allowed to create posts as this user.")
                elif taxonomy == "categories" and fake.role != "editor":
                    self._error(403, "rest_cannot_create",
                                "Sorry, you are not allowed to create terms in this taxonomy.")
                elif taxonomy in fake.terms:
                    names = fake.terms[taxonomy]
                    if body["name"] in names:
                        self._error(400, "term_exists", "A term with the name provided already exists.",
                                    term_id=names[body["name"]])
                        return
                    names[body["name"]] = 100 + sum(len(t) for t in fake.terms.values())
                    self._reply(201, {"id": names[body["name"]], "name": body["name"], "taxonomy": taxonomy})
                elif route == "/wp/v2/posts":
                    self._create(body)
                else:
                    self._error(404, "rest_no_route", "No route was found matching the URL and request method.")

            def _upload(self, raw: bytes) -> None:
                fake.requests.append({"method": "POST", "route": "/wp/v2/media", "size": len(raw)})
                disposition = self.headers.get("Content-Disposition", "")
                kind = self.headers.get("Content-Type", "")
                if not self._logged_in():
                    self._error(401, "rest_cannot_create", "Sorry, you are not allowed to upload media as this user.")
                elif "filename=" not in disposition:
                    self._error(400, "rest_upload_no_content_disposition", "No Content-Disposition supplied.")
                elif not raw:
                    self._error(400, "rest_upload_no_data", "No data supplied.")
                elif kind not in ("audio/mpeg", "image/png", "image/jpeg"):
                    self._error(500, "rest_upload_sideload_error", "Sorry, you are not allowed to upload this file "
                                                                   "type.")
                else:
                    name = disposition.split("filename=", 1)[1].strip('"')
                    taken = {m["slug"] for m in fake.media}
                    base = name.rsplit(".", 1)[0]
                    unique = base if base not in taken else f"{base}-{len(fake.media) + 1}"
                    media_id = 500 + len(fake.media)
                    item = {"id": media_id, "slug": unique, "mime_type": kind, "media_type": "file",
                            "source_url": f"{fake.url}/wp-content/uploads/2025/09/{unique}.mp3", "data": raw}
                    fake.media.append(item)
                    self._reply(201, {k: v for k, v in item.items() if k != "data"},
                                {"Location": f"{fake.url}/wp-json/wp/v2/media/{media_id}"})

            def _create(self, body: dict) -> None:
                status = body.get("status", "draft")
                if status not in ("publish", "future", "draft", "pending", "private"):
                    self._error(400, "rest_invalid_param", "Invalid parameter(s): status",
                                params={"status": "status is not one of publish, future, draft, pending, and private."},
                                details={"status": {"code": "rest_not_in_enum", "message": "", "data": None}})
                    return
                for key in ("categories", "tags"):
                    bad = [v for v in body.get(key, []) if not isinstance(v, int)]
                    if bad:
                        self._error(400, "rest_invalid_param", f"Invalid parameter(s): {key}",
                                    params={key: f"{key}[0] is not of type integer."})
                        return
                if status in ("publish", "future") and not fake.can_publish:
                    self._error(403, "rest_cannot_publish", "Sorry, you are not allowed to publish posts in this "
                                                            "post type.")
                    return
                step = fake.script.pop(0) if fake.script else ("ok",)
                if step[0] == "http":
                    self._send(step[1], step[2], content_type="text/html")
                    return
                when = body.get("date_gmt")
                ahead = calendar.timegm(time.strptime(when, "%Y-%m-%dT%H:%M:%S")) - fake.now() if when else 0
                if status in ("publish", "future"):  # wp_insert_post's rule
                    status = "future" if ahead >= 60 else "publish"
                base = body.get("slug") or "post"
                taken = {p["slug"] for p in fake.posts}
                unique = base if base not in taken else next(f"{base}-{n}" for n in range(2, 999)
                                                             if f"{base}-{n}" not in taken)
                post_id = 10 + len(fake.posts)
                item = {"id": post_id, "status": status, "slug": unique, "date_gmt": when, "date": when,
                        "link": f"{fake.url}/?p={post_id}", "title": {"raw": body.get("title", "")},
                        "content": {"raw": body.get("content", "")}, "categories": body.get("categories", []),
                        "tags": body.get("tags", [])}
                fake.posts.append(item)
                if step[0] == "store-then-drop":
                    self.connection.shutdown(2)
                    return
                self._reply(201, item, {"Location": f"{fake.url}/wp-json/wp/v2/posts/{post_id}"})

        self.server, self.url = serve(Handler)

    @property
    def can_publish(self) -> bool:
        return self.role in ("author", "editor")


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


class FakeTikTok(FakeServer):
    """TikTok's Content Posting API (Direct Post, FILE_UPLOAD) and OAuth, per research/api_contracts.md §3.6.

    Bearer tokens; every answer carries ``error.code/message/log_id`` (``"ok"`` on success); per-token
    limits per minute (creator_info 20, init 6, status 30) answered with 429 ``rate_limit_exceeded``.
    ``audited = False`` allows only ``SELF_ONLY``. Init checks the title in UTF-16 units (2200) and
    the chunk arithmetic; the upload URL takes ``PUT`` chunks in order with ``Content-Range`` (206,
    then 201; 416 out of order; 403 after an hour). Status goes PROCESSING_UPLOAD → PUBLISH_COMPLETE
    after ``processing_polls`` fetches, or FAILED with ``fail_reason``. OAuth rotates refresh tokens.
    ``script`` scripts the next inits: ``("error", status, code, message)``; ``upload_script`` the next
    chunks: ``("http", status)`` or ``("store-then-drop",)`` (the chunk is kept, the answer lost).
    """

    def __init__(self, client_key: str, client_secret: str, refresh_token: str) -> None:
        self.client_key, self.client_secret = client_key, client_secret
        self.refresh_tokens = {refresh_token}
        self.access_tokens: set[str] = set()
        self.issued = 0
        self.audited = False
        self.options = ["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "SELF_ONLY"]
        self.max_duration = 600
        self.publishes: dict[str, dict] = {}
        self.requests: list[dict] = []
        self.script: list[tuple] = []
        self.upload_script: list[tuple] = []
        self.processing_polls = 0
        self.fail_reason: str | None = None
        self.calls: dict[tuple[str, str], list[float]] = {}
        fake = self
        limits = {"creator_info/query": 20, "video/init": 6, "status/fetch": 30}

        class Handler(JsonHandler):
            def _answer(self, status: int, data: dict | None = None, code: str = "ok", message: str = "") -> None:
                self._reply(status, {"data": data or {}, "error": {"code": code, "message": message,
                                                                    "log_id": "202611231200000A1B2C3D4E5F"}})

            def do_POST(self):  # noqa: N802
                url = urlparse(self.path)
                raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.requests.append({"method": "POST", "path": url.path, "headers": dict(self.headers), "raw": raw})
                if url.path == "/v2/oauth/token/":
                    self._refresh({k: v[0] for k, v in parse_qs(raw.decode()).items()})
                    return
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                if token not in fake.access_tokens:
                    self._answer(401, code="access_token_invalid",
                                 message="The access token is invalid or not found in the request.")
                    return
                name = url.path.removeprefix("/v2/post/publish/").strip("/")
                window = [t for t in fake.calls.get((token, name), []) if t > time.time() - 60]
                fake.calls[(token, name)] = window + [time.time()]
                if name in limits and len(window) >= limits[name]:
                    self._answer(429, code="rate_limit_exceeded", message="API rate limit exceeded")
                    return
                body = json.loads(raw or b"{}")
                if name == "creator_info/query":
                    self._answer(200, {"creator_username": "ubndxamuongla", "creator_nickname": "UBND xã Mường La",
                                       "privacy_level_options": fake.options, "comment_disabled": False,
                                       "duet_disabled": False, "stitch_disabled": True,
                                       "max_video_post_duration_sec": fake.max_duration})
                elif name == "video/init":
                    self._init(body)
                elif name == "status/fetch":
                    self._status(body.get("publish_id"))
                else:
                    self._answer(404, code="invalid_param", message="unknown endpoint")

            def _refresh(self, form: dict) -> None:
                if form.get("client_key") != fake.client_key or form.get("client_secret") != fake.client_secret:
                    self._reply(401, {"error": "invalid_client", "error_description": "Client key or secret is "
                                      "invalid.", "log_id": "2026"})
                    return
                if form.get("refresh_token") not in fake.refresh_tokens:
                    self._reply(400, {"error": "invalid_grant", "error_description": "Refresh token is invalid or "
                                      "expired.", "log_id": "2026"})
                    return
                fake.refresh_tokens.discard(form["refresh_token"])  # rotated: the old one stops working
                fake.issued += 1
                access, refresh = f"act.tk{fake.issued}Qw9", f"rft.tk{fake.issued}Zp4"
                fake.access_tokens = {access}
                fake.refresh_tokens.add(refresh)
                self._reply(200, {"access_token": access, "expires_in": 7200, "refresh_token": refresh,
                                  "refresh_expires_in": 15552000, "open_id": "open-1", "scope": "video.publish",
                                  "token_type": "Bearer"})

            def _init(self, body: dict) -> None:
                step = fake.script.pop(0) if fake.script else ("ok",)
                if step[0] == "error":
                    self._answer(step[1], code=step[2], message=step[3])
                    return
                info, source = body.get("post_info", {}), body.get("source_info", {})
                privacy = info.get("privacy_level")
                if not fake.audited and privacy != "SELF_ONLY":
                    self._answer(403, code="unaudited_client_can_only_post_to_private_accounts",
                                 message="Please review our integration guidelines.")
                    return
                if privacy not in fake.options:
                    self._answer(403, code="privacy_level_option_mismatch", message="privacy_level is not allowed")
                    return
                if len(info.get("title", "").encode("utf-16-le")) // 2 > 2200:
                    self._answer(400, code="invalid_param", message="title is too long")
                    return
                size, chunk, count = (source.get(k) for k in ("video_size", "chunk_size", "total_chunk_count"))
                small = 5 * 1024 * 1024
                fits = (size < small and chunk == size and count == 1) or (
                    size >= small and small <= chunk <= 64 * 1024 * 1024 and count == size // chunk)
                if source.get("source") != "FILE_UPLOAD" or not fits:
                    self._answer(400, code="invalid_param", message="chunk_size or total_chunk_count is invalid")
                    return
                publish_id = f"v_pub_file~v2-1.{7000 + len(fake.publishes)}"
                upload_id = f"u{len(fake.publishes)}"
                fake.publishes[publish_id] = {"upload_id": upload_id, "size": size, "data": b"", "title": info["title"],
                                              "privacy": privacy, "issued": time.time(), "polls": 0,
                                              "status": "PROCESSING_UPLOAD"}
                self._answer(200, {"publish_id": publish_id,
                                   "upload_url": f"{fake.url}/upload/?upload_id={upload_id}&upload_token=Xza123"})

            def _status(self, publish_id: str | None) -> None:
                item = fake.publishes.get(publish_id or "")
                if item is None:
                    self._answer(400, code="invalid_publish_id", message="publish_id is invalid")
                    return
                if item["status"] == "PROCESSING_UPLOAD" and len(item["data"]) == item["size"]:
                    item["polls"] += 1
                    if item["polls"] > fake.processing_polls:
                        item["status"] = "FAILED" if fake.fail_reason else "PUBLISH_COMPLETE"
                public = item["status"] == "PUBLISH_COMPLETE" and item["privacy"] != "SELF_ONLY"
                self._answer(200, {"status": item["status"], "fail_reason": fake.fail_reason or "",
                                   "publicaly_available_post_id": [7300000000000000001] if public else [],
                                   "uploaded_bytes": len(item["data"])})

            def do_PUT(self):  # noqa: N802
                query = {k: v[0] for k, v in parse_qs(urlparse(self.path).query).items()}
                data = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                fake.requests.append({"method": "PUT", "path": self.path, "headers": dict(self.headers),
                                      "size": len(data)})
                found = [p for p in fake.publishes.values() if p["upload_id"] == query.get("upload_id")]
                if not found:
                    self._send(404, "")
                    return
                item = found[0]
                if time.time() - item["issued"] > 3600:
                    self._send(403, "")
                    return
                step = fake.upload_script.pop(0) if fake.upload_script else ("ok",)
                if step[0] == "http":
                    self._send(step[1], "")
                    return
                first, last, total = map(int, self.headers.get("Content-Range", "bytes 0-0/0")[6:]
                                         .replace("/", "-").split("-"))
                if first != len(item["data"]) or total != item["size"] or last - first + 1 != len(data):
                    self._send(416, "", {"Content-Range": f"bytes 0-{len(item['data']) - 1}/{item['size']}"})
                    return
                item["data"] += data
                if step[0] == "store-then-drop":
                    self.connection.shutdown(2)
                    return
                done = len(item["data"]) == item["size"]
                self._send(201 if done else 206, "",
                           {"Content-Range": f"bytes 0-{len(item['data']) - 1}/{item['size']}"})

        self.server, self.url = serve(Handler)

    def posts(self) -> list[dict]:
        """What TikTok publishes: every fully uploaded video, whether or not anyone asked its status."""
        return [p for p in self.publishes.values() if len(p["data"]) == p["size"] and not self.fail_reason]
