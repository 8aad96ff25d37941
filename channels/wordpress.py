"""A WordPress site (many commune portals run on it) through its REST API (kind ``wordpress``).

Settings: ``url`` (the site), ``rest_route`` (true when pretty permalinks are off: ``/?rest_route=``
instead of ``/wp-json``), ``user`` and ``password_env`` (the environment variable holding an
Application Password), ``category``, ``tag_prefix``, ``audio``, ``timeout_seconds``.

What it does, per research/api_contracts.md §4 (observed on Debian's WordPress 6.1):

- ``POST /wp/v2/posts`` (JSON, HTTP Basic with the Application Password) with the title and body
  escaped as text, the reference code in the content, the ``slug`` made from the reference, the
  category and one tag per plan topic (looked up with ``?search=``; created when missing, where the
  account may: an Author may create tags, not categories; ``term_exists`` gives the existing id).
  A post that goes out now is dated by the site.
- Scheduling (``send_ahead_minutes`` on the channel): a post due 2 minutes or more ahead (WordPress's
  own rule is 60 s; the rest is for clocks) is sent as ``future`` with ``date_gmt`` the due time,
  and WordPress publishes it then. ``retract`` moves such a post to the trash
  (``DELETE /wp/v2/posts/<id>``), where the site's editors can still see it.
- With ``audio`` (the default), the item's voice (the loudspeaker's TTS chain for Vietnamese, the
  translator's recording otherwise) is uploaded to ``/wp/v2/media`` as MP3, named after the
  reference (a retry finds it by slug), and the post opens with an audio player block.
- WordPress has no idempotency: reconcile asks ``GET /wp/v2/posts?slug=<slug>`` with every status.
- Errors by ``{"code", "message", "data": {"status"}}``: 401 (``rest_cannot_create``,
  ``incorrect_password``, ...) → the credentials; 403 ``rest_cannot_publish`` → the account's role;
  other 4xx → refused; 5xx → unknown (reconcile).
- Check: ``GET /wp/v2/users/me?context=edit``: the login works and the account may publish.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from pydantic import Field
from pydub import AudioSegment

from channels.base import Failed, Found, Outcome, OutgoingRequest, Post, Receipt, Reconciled, Wiring
from channels.files import slug
from channels.http import HttpChannel, HttpSettings, call, classify_status
from channels.render import plain
from channels.secrets import ENV_NAME, mask, read_secret, redact, remember
from channels.video import LOUDNESS

REAUTH_CODES = {"rest_cannot_create", "rest_not_logged_in", "incorrect_password", "invalid_username",
                "rest_forbidden", "rest_cannot_publish"}


class WordPressSettings(HttpSettings):
    url: str = Field(pattern=r"^https?://")
    rest_route: bool = False
    user: str = Field(min_length=1)
    password_env: str = Field(pattern=ENV_NAME)
    category: str = "Cải cách hành chính"
    tag_prefix: str = "CCHC mục "
    audio: bool = True


class WordPressChannel(HttpChannel):
    """Publishes each delivery as a post on a WordPress site (kind ``wordpress``); see the module docstring."""

    kind = "wordpress"
    category = "website"
    label = "Cổng thông tin điện tử (WordPress)"
    Settings = WordPressSettings
    supports_preview = True
    speaks = True
    schedules_ahead = timedelta(minutes=2)  # wp_insert_post publishes at once what is due within 60 s

    def __init__(self, name: str, settings: dict[str, Any], *, data_dir: Path, wiring: Wiring | None = None):
        super().__init__(name, settings, data_dir=data_dir, wiring=wiring)
        self._terms: dict[tuple[str, str], int] = {}  # (taxonomy, name) -> id, filled on first use

    # -- addresses and credentials ----------------------------------------------------------------

    def _endpoint(self, route: str) -> tuple[str, dict[str, str]]:
        base = self.settings.url.rstrip("/")
        if self.settings.rest_route:
            return f"{base}/", {"rest_route": f"/wp/v2/{route}"}
        return f"{base}/wp-json/wp/v2/{route}", {}

    def _auth(self) -> tuple[str, str] | None:
        password = read_secret(self.settings.password_env)
        if not password:
            return None
        sent = password.replace(" ", "")  # WordPress shows it in groups of four; it is sent without spaces
        remember(sent, base64.b64encode(f"{self.settings.user}:{sent}".encode()).decode())  # and the Basic header
        return self.settings.user, sent

    def _get(self, route: str, params: dict[str, Any], auth: tuple[str, str]) -> requests.Response:
        url, base = self._endpoint(route)
        return self._session.get(url, params={**base, **params}, auth=auth, timeout=self.settings.timeout_seconds)

    def _post(self, route: str, body: dict[str, Any], auth: tuple[str, str]) -> requests.Response:
        url, base = self._endpoint(route)
        return self._session.post(url, params=base, json=body, auth=auth, timeout=self.send_timeout())

    # -- the post -----------------------------------------------------------------------------------

    def _body(self, post: Post, categories: list[int], tags: list[int], audio_url: str | None = None
              ) -> dict[str, Any]:
        paragraphs = [p.strip() for p in plain(post.body).split("\n\n") if p.strip()]
        content = ""
        if audio_url:  # WordPress's own audio block, so the editor shows it as a player too
            content += (f'<!-- wp:audio --><figure class="wp-block-audio"><audio controls preload="none" '
                        f'src="{html.escape(audio_url)}"></audio><figcaption>Nghe bản tin</figcaption></figure>'
                        "<!-- /wp:audio -->")
        content += "".join(f"<p>{html.escape(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)
        content += f'<p class="cchc-ref">Mã tin: {html.escape(post.ref_code)}</p>'
        body = {"title": html.escape(plain(post.title)), "content": content, "slug": slug(post.ref_code),
                "status": "publish", "categories": categories, "tags": tags}
        if self.scheduled_on_platform(post):
            body.update(status="future", date_gmt=post.due_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
        # A post that goes out now carries no date: the site's own clock dates it, so a late retry is not
        # back-dated below newer posts, and a server clock ahead of the site's cannot make it "future".
        return body

    def preview_text(self, post: Post) -> str:
        return self._body(post, [0], [0] * len(post.topics))["content"]

    def request_for(self, post: Post) -> OutgoingRequest:
        url, params = self._endpoint("posts")
        password = read_secret(self.settings.password_env) or ""
        body = self._body(post, [0], [0] * len(post.topics))
        body["categories"] = [f"<id of '{self.settings.category}'>"]
        body["tags"] = [f"<id of '{self.settings.tag_prefix}{code}'>" for code in post.topics]
        query = f"?rest_route={params['rest_route']}" if params else ""
        return OutgoingRequest("POST", url + query, {"Authorization": f"Basic {self.settings.user}:{mask(password)}",
                                                     "Content-Type": "application/json"}, body)

    def send(self, post: Post) -> Receipt:
        auth = self._auth()
        if auth is None:
            return Receipt(Outcome.NEEDS_REAUTH, message=f"chưa đặt biến môi trường {self.settings.password_env} "
                                                         "(mật khẩu ứng dụng WordPress)")
        try:
            categories = [self._term("categories", self.settings.category, auth)]
            tags = [self._term("tags", f"{self.settings.tag_prefix}{code}", auth) for code in post.topics]
            audio_url, note = self._audio(post, auth) if self.settings.audio else (None, "")
        except Failed as exc:
            return exc.receipt
        receipt = call(lambda: self._post("posts", self._body(post, categories, tags, audio_url), auth),
                       self._receipt, self._classify)
        return replace(receipt, message="; ".join(m for m in (receipt.message, note) if m)) if note else receipt

    def _audio(self, post: Post, auth: tuple[str, str]) -> tuple[str | None, str]:
        """The address of the item's voice in the site's media library, uploaded once.

        The file is named after the reference, so a retry finds the upload of an earlier attempt
        instead of adding a second copy. An item without a voice is posted without a player.
        """
        from channels.loudspeaker.tts import NoVoice, voice_post

        name = f"{slug(post.ref_code)}-audio"
        try:
            response = self._get("media", {"slug": name, "context": "edit"}, auth)
            if response.status_code == 200 and response.json():
                return response.json()[0]["source_url"], ""
        except (requests.RequestException, ValueError, KeyError):
            pass  # not found out: upload
        if self.voices is None:
            return None, "chưa đăng kèm âm thanh: kênh chưa được nối với bộ đọc"
        try:
            clip = voice_post(self.voices, post)
        except NoVoice as exc:
            return None, f"đăng không kèm âm thanh: {exc}"
        mp3 = io.BytesIO()
        AudioSegment.from_wav(clip.path).export(mp3, format="mp3", bitrate="64k", parameters=["-af", LOUDNESS])
        url, params = self._endpoint("media")
        receipt = call(lambda: self._session.post(
            url, params=params, data=mp3.getvalue(), auth=auth, timeout=self.send_timeout(),
            headers={"Content-Type": "audio/mpeg", "Content-Disposition": f'attachment; filename="{name}.mp3"'}),
            lambda r: Receipt(Outcome.SENT, url=r.json()["source_url"]), self._classify)
        if receipt.outcome != Outcome.SENT:
            if receipt.outcome == Outcome.NEEDS_REAUTH:
                raise Failed(receipt)
            return None, f"đăng không kèm âm thanh: WordPress không nhận tệp ({receipt.message})"
        return receipt.url, ""

    def _receipt(self, response: requests.Response) -> Receipt:
        data = response.json()
        status = data.get("status")
        future = f"WordPress hẹn đăng lúc {_site_time(data.get('date'))} (giờ của trang)"
        message = {"publish": "", "future": future}.get(status, f"WordPress: trạng thái {status}")
        return Receipt(Outcome.SENT, remote_id=str(data["id"]), url=data.get("link"), http_status=response.status_code,
                       message=message, scheduled=status == "future")

    def retract(self, post: Post, remote_id: str) -> Receipt:
        auth = self._auth()
        if auth is None:
            return Receipt(Outcome.NEEDS_REAUTH, message=f"chưa đặt biến môi trường {self.settings.password_env}")
        url, params = self._endpoint(f"posts/{int(remote_id)}")

        def _gone(response: requests.Response) -> Receipt | None:
            if _code(response) in ("rest_post_invalid_id", "rest_already_trashed"):
                return None  # never there (404), or already in the trash (410): gone either way
            return self._classify(response)

        return call(lambda: self._session.delete(url, params=params, auth=auth, timeout=self.send_timeout()),
                    lambda r: Receipt(Outcome.SENT, remote_id=remote_id, http_status=r.status_code,
                                      message="đã chuyển bài vào thùng rác của trang"), _gone)

    def _term(self, taxonomy: str, name: str, auth: tuple[str, str]) -> int:
        """The id of the category or tag ``name``: looked up, and created when the site has none.

        Authors, the usual role of a posting account, may create tags but not categories: a missing
        category is the site administrator's to create, and the channel waits until then.
        """
        key = (taxonomy, name)
        if key in self._terms:
            return self._terms[key]
        found = self._find_term(taxonomy, name, auth)
        if found is None:
            receipt = call(lambda: self._post(taxonomy, {"name": name}, auth), self._term_id, self._term_classify)
            if taxonomy == "categories" and receipt.outcome == Outcome.NEEDS_REAUTH and receipt.http_status == 403:
                raise Failed(replace(receipt, message=self._no_category(name, receipt.message)))
            if receipt.outcome != Outcome.SENT or receipt.remote_id is None:
                raise Failed(receipt)
            found = int(receipt.remote_id)
        self._terms[key] = found
        return found

    def _find_term(self, taxonomy: str, name: str, auth: tuple[str, str]) -> int | None:
        terms: list[dict[str, Any]] = []

        def _read(response: requests.Response) -> Receipt:
            terms.extend(response.json())
            return Receipt(Outcome.SENT)

        receipt = call(lambda: self._get(taxonomy, {"search": name, "per_page": 100}, auth), _read, self._classify)
        if receipt.outcome != Outcome.SENT:
            raise Failed(receipt)
        # search matches parts of names and slugs; names come back HTML-escaped ("&amp;")
        return next((int(t["id"]) for t in terms if html.unescape(str(t.get("name", ""))) == name), None)

    def _no_category(self, name: str, said: str) -> str:
        return (f"chuyên mục '{name}' chưa có trên trang và tài khoản {self.settings.user} không được tạo "
                f"chuyên mục: nhờ quản trị trang tạo chuyên mục này (Bài viết > Chuyên mục) rồi chạy "
                f"cchc channel check {self.name} ({said})")

    def _term_id(self, response: requests.Response) -> Receipt:
        data = response.json()
        term = data.get("id") if response.status_code < 300 else data["data"]["term_id"]
        return Receipt(Outcome.SENT, remote_id=str(term))

    def _term_classify(self, response: requests.Response) -> Receipt | None:
        if response.status_code == 400 and _code(response) == "term_exists":
            return None  # the existing term's id is in the answer
        return self._classify(response)

    def reconcile(self, post: Post, remote_id: str | None) -> Reconciled:
        auth = self._auth()
        if auth is None:
            return Reconciled(Found.UNKNOWN, message=f"chưa đặt biến môi trường {self.settings.password_env}")
        try:
            response = self._get("posts", {"slug": slug(post.ref_code), "context": "edit",
                                           "status": "publish,future,draft,pending,private"}, auth)
        except requests.RequestException as exc:
            return Reconciled(Found.UNKNOWN, message=f"không hỏi được WordPress: {type(exc).__name__}")
        failure = self._classify(response)
        if failure is not None:
            return Reconciled(Found.UNKNOWN, message=failure.message)
        found = response.json()
        if not found:
            return Reconciled(Found.ABSENT)
        return Reconciled(Found.PRESENT, str(found[0]["id"]), found[0].get("link"),
                          scheduled=found[0].get("status") == "future")

    def _classify(self, response: requests.Response) -> Receipt | None:
        status = response.status_code
        if 200 <= status < 300:
            return None
        code = _code(response)
        if code is None or status >= 500:
            return classify_status(response)
        said = f"WordPress {status} {code}: {redact(_message(response))[:300]}"
        if code in REAUTH_CODES or status in (401, 403):
            # 401: the login did not work (WordPress treats a bad Application Password as anonymous);
            # 403: it worked, and the account's role may not do this.
            if code == "rest_cannot_publish":
                fix = "tài khoản chưa có quyền đăng bài (cần vai trò Tác giả hoặc Biên tập viên)"
            elif status == 403:
                fix = f"tài khoản {self.settings.user} không đủ quyền cho việc này"
            else:
                fix = f"tên đăng nhập hoặc mật khẩu ứng dụng ({self.settings.password_env}) không đúng"
            return Receipt(Outcome.NEEDS_REAUTH, http_status=status, error_code=code, message=f"{fix} ({said})")
        if status == 429:
            return classify_status(response)
        return Receipt(Outcome.PERMANENT, http_status=status, error_code=code, message=f"bị từ chối ({said})")

    def check(self) -> list[str]:
        auth = self._auth()
        if auth is None:
            return [f"chưa đặt biến môi trường {self.settings.password_env}: hãy tạo Mật khẩu ứng dụng (Hồ sơ > "
                    "Application Passwords) cho tài khoản và đặt vào biến đó"]
        try:
            response = self._get("users/me", {"context": "edit"}, auth)
        except requests.RequestException as exc:
            return [f"không kết nối được tới {self.settings.url}: {type(exc).__name__}"]
        failure = self._classify(response)
        if failure is not None:
            hint = (" (qua http, WordPress chỉ nhận mật khẩu ứng dụng khi trang ở chế độ 'local'; hãy dùng https)"
                    if self.settings.url.startswith("http://") and response.status_code == 401 else "")
            return [failure.message + hint]
        capabilities = response.json().get("capabilities", {})
        if not capabilities.get("publish_posts"):
            return [f"tài khoản {self.settings.user} không có quyền đăng bài (publish_posts); hãy đổi vai trò "
                    "thành Tác giả hoặc Biên tập viên"]
        if not capabilities.get("manage_categories"):
            try:
                category = self._find_term("categories", self.settings.category, auth)
            except Failed as exc:
                return [exc.receipt.message]
            if category is None:
                return [self._no_category(self.settings.category, "cần vai trò Biên tập viên để tự tạo")]
        return []


def _code(response: requests.Response) -> str | None:
    try:
        return str(response.json()["code"])
    except (ValueError, KeyError, TypeError):
        return None


def _message(response: requests.Response) -> str:
    try:
        return str(response.json().get("message", ""))
    except (ValueError, AttributeError):
        return ""


def _site_time(text: object) -> str:
    """The site's local time of a post (``2026-11-24T07:30:00``) as staff write it: 24/11/2026 07:30."""
    try:
        return datetime.fromisoformat(str(text)).strftime("%d/%m/%Y %H:%M")
    except ValueError:
        return str(text)
