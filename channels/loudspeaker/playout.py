"""Playout: how a programme reaches the loudspeakers, chosen per channel (``playout = "..."``).

Each way is a ``Playout`` subclass named in ``PLAYOUTS``: it says whether the service pushes the
audio itself at slot time (``live``: ``stream``), or hands the programme to a platform before the
slot (``ahead``: ``hand_over``, and ``withdraw`` when the slot is emptied), and declares the table
of settings it reads (``[channels.<name>.settings.<playout>]``). A smart-radio vendor's API is one
new module with its subclass and one line in ``PLAYOUTS``; the broadcaster asks the class, never
the name.

- ``folder``: the programme (MP3 + M3U + JSON sidecar) is written ahead of the slot into a folder
  the station PC plays from; nothing more is sent at slot time. Old programmes are pruned.
- ``icecast``: at slot time the MP3 is pushed live to an Icecast mount (``PUT``, Basic auth as
  ``source``), paced at the audio's own byte rate, because Icecast has no input buffer and would
  otherwise forward the whole file at once (research/api_contracts.md §6). IP loudspeakers that
  listen to the mount hear it as it is sent. With ``fallback_mount`` the service also keeps silence
  playing, paced, on that hidden mount all the time (``carry``); Icecast, configured with that mount as
  the main mount's ``<fallback-mount>`` and ``<fallback-override>1</fallback-override>``, moves
  listeners to it when a programme ends and back when the next begins, so loudspeakers stay connected
  between slots. (Icecast's own fallback to a static file is not used: it sends the file many times
  faster than real time, and a player would buffer minutes of silence before the next programme.)
- ``http``: the programme is uploaded ahead of the slot to a smart-radio platform, with a generic
  contract (documented on ``HttpPlayout``).
"""

from __future__ import annotations

import base64
import json
import logging
import shutil
import socket
import threading
import time
from abc import ABC
from collections.abc import Callable
from datetime import date, timedelta
from importlib import import_module
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, model_validator

from channels.base import Outcome, Receipt
from channels.secrets import ENV_NAME, read_secret, redact, remember

log = logging.getLogger("cchc.playout")
PREROLL_SECONDS = 2.0  # sent at once so players fill their buffer before pacing begins
CHUNK_SECONDS = 0.25


class PlayoutError(Exception):
    """The programme could not be handed to playout; the message is safe to show and store."""


def prune(folder: Path, today: date, keep_days: int) -> list[Path]:
    """Delete dated programme folders (YYYY-MM-DD) older than ``keep_days``; returns what went."""
    removed = []
    cutoff = today - timedelta(days=keep_days)
    for child in folder.glob("????-??-??"):
        try:
            day = date.fromisoformat(child.name)
        except ValueError:
            continue
        if child.is_dir() and day < cutoff:
            shutil.rmtree(child)
            removed.append(child)
    return removed



PLAYOUTS = {
    "folder": "channels.loudspeaker.playout:FolderPlayout",
    "icecast": "channels.loudspeaker.playout:IcecastPlayout",
    "http": "channels.loudspeaker.playout:HttpPlayout",
}


def playout_class(name: str) -> type[Playout]:
    module, _, cls = PLAYOUTS[name].partition(":")
    return getattr(import_module(module), cls)


class Playout(ABC):
    """One way a programme reaches the station. The base does nothing beyond writing the programme's
    files (MP3, M3U, JSON) into the channel's folder, which every playout gets."""

    name: ClassVar[str]
    Settings: ClassVar[type[BaseModel] | None] = None  # its table, when it needs one
    live: ClassVar[bool] = False  # the service pushes the audio itself at slot time (``stream``)
    ahead: ClassVar[bool] = False  # handed to a platform before the slot (``hand_over``; ``withdraw``)
    folder_name: ClassVar[str] = "programmes"  # data/<folder_name>/<channel>, unless the channel sets ``folder``

    @classmethod
    def build(cls, settings: BaseModel | None, *, station: str) -> Playout:
        """The playout of a channel, from its table (``settings``) and its station name."""
        return cls()

    @classmethod
    def problems(cls, settings: BaseModel | None) -> list[str]:
        """What would stop it (a secret not set), for ``cchc channel check``."""
        return []

    def hand_over(self, path: Path, values: dict[str, Any]) -> Receipt:
        raise NotImplementedError

    def withdraw(self, external_id: str) -> Receipt:
        raise NotImplementedError

    def stream(self, path: Path, duration_ms: int, on_progress: Callable[[int], None],
               sleep: Callable[[float], None] = time.sleep) -> None:
        raise NotImplementedError

    @property
    def carries(self) -> bool:
        """Whether something must keep playing between programmes (``carry``)."""
        return False

    def carry(self, path: Path, duration_ms: int, stop: threading.Event) -> None:
        raise NotImplementedError


