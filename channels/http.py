"""The one way channels talk HTTP: a timeout on every call, no automatic retry of a POST, and
failures classified by whether the request may have reached the platform.

urllib3 draws the line we need: a connect error happens before the request is sent, so trying again
is safe; a read timeout or a dropped connection happens after, so the post may exist and only a
reconcile can tell. Messages pass through ``redact`` before they are stored or logged.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from pydantic import Field
from urllib3.exceptions import NewConnectionError

from channels.base import Channel, ChannelSettings, Outcome, Receipt, Wiring
from channels.secrets import redact

USER_AGENT = "cchc-broadcast/0.1"


class Session(requests.Session):
    """requests' session, reading the environment's proxy and CA settings once per host.

    requests looks them up on every call (``HTTP_PROXY``, ``NO_PROXY``, ``REQUESTS_CA_BUNDLE``...),
    walking the whole environment twice a request: a seventh of a delivery's cost against a fast
    platform. The service's environment does not change while it runs, so the answer for a host is
    kept; a call with its own proxies, verify or cert settings is looked up as before."""

    def __init__(self) -> None:
        super().__init__()
        self._settings: dict[str, dict[str, Any]] = {}

    def merge_environment_settings(self, url, proxies, stream, verify, cert):  # noqa: ANN001, ANN201
        if proxies or verify is not None or cert is not None:
            return super().merge_environment_settings(url, proxies, stream, verify, cert)
        parts = urlsplit(url)
        host = f"{parts.scheme}://{parts.netloc}"
        if host not in self._settings:
            self._settings[host] = super().merge_environment_settings(url, {}, False, None, None)
        found = self._settings[host]
        return {**found, "proxies": dict(found["proxies"]), "stream": stream}


def new_session() -> requests.Session:
    """A session without retries (requests' default adapter makes none; we rely on that)."""
    session = Session()
    session.headers["User-Agent"] = USER_AGENT
    return session


class HttpSettings(ChannelSettings):
    """What every channel that talks HTTP is configured with besides its own settings."""

    timeout_seconds: float = Field(default=15.0, gt=0, le=120)  # each request's; longer is a network problem


class HttpChannel(Channel):
    """A channel that talks to a platform over HTTP: one session per channel, the timeouts of its settings.

    Subclasses' settings have ``timeout_seconds``.
    """

    def __init__(self, name: str, settings: dict[str, Any], *, data_dir: Path, wiring: Wiring | None = None):
        super().__init__(name, settings, data_dir=data_dir, wiring=wiring)
        self._session = new_session()

    def send_timeout(self) -> tuple[float, float]:
        """(connect, read) for a request that creates something: connecting is quick or not at all."""
        timeout = self.settings.timeout_seconds
        return min(5.0, timeout), timeout


def retry_after_seconds(response: requests.Response, default: float = 60.0) -> float:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def classify_status(response: requests.Response) -> Receipt | None:
    """The generic reading of an HTTP status; None for 2xx (the channel parses success itself)."""
    status = response.status_code
    text = redact(response.text[:500])
    if 200 <= status < 300:
        return None
    if status == 429:
        return Receipt(Outcome.RATE_LIMITED, retry_after=retry_after_seconds(response),
                       http_status=status, message=f"nền tảng báo quá tải (429): {text}")
    if status in (401, 403):
        return Receipt(Outcome.NEEDS_REAUTH, http_status=status,
                       message=f"thông tin xác thực bị từ chối ({status}): {text}")
    if status == 503:
        return Receipt(Outcome.RETRYABLE, retry_after=retry_after_seconds(response, 0) or None,
                       http_status=status, message=f"dịch vụ tạm ngừng (503): {text}")
    if status >= 500:
        # The platform may have stored the post before failing: find out, do not re-send.
        return Receipt(Outcome.UNKNOWN, http_status=status, message=f"lỗi máy chủ ({status}): {text}")
    return Receipt(Outcome.PERMANENT, http_status=status, message=f"bị từ chối ({status}): {text}")


def call(
    send: Callable[[], requests.Response],
    on_success: Callable[[requests.Response], Receipt],
    classify: Callable[[requests.Response], Receipt | None] = classify_status,
) -> Receipt:
    """Run one request and turn whatever happens into a ``Receipt``; never raises."""
    try:
        response = send()
    except requests.exceptions.InvalidHeader:  # raised before anything is sent; its text quotes the value
        return Receipt(Outcome.PERMANENT, message="không tạo được yêu cầu: một giá trị tiêu đề HTTP (thường là mã "
                                                  "truy cập trong biến môi trường) có ký tự xuống dòng hoặc ký tự "
                                                  "điều khiển; hãy chạy cchc config check")
    except requests.exceptions.ConnectTimeout as exc:
        return Receipt(Outcome.RETRYABLE, message=f"không kết nối được (hết giờ): {describe(exc)}")
    except requests.exceptions.ConnectionError as exc:
        if _before_sending(exc):
            return Receipt(Outcome.RETRYABLE, message=f"không kết nối được: {describe(exc)}")
        return Receipt(Outcome.UNKNOWN, message=f"mất kết nối sau khi gửi: {describe(exc)}")
    except requests.exceptions.ReadTimeout as exc:
        return Receipt(Outcome.UNKNOWN, message=f"không nhận được trả lời (hết giờ): {describe(exc)}")
    except requests.exceptions.RequestException as exc:
        return Receipt(Outcome.UNKNOWN, message=f"lỗi HTTP: {describe(exc)}")
    failure = classify(response)
    if failure is not None:
        return failure
    try:
        return on_success(response)
    except (ValueError, KeyError, TypeError) as exc:
        # 2xx but an answer we cannot read: the post probably exists; reconcile decides.
        return Receipt(Outcome.UNKNOWN, http_status=response.status_code,
                       message=f"trả lời không đọc được: {redact(str(exc))[:200]}")


def call_json(
    send: Callable[[], requests.Response],
    classify: Callable[[requests.Response], Receipt | None] = classify_status,
    read: Callable[[requests.Response, dict[str, Any]], Receipt] | None = None,
) -> tuple[Receipt, dict[str, Any]]:
    """``call`` for a JSON API: the receipt and the answer's object (empty when there was none).

    ``read(response, answer)`` makes the receipt of an answer that passed ``classify``; by default
    that is success. Platforms that report errors inside a 200 (Zalo) read them there.
    """
    answer: dict[str, Any] = {}

    def _ok(response: requests.Response) -> Receipt:
        answer.update(response.json())
        return read(response, answer) if read else Receipt(Outcome.SENT, http_status=response.status_code)

    return call(send, _ok, classify), answer


def _before_sending(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, NewConnectionError | ConnectionRefusedError):
            return True
        reason = getattr(current, "reason", None)
        if isinstance(reason, BaseException):
            current = reason
            continue
        args: Any = getattr(current, "args", ())
        nested = next((a for a in args if isinstance(a, BaseException)), None)
        current = nested or current.__cause__ or current.__context__
    return False


def describe(exc: BaseException) -> str:
    """What went wrong, by the types along the exception's chain (``ConnectionError ← ConnectionRefusedError``).

    Never ``str(exc)``: requests quotes header values and URLs with their query in its messages.
    """
    names: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if type(current).__name__ not in names:
            names.append(type(current).__name__)
        reason = getattr(current, "reason", None)
        args: Any = getattr(current, "args", ())
        nested = reason if isinstance(reason, BaseException) else next(
            (a for a in args if isinstance(a, BaseException)), None)
        current = nested or current.__cause__ or current.__context__
    return " ← ".join(names)
