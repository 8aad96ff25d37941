"""The commune loudspeaker system (hệ thống truyền thanh), kind ``loudspeaker``.

Unlike the online channels it does not publish one delivery at a time: its deliveries wait for a
daily slot, where ``scheduler.loudspeaker.broadcast`` voices them (``tts``), assembles a programme
(``programme``) and hands it to playout (``playout``). This class holds the channel's settings and
builds its playout backend; the dispatcher leaves its deliveries alone (``slotted``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field, ValidationError, field_validator, model_validator

from channels.base import Channel, ChannelSettings, Outcome, Post, Receipt
from channels.loudspeaker.config import check_slots
from channels.loudspeaker.playout import PLAYOUTS, Playout, playout_class

_TABLE_ERRORS = {"missing": "thiếu khóa bắt buộc này", "extra_forbidden": "khóa không hợp lệ (gõ nhầm?)"}


class LoudspeakerSettings(ChannelSettings):
    slots: list[str] = Field(min_length=1)
    max_minutes: float = Field(default=20, gt=0, le=180)
    prepare_minutes: int = Field(default=10, ge=1, le=120)
    station_id: str = Field(min_length=1)
    outro: str = "Chương trình phát thanh đến đây là kết thúc. Cảm ơn bà con đã lắng nghe."
    gap_ms: int = Field(default=800, ge=0, le=10_000)
    item_gap_ms: int = Field(default=1500, ge=0, le=10_000)
    # Before EBU R128 levelling: read and left unused (the loudness is speech.toml's [loudness] now),
    # so a configuration written for an older release still loads.
    target_dbfs: float | None = Field(default=None, ge=-40, le=-6)
    bitrate: str = Field(default="64k", pattern=r"^(32|48|56|64|96|128|160|192)k$")
    sample_rate: Literal[22050, 24000, 32000, 44100, 48000] = 44100
    audio_channels: Literal[1, 2] = 1
    playout: str = "folder"  # a name in playout.PLAYOUTS
    folder: str | None = None
    keep_days: int = Field(default=14, ge=1)
    # The tables named after a playout ([...settings.icecast], [...settings.http]), each validated by
    # that playout's Settings; only the chosen one is used.
    backends: dict[str, Any] = {}

    @field_validator("slots")
    @classmethod
    def _slots(cls, values: list[str]) -> list[str]:
        return check_slots(list(set(values)))

    @model_validator(mode="before")
    @classmethod
    def _tables(cls, data: Any) -> Any:
        if isinstance(data, dict) and "backends" not in data:
            data = dict(data)
            data["backends"] = {name: data.pop(name) for name in list(data) if name in PLAYOUTS}
        return data

    @model_validator(mode="after")
    def _backend(self) -> LoudspeakerSettings:
        if self.playout not in PLAYOUTS:
            raise ValueError(f"playout '{self.playout}' không có; chọn một trong: {', '.join(PLAYOUTS)}")
        for name, table in list(self.backends.items()):
            model = playout_class(name).Settings
            if model is None or isinstance(table, BaseModel):
                continue
            try:
                self.backends[name] = model.model_validate(table)
            except ValidationError as exc:
                raise ValueError("; ".join(
                    f"{name}.{'.'.join(map(str, e['loc']))}: {_TABLE_ERRORS.get(e['type'], e['msg'])}"
                    for e in exc.errors())) from None
        model = playout_class(self.playout).Settings
        if model is not None and self.playout not in self.backends:
            needed = ", ".join(n for n, f in model.model_fields.items() if f.is_required())
            raise ValueError(f"playout = \"{self.playout}\" cần bảng [channels.<tên>.settings.{self.playout}] "
                             f"({needed})")
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
        s = self.settings
        return playout_class(s.playout).problems(s.backends.get(s.playout))

    @property
    def playout_kind(self) -> type[Playout]:
        """The class of this channel's playout: what it does ahead of and at slot time."""
        return playout_class(self.settings.playout)

    def playout(self) -> Playout:
        """This channel's playout, built from its table (``PlayoutError`` if a secret is missing)."""
        s = self.settings
        return self.playout_kind.build(s.backends.get(s.playout), station=s.station_id[:80])

    def describe(self) -> str:
        s = self.settings
        return f"loudspeaker:{self.name} slots={','.join(s.slots)} playout={s.playout}"
