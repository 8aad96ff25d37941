"""Facebook Page posts through the Graph API (kind ``facebook``).

Settings: ``page_id``; ``token_env`` (the environment variable holding the Page access token);
``app_secret_env`` (optional: the app secret, to send ``appsecret_proof``); ``graph_url`` and
``api_version``; ``hashtags``; ``max_chars``; ``timeout_seconds``; ``reconcile_posts``;
``expiry_warning_days``; ``photo`` (post a title card picture with the text as its caption).

What it does, per the Graph API documentation (research/api_contracts.md §1):

- With ``photo = true``: ``POST {page}/photos`` (multipart) with the square title card of
  ``channels.video`` as ``source`` and the same text as ``caption``; the post id is ``post_id``.
- Otherwise ``POST {graph}/{version}/{page}/feed`` with the form fields ``message`` (title, body cut to
  ``max_chars``, a link back to the website article when it is published, hashtags and the
  reference code in brackets), ``link``, and ``access_token`` + ``appsecret_proof`` in the **body**:
  the token never appears in a URL, so never in a log line.
- Errors by the envelope ``{"error": {"code", "error_subcode", "message"}}``: 190/102 invalid token
  and 10/200-299 missing permission → the channel needs a person (new token); 4, 17, 32, 341, 613,
  80001 → rate limited, waiting ``estimated_time_to_regain_access`` from
  ``X-Business-Use-Case-Usage`` (Graph sends no ``Retry-After``); 368 → blocked for policy, a
  person must look; 1, 2 → transient; 506 (duplicate of the last post) → unknown, so reconcile
  looks for our earlier post instead of posting again.
- Scheduling (``send_ahead_minutes`` on the channel): a post due 12 minutes or more ahead (Facebook
  takes 10 minutes to 30 days) is sent with ``published=false`` and ``scheduled_publish_time`` (Unix
  seconds), and Facebook publishes it then. ``retract`` is ``DELETE {post-id}``; #100 with subcode
  33 (no such object) means it is already gone.
- Reconcile: ``GET {page}/feed`` (token in the ``Authorization`` header) and look for the reference
  code among the last ``reconcile_posts`` posts; before the due time, ``{page}/scheduled_posts`` too.
- Check: ``GET /debug_token``: valid, a Page token, for this page, with ``pages_manage_posts``, and
  when it expires.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import requests
from pydantic import Field

from channels.base import Found, Outcome, OutgoingRequest, Post, Receipt, Reconciled
from channels.files import slug
from channels.http import HttpChannel, HttpSettings, call, classify_status
from channels.render import marker, plain, social_text
from channels.secrets import ENV_NAME, mask, read_secret, redact, remember
from channels.video import SQUARE, MediaError, title_card

REAUTH = {102, 190}
RATE = {4, 17, 32, 341, 613, 80001}
TRANSIENT = {1, 2}
NEEDED_SCOPES = ("pages_manage_posts", "pages_read_engagement")

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")  # messages for staff give times as they read them


class FacebookSettings(HttpSettings):
    page_id: str = Field(pattern=r"^\d+$")
    token_env: str = Field(pattern=ENV_NAME)
    app_secret_env: str | None = Field(default=None, pattern=ENV_NAME)
    graph_url: str = Field(default="https://graph.facebook.com", pattern=r"^https?://")
    api_version: str = Field(default="v21.0", pattern=r"^v\d+\.\d+$")
    hashtags: list[str] = ["CCHC", "CaiCachHanhChinh"]
    max_chars: int = Field(default=5000, ge=300, le=63206)
    reconcile_posts: int = Field(default=50, ge=5, le=100)
    photo: bool = False
    expiry_warning_days: int = Field(default=7, ge=1, le=60)


class FacebookChannel(HttpChannel):
    """Posts each delivery to a Facebook Page's feed (kind ``facebook``); see the module docstring."""

    kind = "facebook"
    category = "social"
    label = "Facebook"
    Settings = FacebookSettings
    supports_preview = True
    links_to_website = True
    schedules_ahead = timedelta(minutes=12)  # Facebook takes 10 minutes to 30 days ahead

    # -- the request ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        s = self.settings
        return f"{s.graph_url.rstrip('/')}/{s.api_version}/{path}"

    def _proof(self, token: str) -> dict[str, str]:
        secret = read_secret(self.settings.app_secret_env) if self.settings.app_secret_env else None
        if not secret:
            return {}
        proof = hmac.new(secret.encode(), token.encode(), hashlib.sha256).hexdigest()
        remember(proof)  # derived from both secrets: as secret as they are
        return {"appsecret_proof": proof}

    def preview_text(self, post: Post) -> str:
        return social_text(post, limit=self.settings.max_chars, hashtags=self.settings.hashtags,
                           link=post.extra.get("website_url"))

    def _form(self, post: Post, token: str) -> dict[str, str]:
        link = post.extra.get("website_url")
        form = {"message": self.preview_text(post)}
        if link:
            form["link"] = link
        if self.scheduled_on_platform(post):
            form.update(published="false", scheduled_publish_time=str(int(post.due_at.timestamp())))
        return {**form, "access_token": token, **self._proof(token)}

    def _photo_form(self, post: Post, token: str) -> dict[str, str]:
        """A photo post: the message becomes the caption; a link is only text in it."""
        form = self._form(post, token)
        form.pop("link", None)
        return {"caption": form.pop("message"), **form}

    def card(self, post: Post) -> Path:
        """The square title card of a photo post, drawn once per delivery."""
        out = self.data_dir / "cache" / "facebook" / f"{slug(post.ref_code)}.png"
        return out if out.is_file() else title_card(plain(post.title), post.unit_name, post.ref_code, out, size=SQUARE)

    def request_for(self, post: Post) -> OutgoingRequest:
        token = read_secret(self.settings.token_env) or ""
        if self.settings.photo:
            form = self._photo_form(post, token) | {"source": "<thẻ tiêu đề vuông 1080×1080, PNG>"}
            edge, kind = "photos", "multipart/form-data"
        else:
            form, edge, kind = self._form(post, token), "feed", "application/x-www-form-urlencoded"
        shown = {key: (mask(value) if key in ("access_token", "appsecret_proof") else value)
                 for key, value in form.items()}
        return OutgoingRequest("POST", self._url(f"{self.settings.page_id}/{edge}"), {"Content-Type": kind}, shown)

    # -- send and reconcile -----------------------------------------------------------------------

    def send(self, post: Post) -> Receipt:
        receipt = self._send(post)
        if receipt.outcome == Outcome.SENT and self.scheduled_on_platform(post):
            shown = post.due_at.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")
            return replace(receipt, scheduled=True, message=f"Facebook hẹn đăng lúc {shown}")
        return receipt

    def _send(self, post: Post) -> Receipt:
        token = read_secret(self.settings.token_env)
        if not token:
            return Receipt(Outcome.NEEDS_REAUTH, message=f"chưa đặt biến môi trường {self.settings.token_env} "
                                                         "(mã truy cập Trang Facebook)")
        if self.settings.photo:
            try:
                card = self.card(post).read_bytes()
            except MediaError as exc:
                return Receipt(Outcome.PERMANENT, message=f"không vẽ được ảnh của bài: {exc}")
            return call(
                lambda: self._session.post(self._url(f"{self.settings.page_id}/photos"),
                                           data=self._photo_form(post, token),
                                           files={"source": (f"{slug(post.ref_code)}.png", card, "image/png")},
                                           timeout=self.send_timeout()),
                self._receipt, self._classify)
        return call(
            lambda: self._session.post(self._url(f"{self.settings.page_id}/feed"), data=self._form(post, token),
                                       timeout=self.send_timeout()),
            self._receipt, self._classify)

    def _receipt(self, response: requests.Response) -> Receipt:
        data = response.json()
        post_id = str(data.get("post_id") or data["id"])  # a photo answers its own id and the post's
        return Receipt(Outcome.SENT, remote_id=post_id, url=_permalink(post_id), http_status=response.status_code,
                       channel_wait=usage_wait(response))

    def reconcile(self, post: Post, remote_id: str | None) -> Reconciled:
        token = read_secret(self.settings.token_env)
        if not token:
            return Reconciled(Found.UNKNOWN, message=f"chưa đặt biến môi trường {self.settings.token_env}")
        # Before its due time a post sent ahead waits among the Page's scheduled posts, not in its feed.
        edges = ["feed", "scheduled_posts"] if post.due_at > post.sent_at else ["feed"]
        wanted = marker(post)
        for edge in edges:
            after = None
            for _ in range(MAX_RECONCILE_PAGES):  # page back until the posts are older than our first send
                params = {"fields": "id,message,permalink_url,created_time", "limit": self.settings.reconcile_posts,
                          **self._proof(token), **({"after": after} if after else {})}
                try:
                    response = self._session.get(self._url(f"{self.settings.page_id}/{edge}"), params=params,
                                                 headers={"Authorization": f"Bearer {token}"},
                                                 timeout=self.settings.timeout_seconds)
                except requests.RequestException as exc:
                    return Reconciled(Found.UNKNOWN, message=f"không hỏi được Facebook: {type(exc).__name__}")
                failure = self._classify(response)
                if failure is not None:
                    return Reconciled(Found.UNKNOWN, message=failure.message)
                page = response.json()
                items = page.get("data", [])
                for item in items:
                    if (remote_id and item.get("id") == remote_id) or wanted in (item.get("message") or ""):
                        return Reconciled(Found.PRESENT, str(item["id"]),
                                          item.get("permalink_url") or _permalink(item["id"]),
                                          scheduled=edge == "scheduled_posts")
                after = (page.get("paging") or {}).get("cursors", {}).get("after")
                if not after or not items or _older(items[-1], post):
                    break
            else:
                return Reconciled(Found.UNKNOWN, message=f"đã xem {MAX_RECONCILE_PAGES} trang bài của Trang mà chưa "
                                                         "tới lúc gửi; sẽ hỏi lại")
        return Reconciled(Found.ABSENT)

    def retract(self, post: Post, remote_id: str) -> Receipt:
        token = read_secret(self.settings.token_env)
        if not token:
            return Receipt(Outcome.NEEDS_REAUTH, message=f"chưa đặt biến môi trường {self.settings.token_env}")

        def _gone(response: requests.Response) -> Receipt | None:
            failure = self._classify(response)
            if failure is not None and failure.error_code == "100" and _subcode(response) == 33:
                return None  # no such post: never there, or deleted already
            return failure

        return call(lambda: self._session.delete(self._url(remote_id), params=self._proof(token),
                                                 headers={"Authorization": f"Bearer {token}"},
                                                 timeout=self.send_timeout()),
                    lambda r: Receipt(Outcome.SENT, remote_id=remote_id, http_status=r.status_code,
                                      message="đã xóa bài hẹn giờ khỏi Trang"), _gone)

    # -- errors -----------------------------------------------------------------------------------

    def _classify(self, response: requests.Response) -> Receipt | None:
        failure = self._failure(response)
        wait = usage_wait(response)
        return replace(failure, channel_wait=wait) if failure is not None and wait else failure

    def _failure(self, response: requests.Response) -> Receipt | None:
        if 200 <= response.status_code < 300:
            return None
        try:
            error = response.json()["error"]
            code = int(error["code"])
        except (ValueError, KeyError, TypeError):
            return classify_status(response)  # an HTML 502 from a proxy, an empty 503
        sub = error.get("error_subcode")
        said = f"Facebook #{code}{f'/{sub}' if sub else ''}: {redact(str(error.get('message', '')))[:300]}"
        status, ident = response.status_code, str(code)
        if code in REAUTH:
            return Receipt(Outcome.NEEDS_REAUTH, http_status=status, error_code=ident,
                           message=f"mã truy cập Trang không còn hiệu lực; hãy tạo mã mới và đặt lại biến "
                                   f"{self.settings.token_env} ({said})")
        if code == 10 or 200 <= code <= 299:
            return Receipt(Outcome.NEEDS_REAUTH, http_status=status, error_code=ident,
                           message=f"mã truy cập thiếu quyền đăng bài (pages_manage_posts); hãy cấp lại quyền "
                                   f"cho ứng dụng trên Trang ({said})")
        if code in RATE:
            return Receipt(Outcome.RATE_LIMITED, http_status=status, error_code=ident, retry_after=_regain(response),
                           message=f"Facebook giới hạn số lần gọi; sẽ đăng lại sau ({said})")
        if code == 368:
            return Receipt(Outcome.PERMANENT, http_status=status, error_code=ident,
                           message=f"Facebook tạm chặn Trang vì nội dung bị coi là vi phạm chính sách; cần người "
                                   f"kiểm tra nội dung và Trang trước khi đăng lại ({said})")
        if code in TRANSIENT:
            return Receipt(Outcome.RETRYABLE, http_status=status, error_code=ident,
                           message=f"Facebook tạm thời lỗi ({said})")
        if code == 506:
            return Receipt(Outcome.UNKNOWN, http_status=status, error_code=ident,
                           message=f"Facebook báo trùng bài vừa đăng: có thể lần gửi trước đã thành công ({said})")
        if status >= 500:
            return Receipt(Outcome.UNKNOWN, http_status=status, error_code=ident, message=said)
        return Receipt(Outcome.PERMANENT, http_status=status, error_code=ident, message=f"bị từ chối ({said})")

    # -- health -----------------------------------------------------------------------------------

    def check(self) -> list[str]:
        token = read_secret(self.settings.token_env)
        if not token:
            return [f"chưa đặt biến môi trường {self.settings.token_env}: hãy đặt mã truy cập Trang "
                    "(Page access token) vào biến đó"]
        try:
            response = self._session.get(self._url("debug_token"), params={"input_token": token, **self._proof(token)},
                                         headers={"Authorization": f"Bearer {token}"},
                                         timeout=self.settings.timeout_seconds)
        except requests.RequestException as exc:
            return [f"không kết nối được tới Facebook ({self.settings.graph_url}): {type(exc).__name__}"]
        failure = self._classify(response)
        if failure is not None:
            return [failure.message]
        data = response.json().get("data", {})
        problems = []
        if not data.get("is_valid"):
            return [f"mã truy cập không còn hiệu lực; hãy tạo mã mới và đặt lại biến {self.settings.token_env}"]
        if data.get("type") != "PAGE":
            problems.append(f"đây là mã loại {data.get('type')}, không phải mã truy cập Trang (Page access token); "
                            "hãy lấy mã của Trang")
        elif str(data.get("profile_id")) != self.settings.page_id:
            problems.append(f"mã thuộc Trang {data.get('profile_id')}, không phải Trang {self.settings.page_id} "
                            "khai báo trong config/channels.toml")
        missing = [scope for scope in NEEDED_SCOPES if scope not in data.get("scopes", [])]
        if missing:
            problems.append(f"mã thiếu quyền {', '.join(missing)}; hãy cấp các quyền này cho ứng dụng rồi tạo mã mới")
        expires = int(data.get("expires_at") or 0)  # 0: a long-lived Page token that does not expire
        if expires:
            days = (expires - self.clock().timestamp()) / 86400
            if days <= self.settings.expiry_warning_days:
                when = datetime.fromtimestamp(expires, UTC).astimezone().strftime("%d/%m/%Y %H:%M")
                problems.append(f"mã truy cập hết hạn lúc {when} (còn {max(0, days):.1f} ngày); hãy đổi sang mã "
                                "dài hạn của Trang trước ngày đó")
        return problems


