"""What the loudspeaker family is configured with, apart from a channel's own settings.

- ``check_slots``: daily slot times (``HH:MM``), for a channel's ``slots`` and a unit's;
- ``SpeechFile``: ``config/speech.toml``, the TTS engines per language, their options, the limits of
  recorded voice files and the lexicon read aloud in full. ``scheduler.config`` loads it with the rest
  of ``config/``; the TTS chain (``tts.Voices``) is built from it.

Kept light (pydantic only), so loading the configuration never imports pydub or the TTS engines.
"""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

_HHMM = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def is_hhmm(value: str) -> bool:
    return bool(_HHMM.match(value))


def check_slots(values: list[str]) -> list[str]:
    """Daily slot times (``HH:MM``), sorted; a ``ValueError`` for config validators otherwise."""
    for value in values:
        if not is_hhmm(value):
            raise ValueError(f"khung giờ '{value}' phải có dạng HH:MM, ví dụ 06:00")
    return sorted(values)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


Engine = Literal["gtts", "espeak-ng", "recording"]


class GttsConfig(_Strict):
    timeout_seconds: float = Field(default=10, gt=0, le=120)
    cooldown_minutes: float = Field(default=10, ge=0)
    endpoint: str | None = None


class EspeakConfig(_Strict):
    voice: str = "vi"
    words_per_minute: int = Field(default=150, ge=80, le=400)


class RecordingsConfig(_Strict):
    max_minutes: float = Field(default=15, gt=0)
    silence_dbfs: float = Field(default=-50, lt=0)


class LoudnessConfig(_Strict):
    """EBU R128 levelling of every clip as it enters the cache (``loudness.normalize``)."""

    target_lufs: float = Field(default=-16, ge=-31, le=-10)  # integrated loudness of every part
    true_peak_dbtp: float = Field(default=-1.5, ge=-9, le=0)  # no sample, between samples too, above this


class SpeechFile(_Strict):
    """``config/speech.toml``: the TTS engines per language and the lexicon read aloud in full."""

    dialect: Literal["north", "south"] = "north"  # how numbers are read: "linh, tư, nghìn" or "lẻ, bốn, ngàn"
    engines: dict[str, list[Engine]]
    gtts: GttsConfig = GttsConfig()
    espeak: EspeakConfig = EspeakConfig()
    recordings: RecordingsConfig = RecordingsConfig()
    loudness: LoudnessConfig = LoudnessConfig()
    abbreviations: dict[str, str] = {}
    document_codes: dict[str, str] = {}
    addresses: dict[str, str] = {}
