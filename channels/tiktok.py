"""TikTok video posts through the Content Posting API, Direct Post (kind ``tiktok``).

Settings: ``client_key``; ``client_secret_env``; ``api_url``; ``audited`` (whether TikTok has
audited the app: until then every post is private, ``SELF_ONLY``); ``privacy_level`` (for an
audited app); ``allow_comments``; ``hashtags``; ``chunk_mb``; ``status_polls`` and
``status_wait_seconds``; ``timeout_seconds`` and ``upload_timeout_seconds``; ``expiry_warning_days``.

What it does, per research/api_contracts.md §3 (TikTok's reference pages):

- The video is made here: a vertical title card (``channels.video``) for as long as the
  announcement's voice lasts (Vietnamese: the TTS chain of the loudspeaker; Thái, Mông: the
  translator's recording), H.264/AAC at 30 fps, kept in ``data/cache/tiktok``.
- ``creator_info/query`` first (the privacy levels the account allows and the longest video), then
  ``video/init`` with ``FILE_UPLOAD`` and the chunk arithmetic TikTok checks; the ``publish_id`` is
  stored on the delivery the moment it comes back; the file goes up with ``PUT`` and
  ``Content-Range`` (206 per chunk, 201 at the end); ``status/fetch`` follows it to
  ``PUBLISH_COMPLETE``. TikTok has no scheduled posts: the dispatcher sends at the due time.
- Nothing is published before the upload completes, so a failed init or chunk is safe to try again.
  Only the last chunk can leave the outcome unknown: reconcile then asks ``status/fetch`` with the
  stored ``publish_id``; it never posts twice.
- Errors by ``error.code``: ``access_token_invalid`` renews the token and tries once more;
  ``scope_not_authorized``, ``unaudited_client_can_only_post_to_private_accounts``,
  ``privacy_level_option_mismatch`` and ``spam_risk_user_banned_from_posting`` hold the channel for a
  person; ``rate_limit_exceeded`` waits a minute; the daily caps wait an hour.
- Tokens: the access token lives hours, the refresh token is rotated on each renewal
  (``POST /v2/oauth/token/``), kept sealed by ``scheduler.record.credentials``.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import requests
from pydantic import Field

from channels.base import Failed, Found, Outcome, OutgoingRequest, Post, Receipt, Reconciled
from channels.files import slug
from channels.http import call, call_json, classify_status
from channels.render import plain, social_text
from channels.secrets import ENV_NAME, mask, read_secret, redact
from channels.tokens import TokenChannel, TokenProblem, Tokens, TokenSettings
from channels.video import MediaError, title_card, video

TITLE_MAX = 2200  # UTF-16 code units
SMALL_FILE = 5 * 1024 * 1024  # below this a file goes up in one chunk
HOLD = {"scope_not_authorized", "unaudited_client_can_only_post_to_private_accounts",
        "privacy_level_option_mismatch", "spam_risk_user_banned_from_posting"}
DAILY_CAP = {"spam_risk_too_many_posts", "reached_active_user_cap", "spam_risk_too_many_pending_share"}
FAIL_REASONS = {
    "file_format_check_failed": "TikTok không nhận định dạng video",
    "duration_check_failed": "video dài hơn mức TikTok cho phép",
    "frame_rate_check_failed": "tốc độ khung hình không hợp lệ",
    "picture_size_check_failed": "kích thước hình không hợp lệ",
    "spam_risk_text": "TikTok cho rằng chú thích có dấu hiệu spam",
    "spam_risk_too_many_posts": "tài khoản đã đăng quá số bài trong ngày",
    "auth_removed": "tài khoản đã thu hồi quyền của ứng dụng",
}


class TikTokSettings(TokenSettings):
    client_key: str = Field(min_length=1)
    client_secret_env: str = Field(pattern=ENV_NAME)
    api_url: str = Field(default="https://open.tiktokapis.com", pattern=r"^https?://")
    audited: bool = False
    privacy_level: Literal["PUBLIC_TO_EVERYONE", "MUTUAL_FOLLOW_FRIENDS", "FOLLOWER_OF_CREATOR",
                           "SELF_ONLY"] = "PUBLIC_TO_EVERYONE"
    allow_comments: bool = True
    hashtags: list[str] = ["CCHC", "CaiCachHanhChinh"]
    chunk_mb: int = Field(default=10, ge=5, le=64)
    status_polls: int = Field(default=3, ge=1, le=20)
    status_wait_seconds: float = Field(default=3.0, ge=0, le=60)
    upload_timeout_seconds: float = Field(default=120.0, gt=0, le=900)


class TikTokChannel(TokenChannel):
    """Posts each delivery as a video on a TikTok account (kind ``tiktok``); see the module docstring."""

    kind = "tiktok"
    category = "social"
    label = "TikTok"
    Settings = TikTokSettings
    supports_preview = True
    links_to_website = True
    renew_before = timedelta(minutes=20)
    speaks = True

    def _url(self, path: str) -> str:
        return f"{self.settings.api_url.rstrip('/')}/v2/{path}"

    def privacy(self) -> str:
        return self.settings.privacy_level if self.settings.audited else "SELF_ONLY"

    def preview_text(self, post: Post) -> str:
        return self.caption(post)

    def caption(self, post: Post) -> str:
        limit = TITLE_MAX
        while True:  # TikTok counts UTF-16 units; an emoji counts two
            text = social_text(post, limit=limit, hashtags=self.settings.hashtags, link=post.extra.get("website_url"))
            over = len(text.encode("utf-16-le")) // 2 - TITLE_MAX
            if over <= 0:
                return text
            limit -= over

    def _init_body(self, post: Post, size: int) -> dict[str, Any]:
        chunk = size if size < SMALL_FILE else min(size, self.settings.chunk_mb * 1024 * 1024)
        return {"post_info": {"title": self.caption(post), "privacy_level": self.privacy(),
                              "disable_comment": not self.settings.allow_comments, "disable_duet": True,
                              "disable_stitch": True, "video_cover_timestamp_ms": 0},
                "source_info": {"source": "FILE_UPLOAD", "video_size": size, "chunk_size": chunk,
                                "total_chunk_count": max(1, size // chunk)}}

    def request_for(self, post: Post) -> OutgoingRequest:
        body = self._init_body(post, 1)
        body["source_info"].update(video_size="<cỡ tệp video>", chunk_size="<cỡ tệp video>")
        return OutgoingRequest("POST", self._url("post/publish/video/init/"),
                               {"Authorization": f"Bearer {mask('access-token-from-the-store')}",
                                "Content-Type": "application/json; charset=UTF-8"},
                               body | {"video": "<thẻ tiêu đề dọc 1080×1920 với giọng đọc của tin>"})

    # -- the video --------------------------------------------------------------------------------

    def make_video(self, post: Post) -> Path:
        """The post's video, made once and kept in the cache (a retry uploads the same file)."""
        from channels.loudspeaker.tts import NoVoice, voice_post

        folder = self.data_dir / "cache" / "tiktok"
        out = folder / f"{slug(post.ref_code)}.mp4"
        if out.is_file():
            return out
        if self.voices is None:
            raise MediaError("kênh chưa được nối với bộ đọc (TTS)")
        try:
            clip = voice_post(self.voices, post)
        except NoVoice as exc:
            raise MediaError(str(exc)) from None
        card = title_card(plain(post.title), post.unit_name, post.ref_code, folder / f"{slug(post.ref_code)}.png")
        return video(card, clip.path, out)

    # -- send and reconcile -----------------------------------------------------------------------

    def send(self, post: Post) -> Receipt:
        try:
            creator = self._api("post/publish/creator_info/query/", {})
            if self.privacy() not in creator.get("privacy_level_options", []):
                return Receipt(Outcome.NEEDS_REAUTH, error_code="privacy_level_option_mismatch",
                               message=f"tài khoản TikTok không cho đăng ở chế độ {self.privacy()} (cho phép: "
                                       f"{', '.join(creator.get('privacy_level_options', []))}); hãy sửa "
                                       "privacy_level trong config/channels.toml")
            path = self.make_video(post)
            longest = int(creator.get("max_video_post_duration_sec") or 600)
            if _duration(path) > longest:
                return Receipt(Outcome.PERMANENT, message=f"video dài hơn {longest} giây mà tài khoản được phép; "
                                                          "hãy rút gọn nội dung")
            size = path.stat().st_size
            body = self._init_body(post, size)
            data = self._api("post/publish/video/init/", body, unknown_is_retryable=True)
        except MediaError as exc:
            return Receipt(Outcome.PERMANENT, message=f"không tạo được video: {exc}")
        except Failed as failed:
            return failed.receipt
        publish_id = str(data["publish_id"])
        self.remember(post, publish_id)
        uploaded = self._upload(data["upload_url"], path, body["source_info"], post)
        if uploaded.outcome != Outcome.SENT:
            return Receipt(uploaded.outcome, remote_id=publish_id, retry_after=uploaded.retry_after,
                           http_status=uploaded.http_status, message=uploaded.message)
        return self._follow(publish_id, self.settings.status_polls, creator.get("creator_username"), post=post)

    def _upload(self, url: str, path: Path, source: dict[str, int], post: Post) -> Receipt:
        """PUT the file in the chunks announced at init; only the last chunk's outcome can be unknown.
        Each chunk renews the delivery's lease (``progress``): a long upload is never taken for dead."""
        size, chunk, count = source["video_size"], source["chunk_size"], source["total_chunk_count"]
        with path.open("rb") as handle:
            for n in range(count):
                first = n * chunk
                last = size - 1 if n == count - 1 else first + chunk - 1  # the last chunk takes the remainder
                handle.seek(first)
                data = handle.read(last - first + 1)
                headers = {"Content-Type": "video/mp4", "Content-Length": str(len(data)),
                           "Content-Range": f"bytes {first}-{last}/{size}"}
                receipt = call(lambda d=data, h=headers: self._session.put(
                    url, data=d, headers=h, timeout=(min(5.0, self.settings.timeout_seconds),
                                                     self.settings.upload_timeout_seconds)),
                    lambda r: Receipt(Outcome.SENT, http_status=r.status_code), _upload_status)
                self.progress(post)
                if receipt.outcome != Outcome.SENT:
                    if receipt.outcome == Outcome.UNKNOWN and n < count - 1:
                        return Receipt(Outcome.RETRYABLE, message=f"tải video lên bị gián đoạn: {receipt.message}")
                    return receipt
        return Receipt(Outcome.SENT)

    def _follow(self, publish_id: str, polls: int, username: str | None = None, size: int | None = None, *,
                post: Post | None = None) -> Receipt:
        for attempt in range(polls):
            if attempt:
                time.sleep(self.settings.status_wait_seconds)
                if post is not None:
                    self.progress(post)
            try:
                data = self._api("post/publish/status/fetch/", {"publish_id": publish_id})
            except Failed as failed:
                return Receipt(Outcome.PENDING, remote_id=publish_id,
                               message=f"chưa hỏi được trạng thái: {failed.receipt.message}")
            status = data.get("status")
            if status == "PROCESSING_UPLOAD" and size is not None and int(data.get("uploaded_bytes") or 0) < size:
                # The upload never finished: TikTok publishes nothing from it (its address lapses in an hour).
                return Receipt(Outcome.RETRYABLE, remote_id=publish_id, message="video chưa tải lên hết; sẽ gửi lại")
            if status in ("PUBLISH_COMPLETE", "SEND_TO_USER_INBOX"):
                ids = data.get("publicaly_available_post_id") or []
                url = f"https://www.tiktok.com/@{username or '_'}/video/{ids[0]}" if ids else None
                note = "" if ids else "đã đăng; bài ở chế độ riêng tư hoặc đang chờ TikTok kiểm duyệt"
                return Receipt(Outcome.SENT, remote_id=publish_id, url=url, message=note)
            if status == "FAILED":
                reason = str(data.get("fail_reason") or "")
                said = f"TikTok không đăng được: {FAIL_REASONS.get(reason, reason)} ({reason})"
                if reason == "internal":
                    return Receipt(Outcome.RETRYABLE, remote_id=publish_id, error_code=reason, message=said)
                return Receipt(Outcome.PERMANENT, remote_id=publish_id, error_code=reason, message=said)
        return Receipt(Outcome.PENDING, remote_id=publish_id, message="TikTok đang xử lý video; sẽ hỏi lại")

    def reconcile(self, post: Post, remote_id: str | None) -> Reconciled:
        if not remote_id:  # init never answered: nothing can have been published without an upload
            return Reconciled(Found.ABSENT, message="chưa có publish_id: TikTok chưa nhận video nào")
        try:
            size = self.make_video(post).stat().st_size  # made before the upload, so taken from the cache
        except MediaError:
            size = None
        receipt = self._follow(remote_id, 1, size=size)
        if receipt.outcome == Outcome.SENT:
            return Reconciled(Found.PRESENT, remote_id, receipt.url, receipt.message)
        if receipt.outcome in (Outcome.PERMANENT, Outcome.RETRYABLE):
            return Reconciled(Found.ABSENT, message=receipt.message)
        return Reconciled(Found.UNKNOWN, message=receipt.message)

    # -- one API call -------------------------------------------------------------------------------

    def _api(self, path: str, body: dict[str, Any], *, unknown_is_retryable: bool = False) -> dict[str, Any]:
        """``data`` of a successful call; raises ``Failed``. An invalid token is renewed and the call
        made once more (TikTok refused the first one)."""
        tokens = self.current_tokens()
        receipt, answer = self._once(path, body, tokens)
        if receipt.error_code == "access_token_invalid":
            receipt, answer = self._once(path, body, self.current_tokens(force=tokens))
        if receipt.outcome == Outcome.UNKNOWN and unknown_is_retryable:
            receipt = Receipt(Outcome.RETRYABLE, http_status=receipt.http_status, message=receipt.message)
        if receipt.outcome != Outcome.SENT:
            raise Failed(receipt)
        return answer.get("data") or {}

    def _once(self, path: str, body: dict[str, Any], tokens: Tokens) -> tuple[Receipt, dict[str, Any]]:
        return call_json(lambda: self._session.post(
            self._url(path), json=body, timeout=self.send_timeout(),
            headers={"Authorization": f"Bearer {tokens.access_token}",
                     "Content-Type": "application/json; charset=UTF-8"}), self._classify)

    def _classify(self, response: requests.Response) -> Receipt | None:
        try:
            error = response.json()["error"]
            code = str(error["code"])
        except (ValueError, KeyError, TypeError):
            return classify_status(response) if not 200 <= response.status_code < 300 else None
        if code == "ok" and 200 <= response.status_code < 300:
            return None
        status = response.status_code
        said = f"TikTok {status} {code}: {redact(str(error.get('message', '')))[:300]}"
        if code == "access_token_invalid":
            return Receipt(Outcome.NEEDS_REAUTH, http_status=status, error_code=code,
                           message=f"mã truy cập TikTok không còn hiệu lực dù đã làm mới; hãy cấp quyền lại ({said})")
        if code in HOLD:
            fixes = {
                "scope_not_authorized": "tài khoản chưa cấp quyền video.publish cho ứng dụng; hãy cấp lại quyền",
                "unaudited_client_can_only_post_to_private_accounts":
                    "ứng dụng chưa được TikTok duyệt nên chỉ đăng được riêng tư; đặt audited = false hoặc xin duyệt",
                "privacy_level_option_mismatch": "chế độ hiển thị không được tài khoản cho phép; sửa privacy_level",
                "spam_risk_user_banned_from_posting": "tài khoản bị TikTok cấm đăng bài; cần người kiểm tra",
            }
            return Receipt(Outcome.NEEDS_REAUTH, http_status=status, error_code=code, message=f"{fixes[code]} ({said})")
        if code == "rate_limit_exceeded" or status == 429:
            return Receipt(Outcome.RATE_LIMITED, retry_after=60.0, http_status=status, error_code=code,
                           message=f"TikTok giới hạn số lần gọi; sẽ gửi lại sau một phút ({said})")
        if code in DAILY_CAP:
            return Receipt(Outcome.RATE_LIMITED, retry_after=3600.0, http_status=status, error_code=code,
                           message=f"đã tới giới hạn đăng trong ngày của TikTok; sẽ thử lại sau một giờ ({said})")
        if status >= 500:
            return Receipt(Outcome.UNKNOWN, http_status=status, error_code=code, message=said)
        return Receipt(Outcome.PERMANENT, http_status=status, error_code=code, message=f"bị từ chối ({said})")

    def exchange(self, current: Tokens) -> Tokens:
        secret = read_secret(self.settings.client_secret_env)
        if not secret:
            raise TokenProblem(Receipt(Outcome.NEEDS_REAUTH, message=f"chưa đặt biến môi trường "
                                                                     f"{self.settings.client_secret_env} "
                                                                     "(client secret của ứng dụng TikTok)"))
        def _refused(response: requests.Response) -> Receipt | None:
            if response.status_code < 500 and response.status_code != 429:
                return None  # TikTok's OAuth errors are read below from the body
            return classify_status(response)

        form = {"client_key": self.settings.client_key, "client_secret": secret, "grant_type": "refresh_token",
                "refresh_token": current.refresh_token}
        receipt, answer = call_json(lambda: self._session.post(self._url("oauth/token/"), data=form,
                                                               timeout=self.send_timeout()), _refused)
        if receipt.outcome != Outcome.SENT:
            raise TokenProblem(receipt)
        if "access_token" not in answer:
            said = redact(str(answer.get("error_description") or answer.get("error")))[:200]
            raise TokenProblem(Receipt(Outcome.NEEDS_REAUTH, error_code=str(answer.get("error")),
                                       message=f"TikTok không làm mới mã ({said}); hãy đăng nhập cấp quyền lại và "
                                               f"nhập mã mới bằng 'cchc channel token {self.name}'"))
        now = self.now()
        return Tokens(answer["access_token"], answer["refresh_token"],
                      now + timedelta(seconds=int(answer.get("expires_in") or 7200)),
                      now + timedelta(seconds=int(answer.get("refresh_expires_in") or 180 * 86400)))

    # -- health -----------------------------------------------------------------------------------

    def check(self) -> list[str]:
        problems = self.token_problems(self.settings.expiry_warning_days)
        if problems and self.tokens is not None and not self.tokens.stored():
            return problems
        try:
            creator = self._api("post/publish/creator_info/query/", {})
        except Failed as failed:
            return problems + [failed.receipt.message]
        options = creator.get("privacy_level_options", [])
        if self.privacy() not in options:
            problems.append(f"tài khoản @{creator.get('creator_username')} không cho đăng ở chế độ {self.privacy()} "
                            f"(cho phép: {', '.join(options)}); hãy sửa privacy_level")
        return problems

    def notes(self) -> list[str]:
        if self.settings.audited:
            return []
        return ["ứng dụng TikTok chưa được duyệt (audit): mọi video chỉ đăng ở chế độ riêng tư (SELF_ONLY), người "
                "dân không xem được, và tối đa 5 tài khoản đăng trong 24 giờ. Hãy gửi ứng dụng cho TikTok duyệt, "
                "rồi đặt audited = true"]


def _upload_status(response: requests.Response) -> Receipt | None:
    status = response.status_code
    if status in (201, 206):
        return None
    if status == 403:
        return Receipt(Outcome.RETRYABLE, http_status=status, message="địa chỉ tải lên đã hết hạn (1 giờ); sẽ làm lại")
    if status in (400, 404, 416):
        return Receipt(Outcome.RETRYABLE, http_status=status,
                       message=f"TikTok không nhận phần video ({status}): {redact(response.text[:200])}")
    return classify_status(response)


def _duration(path: Path) -> float:
    from pydub.utils import mediainfo

    return float(mediainfo(str(path)).get("duration") or 0)