class FolderPlayout(Playout):
    """The programme is written ahead of the slot into a folder the station PC plays from."""

    name = "folder"
    folder_name = "playout"


class IcecastSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^http://")
    mount: str = Field(pattern=r"^/?[A-Za-z0-9._\-/]+$")
    # A hidden mount the service keeps silence on between programmes (Icecast's <fallback-mount> of ``mount``).
    fallback_mount: str | None = Field(default=None, pattern=r"^/?[A-Za-z0-9._\-/]+$")
    user: str = "source"
    password_env: str = Field(pattern=ENV_NAME)

    @model_validator(mode="after")
    def _two_mounts(self) -> IcecastSettings:
        if self.fallback_mount and self.fallback_mount.strip("/") == self.mount.strip("/"):
            raise ValueError("fallback_mount phải khác mount (điểm phát dự phòng là một điểm phát riêng, ẩn)")
        return self


class HttpPlayoutSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://")
    token_env: str | None = Field(default=None, pattern=ENV_NAME)
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    file_field: str = "file"
    fields: dict[str, str] = {}
    id_field: str = "id"
    timeout_seconds: float = Field(default=60, gt=0, le=600)


class IcecastPlayout(Playout):
    """A source client for Icecast 2.4: one ``PUT`` per programme, paced in real time."""

    name = "icecast"
    Settings = IcecastSettings
    live = True

    @classmethod
    def build(cls, settings: BaseModel | None, *, station: str) -> IcecastPlayout:
        assert isinstance(settings, IcecastSettings)
        password = read_secret(settings.password_env)
        if not password:
            raise PlayoutError(f"chưa đặt biến môi trường {settings.password_env} (mật khẩu nguồn Icecast)")
        return cls(settings.url, settings.mount, settings.user, password, name=station,
                   fallback_mount=settings.fallback_mount)

    @classmethod
    def problems(cls, settings: BaseModel | None) -> list[str]:
        assert isinstance(settings, IcecastSettings)
        if read_secret(settings.password_env):
            return []
        return [f"chưa đặt biến môi trường {settings.password_env} (mật khẩu nguồn Icecast)"]

    def __init__(self, url: str, mount: str, user: str, password: str, *, name: str, timeout: float = 10.0,
                 fallback_mount: str | None = None):
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise PlayoutError(f"địa chỉ Icecast '{url}' phải có dạng http://máy:cổng")
        self.host, self.port = parts.hostname, parts.port or 8000
        self.mount = "/" + mount.lstrip("/")
        self.fallback_mount = "/" + fallback_mount.lstrip("/") if fallback_mount else None
        self._auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        remember(self._auth)
        self.name, self.timeout = name, timeout

    def stream(self, path: Path, duration_ms: int, on_progress: Callable[[int], None],
               sleep: Callable[[float], None] = time.sleep) -> None:
        """Send ``path`` to the mount at its play rate, calling ``on_progress(ms_sent)`` as it goes."""
        data = path.read_bytes()
        bytes_per_second = len(data) * 1000 / max(duration_ms, 1)
        with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
            self._handshake(sock, self.mount, bytes_per_second)
            chunk = max(int(bytes_per_second * CHUNK_SECONDS), 512)
            sent = min(len(data), int(bytes_per_second * PREROLL_SECONDS))
            sock.sendall(data[:sent])
            started = time.monotonic() - PREROLL_SECONDS
            while sent < len(data):
                due = started + sent / bytes_per_second
                delay = due - time.monotonic()
                if delay > 0:
                    sleep(delay)
                piece = data[sent:sent + chunk]
                _send(sock, piece, "giữa chương trình")
                sent += len(piece)
                on_progress(int(sent * 1000 / bytes_per_second))
            # Let the last second reach listeners before the mount closes.
            sleep(max(0.0, started + len(data) / bytes_per_second - time.monotonic()))
        on_progress(duration_ms)

    @property
    def carries(self) -> bool:
        return self.fallback_mount is not None

    def carry(self, path: Path, duration_ms: int, stop: threading.Event) -> None:
        """Loop ``path`` (silence) on the fallback mount at its play rate until ``stop`` is set;
        ``PlayoutError`` when Icecast refuses or drops the connection (the caller connects again)."""
        assert self.fallback_mount is not None
        data = path.read_bytes()
        bytes_per_second = len(data) * 1000 / max(duration_ms, 1)
        chunk = max(int(bytes_per_second * CHUNK_SECONDS), 512)
        with socket.create_connection((self.host, self.port), timeout=self.timeout) as sock:
            self._handshake(sock, self.fallback_mount, bytes_per_second)
            started, sent, at = time.monotonic(), 0, 0
            while not stop.wait(max(0.0, started + sent / bytes_per_second - time.monotonic())):
                piece = data[at:at + chunk]
                _send(sock, piece, "điểm phát dự phòng")
                sent += len(piece)
                at = (at + len(piece)) % len(data)

    def _handshake(self, sock: socket.socket, mount: str, bytes_per_second: float) -> None:
        kbps = round(bytes_per_second * 8 / 1000)
        request = (
            f"PUT {mount} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
            f"Authorization: Basic {self._auth}\r\nContent-Type: audio/mpeg\r\n"
            f"Ice-Name: {_header_text(self.name)}\r\nIce-Public: 0\r\nIce-Bitrate: {kbps}\r\n"
            "User-Agent: cchc-broadcast/0.1\r\n\r\n"
        )
        sock.sendall(request.encode("latin-1", "replace"))
        reply = b""
        while b"\r\n\r\n" not in reply and len(reply) < 8192:
            try:
                received = sock.recv(1024)
            except TimeoutError:
                raise PlayoutError("Icecast không trả lời yêu cầu phát") from None
            if not received:
                break
            reply += received
        status_line = reply.split(b"\r\n", 1)[0].decode("latin-1", "replace")
        fields = status_line.split(" ", 2)
        status = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0
        if status == 200:
            return
        body = reply.split(b"\r\n\r\n", 1)[-1].decode("utf-8", "replace").strip()
        if status == 401:
            raise PlayoutError("Icecast từ chối mật khẩu nguồn (401); hãy kiểm tra biến môi trường mật khẩu")
        if status == 403:
            raise PlayoutError(f"Icecast từ chối điểm phát {mount} (403: {body or 'forbidden'}); "
                               "có thể một nguồn khác đang phát vào đó")
        raise PlayoutError(f"Icecast trả lời không mong đợi: {redact(status_line) or 'không có trả lời'}")