def _subcode(response: requests.Response) -> int | None:
    try:
        return int(response.json()["error"]["error_subcode"])
    except (ValueError, KeyError, TypeError):
        return None


MAX_RECONCILE_PAGES = 20


def _older(item: dict, post: Post) -> bool:
    """Whether a Page post was made before this delivery was first sent (with ten minutes for clocks):
    nothing older can be it, so paging back can stop."""
    since = post.first_sent_at or post.sent_at
    try:
        made = datetime.strptime(str(item.get("created_time")), "%Y-%m-%dT%H:%M:%S%z")
    except ValueError:
        return False
    return made < since - timedelta(minutes=10)


LIMIT_REACHED = 100  # percent of a usage budget: Graph's advice is to stop calling then
LIMIT_DEFAULT_WAIT = 300.0  # seconds, when the headers say the limit is reached but not for how long


def usage_wait(response: requests.Response) -> float | None:
    """How long the whole Page must wait before its next call, from Graph's usage headers
    (``X-App-Usage``, ``X-Business-Use-Case-Usage``), or None while there is budget left. The
    headers come on any answer, success included, once enough calls were made."""
    regain = _regain(response)
    if regain:
        return regain
    entries: list[dict] = []
    try:
        app = json.loads(response.headers.get("X-App-Usage") or "{}")
        entries.append(app if isinstance(app, dict) else {})
        business = json.loads(response.headers.get("X-Business-Use-Case-Usage") or "{}")
        entries += [entry for listed in business.values() for entry in listed if isinstance(entry, dict)]
    except (ValueError, AttributeError):
        return None
    used = [float(entry.get(key) or 0) for entry in entries for key in ("call_count", "total_time", "total_cputime")]
    return LIMIT_DEFAULT_WAIT if used and max(used) >= LIMIT_REACHED else None


def _regain(response: requests.Response) -> float | None:
    """Seconds until Graph lets the app call again, from the usage headers (minutes there)."""
    try:
        usage = json.loads(response.headers.get("X-Business-Use-Case-Usage") or "{}")
    except ValueError:
        return None
    minutes = [entry.get("estimated_time_to_regain_access", 0) for entries in usage.values() for entry in entries]
    return max(minutes) * 60.0 if minutes and max(minutes) > 0 else None


def _permalink(post_id: str) -> str:
    page, _, rest = str(post_id).partition("_")
    return f"https://www.facebook.com/{page}/posts/{rest or page}"
