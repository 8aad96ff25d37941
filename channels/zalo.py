"""A Zalo Official Account through the OA Open API (kind ``zalo``).

Settings: ``app_id``; ``secret_key_env`` (the app's secret key, sent when renewing tokens);
``api_url`` and ``oauth_url``; ``cover_url`` (the article cover photo, a public https address);
``author``; ``broadcast`` (also send each article to the OA's followers); ``verify_tries`` and
``verify_wait_seconds``; ``timeout_seconds``; ``expiry_warning_days``.

What it does, per research/api_contracts.md §2 (Zalo's own SDK samples):

- Every call carries the header ``access_token`` (never a URL). Zalo answers application errors with
  **HTTP 200** and ``{"error": <negative>, "message"}``: the status alone says nothing.
- An announcement becomes an article: ``POST /v2.0/article/create`` answers with a *token*, stored on
  the delivery at once; ``POST /v2.0/article/verify`` turns it into the article id, answering -214
  while Zalo is still processing. The text has the reference code, for reconcile.
- With ``broadcast``, the article then goes to followers (``POST /v2.0/oa/message``, a media template
  carrying the article: Zalo has no free-text broadcast). The remote id says how far a delivery got:
  ``token:T`` (created, not verified), ``article:ID`` (verified, not yet broadcast) or ``ID`` (done);
  reconcile carries on from there and never creates or broadcasts twice. A broadcast refused at
  night (-234) waits for 06:00.
- Access tokens live 25 h; refresh tokens are single-use and replaced on each renewal
  (``POST {oauth}/v4/oa/access_token``, header ``secret_key``), kept sealed by ``scheduler.record.credentials``.
  -216/-220 (token invalid or expired) renew the token and try once more.
- Check: the stored tokens, then ``GET /v2.0/oa/getoa`` (the OA the token belongs to).
"""

from __future__ import annotations

import html
import time
import unicodedata
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import requests
from pydantic import Field

from channels.base import Failed, Found, Outcome, OutgoingRequest, Post, Receipt, Reconciled
from channels.http import call_json
from channels.render import cut, marker, plain
from channels.secrets import ENV_NAME, mask, read_secret, redact
from channels.tokens import TokenChannel, TokenProblem, Tokens, TokenSettings

LOCAL_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
EXPIRED = {-216, -220, -124}
RATE = {-32}
QUOTA = {-211}
SETUP = {-204, -205, -209, -212, -221, -224}
PROCESSING = -214
NIGHT = -234
SEARCH_PAGE, SEARCH_PAGES = 10, 200  # reconcile reads the OA's list ten at a time, at most 2,000 articles
TITLE_MAX, AUTHOR_MAX, DESCRIPTION_MAX = 150, 50, 300


class ZaloSettings(TokenSettings):
    app_id: str = Field(pattern=r"^\d+$")
    secret_key_env: str = Field(pattern=ENV_NAME)
    api_url: str = Field(default="https://openapi.zalo.me", pattern=r"^https?://")
    oauth_url: str = Field(default="https://oauth.zaloapp.com", pattern=r"^https?://")
    cover_url: str = Field(pattern=r"^https?://")
    author: str = Field(default="", max_length=AUTHOR_MAX)
    broadcast: bool = False
    verify_tries: int = Field(default=3, ge=1, le=10)
    verify_wait_seconds: float = Field(default=3.0, ge=0, le=30)


