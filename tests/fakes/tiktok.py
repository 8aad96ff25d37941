"""A local fake of the TikTok Content Posting API and its OAuth server (``api_contracts.md`` section 3)."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlparse

from tests.fakes.base import FakeServer, JsonHandler, serve


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
