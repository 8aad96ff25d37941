"""A local fake of the WordPress REST API (``api_contracts.md`` section 4)."""

from __future__ import annotations

import base64
import calendar
import html
import json
import time
from urllib.parse import parse_qs, urlparse

from tests.fakes.base import FakeServer, JsonHandler, serve


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