class ZaloChannel(TokenChannel):
    """Publishes each delivery as an article of a Zalo Official Account (kind ``zalo``)."""

    kind = "zalo"
    category = "social"
    label = "Zalo OA"
    Settings = ZaloSettings
    supports_preview = True
    links_to_website = True
    renew_before = timedelta(hours=1)

    # -- the article ------------------------------------------------------------------------------

    def _url(self, path: str) -> str:
        return f"{self.settings.api_url.rstrip('/')}/v2.0/{path}"

    def article(self, post: Post) -> dict[str, Any]:
        paragraphs = [p.strip() for p in plain(post.body).split("\n\n") if p.strip()]
        link = post.extra.get("website_url")
        tail = ([f"Xem đầy đủ trên Cổng thông tin điện tử: {link}"] if link else []) + [f"Mã tin: {marker(post)}"]
        return {
            "type": "normal",
            "title": cut(plain(post.title), TITLE_MAX),
            "author": cut(self.settings.author or post.unit_name, AUTHOR_MAX),
            "description": cut(paragraphs[0] if paragraphs else plain(post.title), DESCRIPTION_MAX),
            "cover": {"cover_type": "photo", "photo_url": self.settings.cover_url, "status": "show"},
            "body": [{"type": "text", "content": text} for text in paragraphs + tail],
            "status": "show",
            "comment": "show",
        }

    def request_for(self, post: Post) -> OutgoingRequest:
        return OutgoingRequest("POST", self._url("article/create"),
                               {"access_token": mask("access-token-from-the-store"),
                                "Content-Type": "application/json"}, self.article(post))

    # -- send and reconcile -----------------------------------------------------------------------

    def send(self, post: Post) -> Receipt:
        try:
            data = self._api("POST", "article/create", json=self.article(post))
        except Failed as failed:
            return failed.receipt
        token = str(data["token"])
        self.remember(post, f"token:{token}")
        return self._after_create(post, token)

    def reconcile(self, post: Post, remote_id: str | None) -> Reconciled:
        step, _, value = (remote_id or "").rpartition(":")
        if step == "token":
            receipt = self._after_create(post, value)
        elif step == "article":
            receipt = self._after_verify(post, value)
        elif remote_id:
            return Reconciled(Found.PRESENT, remote_id)
        else:
            return self._search(post)
        if receipt.outcome == Outcome.SENT:
            return Reconciled(Found.PRESENT, receipt.remote_id, receipt.url, receipt.message)
        return Reconciled(Found.UNKNOWN, message=receipt.message, retry_after=receipt.retry_after)

    def _after_create(self, post: Post, token: str) -> Receipt:
        """Verify until Zalo gives the article id (it answers -214 while processing)."""
        for attempt in range(self.settings.verify_tries):
            if attempt:
                time.sleep(self.settings.verify_wait_seconds)
                self.progress(post)
            try:
                data = self._api("POST", "article/verify", json={"token": token})
            except Failed as failed:
                if failed.receipt.error_code == str(PROCESSING):
                    continue
                return _pending(f"token:{token}", failed.receipt.message)
            article_id = str(data.get("id") or data["article_id"])
            if self.settings.broadcast:
                self.remember(post, f"article:{article_id}")
                return self._after_verify(post, article_id)
            return Receipt(Outcome.SENT, remote_id=article_id)
        return _pending(f"token:{token}", "Zalo đang xử lý bài viết; sẽ hỏi lại")

    def _after_verify(self, post: Post, article_id: str) -> Receipt:
        """Send the article to followers, once."""
        body = {"recipient": {"target": {}},
                "message": {"attachment": {"type": "template", "payload": {
                    "template_type": "media", "elements": [{"media_type": "article", "attachment_id": article_id}]}}}}
        try:
            data = self._api("POST", "oa/message", json=body)
        except Failed as failed:
            receipt = failed.receipt
            if receipt.outcome in (Outcome.RETRYABLE, Outcome.RATE_LIMITED):
                return _pending(f"article:{article_id}", f"bài đã đăng, chưa gửi được tới người quan tâm: "
                                                         f"{receipt.message}", receipt.retry_after)
            if receipt.outcome == Outcome.UNKNOWN:  # it may have gone out: never broadcast twice
                return Receipt(Outcome.SENT, remote_id=article_id,
                               message=f"bài đã đăng; không rõ đã gửi tới người quan tâm chưa, không gửi lại "
                                       f"để tránh gửi hai lần ({receipt.message})")
            return Receipt(Outcome.SENT, remote_id=article_id,
                           message=f"bài đã đăng; Zalo không nhận gửi tới người quan tâm: {receipt.message}")
        return Receipt(Outcome.SENT, remote_id=article_id,
                       message=f"đã gửi tới người quan tâm (message_id {data.get('message_id')})")

    def _search(self, post: Post) -> Reconciled:
        """After a create that timed out: look for the reference among the OA's articles, newest first,
        page after page. Zalo's list gives no dates, so it reads on to the end of the list (at most
        ``SEARCH_PAGES`` pages: an OA that posted more since the lost answer is asked again later).

        The list gives each article's title, not its text: only articles whose title is the post's
        (compared as ``_title_key`` does) are opened to look for the reference, so a search costs one
        request a page, not one an article. An item listed without a title is opened.

        It stops, with ABSENT, at the first of the channel's own articles from before the first send
        (``post.older_remote_ids``): the list is newest first, so the lost one would be above it."""
        offset, title = 0, _title_key(self.article(post)["title"])
        older = set(post.older_remote_ids)
        try:
            for _ in range(SEARCH_PAGES):
                listed = self._api("GET", "article/getslice",
                                   params={"offset": offset, "limit": SEARCH_PAGE, "type": "normal"})
                items = listed.get("medias", [])
                for item in items:
                    if str(item["id"]) in older:
                        return Reconciled(Found.ABSENT, message=f"đã xem tới bài {item['id']} đăng trước lần gửi "
                                                                "đầu: bài này chưa có trên OA")
                    if item.get("title") is not None and _title_key(str(item["title"])) != title:
                        continue
                    detail = self._api("GET", "article/getdetail", params={"id": item["id"]})
                    texts = [detail.get("description", "")] + [b.get("content", "") for b in detail.get("body", [])]
                    if any(marker(post) in (text or "") for text in texts):
                        return Reconciled(Found.PRESENT, str(item["id"]), detail.get("link"))
                offset += len(items)
                self.progress(post)
                if not items or offset >= int(listed.get("total") or 0):
                    return Reconciled(Found.ABSENT)
        except Failed as failed:
            return Reconciled(Found.UNKNOWN, message=failed.receipt.message)
        return Reconciled(Found.UNKNOWN, message=f"đã xem {offset} bài mới nhất của OA mà chưa hết; sẽ hỏi lại")

    # -- one call, with its token and error reading -------------------------------------------------

    def _api(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """``data`` of a successful call; raises ``Failed`` with the receipt of any failure.

        An invalid or expired token is renewed and the call made once more: Zalo refused the first
        one, so nothing was created by it.
        """
        tokens = self.current_tokens()
        receipt, answer = self._once(method, path, tokens, **kwargs)
        if answer.get("error") in EXPIRED:
            receipt, answer = self._once(method, path, self.current_tokens(force=tokens), **kwargs)
        if receipt.outcome != Outcome.SENT:
            raise Failed(receipt)
        return answer.get("data") or {}

    def _once(self, method: str, path: str, tokens: Tokens, **kwargs: Any) -> tuple[Receipt, dict[str, Any]]:
        return call_json(lambda: self._request(method, path, tokens, **kwargs),
                         read=lambda response, answer: _read(response, answer, self.clock()))

    def _request(self, method: str, path: str, tokens: Tokens, **kwargs: Any) -> requests.Response:
        timeout = self.send_timeout() if method == "POST" else self.settings.timeout_seconds
        return self._session.request(method, self._url(path), headers={"access_token": tokens.access_token},
                                     timeout=timeout, **kwargs)

    def exchange(self, current: Tokens) -> Tokens:
        secret = read_secret(self.settings.secret_key_env)
        if not secret:
            raise TokenProblem(Receipt(Outcome.NEEDS_REAUTH, message=f"chưa đặt biến môi trường "
                                                                     f"{self.settings.secret_key_env} (khóa bí mật "
                                                                     "của ứng dụng Zalo)"))
        url = f"{self.settings.oauth_url.rstrip('/')}/v4/oa/access_token"
        form = {"refresh_token": current.refresh_token, "app_id": self.settings.app_id, "grant_type": "refresh_token"}
        receipt, answer = call_json(lambda: self._session.post(url, data=form, headers={"secret_key": secret},
                                                               timeout=self.send_timeout()))
        if receipt.outcome != Outcome.SENT:
            raise TokenProblem(receipt)
        if "access_token" not in answer:
            said = redact(str(answer.get("error_name") or answer.get("message") or answer.get("error")))[:200]
            raise TokenProblem(Receipt(Outcome.NEEDS_REAUTH, error_code=str(answer.get("error")),
                                       message=f"Zalo không làm mới mã ({said}); hãy cấp quyền lại cho ứng dụng "
                                               f"và nhập mã mới bằng 'cchc channel token {self.name}'"))
        now = self.now()
        return Tokens(answer["access_token"], answer["refresh_token"],
                      now + timedelta(seconds=int(answer.get("expires_in") or 3600)),
                      now + timedelta(days=90))  # Zalo: a refresh token lives three months

    # -- health -----------------------------------------------------------------------------------

    def check(self) -> list[str]:
        problems = self.token_problems(self.settings.expiry_warning_days)
        if problems and self.tokens is not None and not self.tokens.stored():
            return problems
        try:
            data = self._api("GET", "oa/getoa")
        except Failed as failed:
            return problems + [failed.receipt.message]
        if not data.get("oa_id"):
            problems.append("Zalo không trả về thông tin OA; hãy kiểm tra ứng dụng đã được OA cấp quyền")
        return problems


def _pending(remote_id: str, message: str, retry_after: float | None = None) -> Receipt:
    return Receipt(Outcome.PENDING, remote_id=remote_id, message=message, retry_after=retry_after)


def _read(response: requests.Response, answer: dict[str, Any], now: datetime) -> Receipt:
    """Zalo's envelope: success is ``error`` 0, anything else is a failure sent with HTTP 200.
    ``now``: the service's clock, for the night ban."""
    code = int(answer.get("error", 0))
    if code == 0:
        return Receipt(Outcome.SENT, http_status=response.status_code)
    said = f"Zalo {code}: {redact(str(answer.get('message', '')))[:300]}"
    ident = str(code)
    if code in EXPIRED:
        return Receipt(Outcome.NEEDS_REAUTH, error_code=ident,
                       message=f"mã truy cập không còn hiệu lực dù đã làm mới; hãy cấp quyền lại ({said})")
    if code in RATE:
        return Receipt(Outcome.RATE_LIMITED, retry_after=60.0, error_code=ident,
                       message=f"Zalo giới hạn số lần gọi; sẽ gửi lại sau ({said})")
    if code in QUOTA or (code == -223 and "quota" in said.lower()):
        return Receipt(Outcome.RATE_LIMITED, retry_after=3600.0, error_code=ident,
                       message=f"OA đã hết hạn mức của Zalo; sẽ thử lại sau một giờ ({said})")
    if code in SETUP or code == -223:
        return Receipt(Outcome.NEEDS_REAUTH, error_code=ident,
                       message=f"OA hoặc ứng dụng chưa được phép dùng chức năng này; hãy kiểm tra gói dịch vụ, "
                               f"xác thực OA và quyền đã cấp cho ứng dụng ({said})")
    if code == PROCESSING:
        return Receipt(Outcome.PENDING, error_code=ident, message=f"Zalo đang xử lý ({said})")
    if code == NIGHT:
        return Receipt(Outcome.RATE_LIMITED, retry_after=_until_morning(now), error_code=ident,
                       message=f"Zalo không cho gửi tin từ 22 giờ đến 6 giờ; sẽ gửi sau 6 giờ ({said})")
    if code == -248:
        return Receipt(Outcome.PERMANENT, error_code=ident,
                       message=f"Zalo cho rằng nội dung vi phạm tiêu chuẩn; cần người xem lại nội dung ({said})")
    return Receipt(Outcome.PERMANENT, error_code=ident, message=f"bị từ chối ({said})")


def _until_morning(moment: datetime) -> float:
    now = moment.astimezone(LOCAL_TZ)
    morning = now.replace(hour=6, minute=0, second=0, microsecond=0)
    if now >= morning:
        morning += timedelta(days=1)
    return (morning - now).total_seconds()


def _title_key(title: str) -> str:
    """A title as compared in a reconcile: markup entities decoded, Unicode composed, spaces collapsed
    and case folded, so the OA's way of showing our title still matches it."""
    text = unicodedata.normalize("NFC", html.unescape(title))
    return " ".join(text.split()).casefold()
