"""The commune loudspeaker system (hệ thống truyền thanh), kind ``loudspeaker``.

Unlike the online channels it does not publish one delivery at a time: its deliveries wait for a
daily slot, where ``scheduler.broadcast`` voices them (``tts``), assembles a programme
(``programme``) and hands it to playout (``playout``). This class holds the channel's settings and
builds its playout backend; the dispatcher leaves its deliveries alone (``slotted``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from channels.base import Channel, ChannelSettings, Outcome, Post, Receipt
from channels.loudspeaker.config import check_slots
from channels.secrets import read_secret

if TYPE_CHECKING:  # playout (requests) loads when a programme goes out, not with the settings
    from channels.loudspeaker.playout import HttpPlayout, IcecastPlayout

_ENV = r"^[A-Z][A-Z0-9_]*$"


class IcecastSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^http://")
    mount: str = Field(pattern=r"^/?[A-Za-z0-9._\-/]+$")
    user: str = "source"
    password_env: str = Field(pattern=_ENV)


class HttpPlayoutSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: str = Field(pattern=r"^https?://")
    token_env: str | None = Field(default=None, pattern=_ENV)
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    file_field: str = "file"
    fields: dict[str, str] = {}
    id_field: str = "id"
    timeout_seconds: float = Field(default=60, gt=0, le=600)


class LoudspeakerSettings(ChannelSettings):
    slots: list[str] = Field(min_length=1)
    max_minutes: float = Field(default=20, gt=0, le=180)
    prepare_minutes: int = Field(default=10, ge=1, le=120)
    station_id: str = Field(min_length=1)
    outro: str = "Chương trình phát thanh đến đây là kết thúc. Cảm ơn bà con đã lắng nghe."
    gap_ms: int = Field(default=800, ge=0, le=10_000)
    item_gap_ms: int = Field(default=1500, ge=0, le=10_000)
    target_dbfs: float = Field(default=-18, ge=-40, le=-6)
    bitrate: str = Field(default="64k", pattern=r"^(32|48|56|64|96|128|160|192)k$")
    sample_rate: Literal[22050, 24000, 32000, 44100, 48000] = 44100
    audio_channels: Literal[1, 2] = 1
    playout: Literal["folder", "icecast", "http"] = "folder"
    folder: str | None = None
    keep_days: int = Field(default=14, ge=1)
    icecast: IcecastSettings | None = None
    http: HttpPlayoutSettings | None = None

    @field_validator("slots")
    @classmethod
    def _slots(cls, values: list[str]) -> list[str]:
        return check_slots(list(set(values)))

    @model_validator(mode="after")
    def _backend(self) -> LoudspeakerSettings:
        if self.playout == "icecast" and self.icecast is None:
            raise ValueError("playout = \"icecast\" cần bảng [channels.<tên>.settings.icecast] (url, mount, "
                             "password_env)")
        if self.playout == "http" and self.http is None:
            raise ValueError("playout = \"http\" cần bảng [channels.<tên>.settings.http] (url, token_env...)")
        return self


class LoudspeakerChannel(Channel):
    """A commune loudspeaker cluster: daily slots, a programme per slot, one playout backend."""

    kind = "loudspeaker"
    category = "loudspeaker"
    label = "Truyền thanh"
    Settings = LoudspeakerSettings
    slotted: ClassVar[bool] = True
    settings: LoudspeakerSettings

    def send(self, post: Post) -> Receipt:
        # Never called by the dispatcher; a loudspeaker item goes out in a slot programme.
        return Receipt(Outcome.PERMANENT, message="kênh truyền thanh chỉ phát theo khung giờ")

    def check(self) -> list[str]:
        problems = []
        s = self.settings
        if s.playout == "icecast" and s.icecast and not read_secret(s.icecast.password_env):
            problems.append(f"chưa đặt biến môi trường {s.icecast.password_env} (mật khẩu nguồn Icecast)")
        if s.playout == "http" and s.http and s.http.token_env and not read_secret(s.http.token_env):
            problems.append(f"chưa đặt biến môi trường {s.http.token_env} (mã truy cập nền tảng truyền thanh)")
        return problems

    def icecast(self) -> IcecastPlayout:
        from channels.loudspeaker.playout import IcecastPlayout, PlayoutError

        s = self.settings.icecast
        assert s is not None
        password = read_secret(s.password_env)
        if not password:
            raise PlayoutError(f"chưa đặt biến môi trường {s.password_env} (mật khẩu nguồn Icecast)")
        return IcecastPlayout(s.url, s.mount, s.user, password, name=self.settings.station_id[:80])

    def http(self) -> HttpPlayout:
        from channels.loudspeaker.playout import HttpPlayout

        s = self.settings.http
        assert s is not None
        return HttpPlayout(s.url, read_secret(s.token_env) if s.token_env else None, auth_header=s.auth_header,
                           auth_scheme=s.auth_scheme, file_field=s.file_field, fields=s.fields,
                           id_field=s.id_field, timeout=s.timeout_seconds)

    def describe(self) -> str:
        s = self.settings
        return f"loudspeaker:{self.name} slots={','.join(s.slots)} playout={s.playout}"
