"""Âm thanh của đài: the station's own jingle, station ID and outro, recorded by the station.

A loudspeaker programme opens with a jingle and the station ID and closes with the outro and the
jingle (``channels.loudspeaker.programme``). By default the jingle is a chime made from sine tones and
the station ID and outro are the channel's ``station_id``/``outro`` texts read by the voice. A station
may upload its own recordings instead: one jingle (no language), and the station ID and outro in
Vietnamese, Thái and Mông. Each upload is checked like a translator's recording (audio, not silent,
not too long), copied into ``data/station/<channel>/`` (so a backup carries it), recorded in
``StationSound`` and in the audit trail. The broadcaster levels it into the voice cache like every
other clip; a Thái or Mông station ID or outro plays only in programmes that carry that language.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from sqlmodel import Session, select

from channels.languages import LANGUAGE_NAMES
from scheduler.announcements import check_recording, copy_recording
from scheduler.config import Config
from scheduler.errors import InputError
from scheduler.record import audit, scope
from scheduler.record.models import StationSound

KINDS = {"jingle": "nhạc hiệu", "station_id": "lời giới thiệu đài", "outro": "lời kết"}
MAX_SECONDS = {"jingle": 30, "station_id": 120, "outro": 120}  # every programme carries them twice or once


def folder(data_dir: Path, channel: str) -> Path:
    return data_dir / "station" / channel


def check_target(config: Config, channel: str, kind: str, lang: str) -> str:
    """The language the sound is stored under ("" for the jingle); ``InputError`` for a channel that is
    not a loudspeaker, an unknown kind, or a language the channel does not broadcast."""
    found = config.channels.get(channel)
    if found is None or not found.slotted:
        loudspeakers = ", ".join(n for n, ch in config.channels.items() if ch.slotted) or "chưa có"
        raise InputError("--channel", f"'{channel}' không phải kênh truyền thanh; "
                                      f"các kênh truyền thanh: {loudspeakers}")
    if kind not in KINDS:
        raise InputError("KIND", f"'{kind}' không phải loại âm thanh của đài; hãy chọn jingle (nhạc hiệu), "
                                 "station_id (lời giới thiệu đài) hoặc outro (lời kết)")
    if kind == "jingle":
        return ""
    if lang not in found.languages:
        shown = ", ".join(f"{code} ({LANGUAGE_NAMES.get(code, code)})" for code in found.languages)
        raise InputError("--lang", f"kênh {channel} không phát tiếng '{lang}'; các tiếng của kênh: {shown}")
    return lang


def store(session: Session, config: Config, data_dir: Path, *, channel: str, kind: str, lang: str, source: Path,
          actor: str, now: datetime, shown_as: str | None = None) -> StationSound:
    """Check ``source`` and make it the channel's ``kind`` in ``lang``, replacing an earlier upload."""
    lang = check_target(config, channel, kind, lang)
    scope.check_actor(session, actor, config.channels[channel].unit, f"kênh {config.channels[channel].title}")
    duration_ms = check_recording(source, config, "FILE", shown_as=shown_as, max_seconds=MAX_SECONDS[kind])
    if duration_ms > MAX_SECONDS[kind] * 1000:
        raise InputError("FILE", f"{KINDS[kind]} dài {duration_ms / 1000:.0f} giây, tối đa {MAX_SECONDS[kind]} giây "
                                 "vì chương trình nào cũng phát; hãy cắt ngắn")
    stem = f"{kind}-{lang}" if lang else kind
    target, digest = copy_recording(source, folder(data_dir, channel), stem, "FILE")
    row = find(session, channel, kind, lang)
    if row is None:
        row = StationSound(channel_id=channel, kind=kind, lang=lang, file="", sha256="", duration_ms=0,
                           uploaded_by=actor, uploaded_at=now)
        session.add(row)
    row.file, row.sha256, row.duration_ms = target.name, digest, duration_ms
    row.uploaded_by, row.uploaded_at = actor, now
    audit.record(session, unit=config.channels[channel].unit, actor=actor, action="station-sound",
                 subject=f"channel:{channel}", at=now, kind=kind, lang=lang, sha256=digest[:12],
                 duration_ms=duration_ms)
    return row  # an earlier file stays in the folder: the transaction may still fail, and it is small


def clear(session: Session, config: Config, *, channel: str, kind: str, lang: str, actor: str,
          now: datetime) -> bool:
    """Go back to the default (chime or voiced text) for ``kind`` in ``lang``; False if none was set.
    The file stays in the folder (a backup may still name it); only the row goes."""
    lang = check_target(config, channel, kind, lang)
    scope.check_actor(session, actor, config.channels[channel].unit, f"kênh {config.channels[channel].title}")
    row = find(session, channel, kind, lang)
    if row is None:
        return False
    session.delete(row)
    audit.record(session, unit=config.channels[channel].unit, actor=actor, action="station-sound-cleared",
                 subject=f"channel:{channel}", at=now, kind=kind, lang=lang)
    return True


def find(session: Session, channel: str, kind: str, lang: str) -> StationSound | None:
    """The channel's own ``kind`` in ``lang`` ("" for the jingle), if the station uploaded one."""
    return session.exec(select(StationSound).where(StationSound.channel_id == channel, StationSound.kind == kind,
                                                   StationSound.lang == lang)).first()


def sounds(session: Session, channel: str | None = None) -> list[StationSound]:
    query = select(StationSound).order_by(StationSound.channel_id, StationSound.kind, StationSound.lang)
    if channel is not None:
        query = query.where(StationSound.channel_id == channel)
    return list(session.exec(query).all())


def overview(session: Session, config: Config, names: list[str]) -> list[dict]:
    """Every part of every named loudspeaker channel, and whether the station's recording or the
    default plays (for ``cchc station list`` and the channels page)."""
    own = {(row.channel_id, row.kind, row.lang): row for row in sounds(session)}
    rows = []
    for name in names:
        for kind, label in KINDS.items():
            for lang in [""] if kind == "jingle" else config.channels[name].languages:
                row = own.get((name, kind, lang))
                default = "tiếng chuông tự tạo" if kind == "jingle" else (
                    "giọng đọc lời trong cấu hình" if lang == "vi" else "không phát")
                rows.append({"channel": name, "kind": kind, "part": label, "lang": lang or "-", "own": row is not None,
                             "source": f"bản ghi của đài ({row.duration_ms / 1000:.1f} giây)" if row else default,
                             "by": row.uploaded_by if row else "", "at": row.uploaded_at if row else None})
    return rows


def path_of(data_dir: Path, row: StationSound) -> Path:
    return folder(data_dir, row.channel_id) / row.file