class HttpPlayout(Playout):
    """Uploads a programme to a smart-radio platform. The generic contract:

    ``POST url`` (multipart/form-data) with the MP3 in the ``file_field`` part and the form fields
    named in ``fields``: ``title`` (the programme's name), ``start_at`` (slot time, ISO 8601 with
    +07:00), ``external_id`` (``<channel>/<slot>``; the same id replaces the earlier upload, so a
    re-built programme never plays twice) and ``duration_seconds``. The secret goes in the
    ``auth_header`` header as ``<auth_scheme> <token>``. A 2xx answer is JSON with the platform's
    id at ``id_field`` (dotted path, e.g. ``data.id``). 401/403: credentials; 429: later; other 4xx:
    refused; 5xx or no answer: unknown.

    A programme whose items were all cancelled before its slot is withdrawn with ``DELETE url`` and the
    ``external_id`` field as a query parameter (same auth header); 2xx, or 404 for one the platform
    does not have, means it will not play.
    """

    name = "http"
    Settings = HttpPlayoutSettings
    ahead = True

    def __init__(self, url: str, token: str | None, *, auth_header: str, auth_scheme: str, file_field: str,
                 fields: dict[str, str], id_field: str, timeout: float):
        from channels.http import new_session  # requests loads when a programme is handed over

        self.url, self._token = url, token
        self.auth_header, self.auth_scheme = auth_header, auth_scheme
        self.file_field, self.fields, self.id_field = file_field, fields, id_field
        self.timeout = timeout
        self._session = new_session()

    @classmethod
    def build(cls, settings: BaseModel | None, *, station: str) -> HttpPlayout:
        assert isinstance(settings, HttpPlayoutSettings)
        return cls(settings.url, read_secret(settings.token_env) if settings.token_env else None,
                   auth_header=settings.auth_header, auth_scheme=settings.auth_scheme,
                   file_field=settings.file_field, fields=settings.fields, id_field=settings.id_field,
                   timeout=settings.timeout_seconds)

    @classmethod
    def problems(cls, settings: BaseModel | None) -> list[str]:
        assert isinstance(settings, HttpPlayoutSettings)
        if settings.token_env and not read_secret(settings.token_env):
            return [f"chưa đặt biến môi trường {settings.token_env} (mã truy cập nền tảng truyền thanh)"]
        return []

    def hand_over(self, path: Path, values: dict[str, Any]) -> Receipt:
        from channels.http import call

        headers = self._headers()
        form = {self.fields.get(key, key): str(value) for key, value in values.items()}

        def send():  # noqa: ANN202
            with open(path, "rb") as handle:
                return self._session.post(self.url, headers=headers, data=form, timeout=self.timeout,
                                          files={self.file_field: (path.name, handle, "audio/mpeg")})

        def success(response) -> Receipt:  # noqa: ANN001
            found: Any = response.json()
            for key in self.id_field.split("."):
                found = found[key]
            return Receipt(Outcome.SENT, remote_id=str(found), http_status=response.status_code,
                           message="nền tảng truyền thanh đã nhận chương trình")

        return call(send, success)

    def withdraw(self, external_id: str) -> Receipt:
        """Take the programme ``external_id`` off the platform (its slot has nothing left to play)."""
        from channels.http import call, classify_status

        field = self.fields.get("external_id", "external_id")

        def gone(response) -> Receipt | None:  # noqa: ANN001
            if response.status_code == 404:
                return Receipt(Outcome.SENT, http_status=404, message="nền tảng không có chương trình này")
            return classify_status(response)

        return call(lambda: self._session.delete(self.url, params={field: external_id}, headers=self._headers(),
                                                 timeout=self.timeout),
                    lambda response: Receipt(Outcome.SENT, http_status=response.status_code,
                                             message="đã gỡ chương trình khỏi nền tảng truyền thanh"), gone)

    def _headers(self) -> dict[str, str]:
        if not self._token:
            return {}
        return {self.auth_header: f"{self.auth_scheme} {self._token}".strip()}


def sidecar(channel: str, slot_label: str, kind: str, duration_ms: int, parts: list[dict],
            notes: list[str]) -> str:
    """The JSON beside each programme: what plays when, for the station PC and for people."""
    return json.dumps({
        "channel": channel, "slot": slot_label, "kind": kind, "duration_ms": duration_ms,
        "items": [{key: part[key] for key in ("ref_code", "lang", "title", "engine", "start_ms", "duration_ms")}
                  for part in parts],
        "notes": notes,
    }, ensure_ascii=False, indent=2)


def playlist(mp3_name: str, title: str, duration_ms: int) -> str:
    return f"#EXTM3U\n#EXTINF:{round(duration_ms / 1000)},{title}\n{mp3_name}\n"


def _send(sock: socket.socket, piece: bytes, where: str) -> None:
    try:
        sock.sendall(piece)
    except OSError as exc:
        raise PlayoutError(f"Icecast ngắt kết nối {where}: {exc}") from None


def _header_text(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1").replace("\r", " ").replace("\n", " ")
