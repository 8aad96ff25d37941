"""What the compose form sends, turned into the core's words: a ``Draft``, translations, recordings.

Kept apart from the routes so that the rules of the form (which fields mean "leave as it is", what an
upload may be) can be read in one place.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from starlette.datastructures import UploadFile

from scheduler.announcements import MAX_AUDIO_BYTES, Draft
from scheduler.clock import LOCAL_TZ, parse_local, parse_local_date
from scheduler.errors import InputError
from scheduler.record.models import Announcement

TRANSLATED = ("blt", "hmn")  # typed by a translator; Vietnamese is the announcement itself
AUDIO_TYPES = (".mp3", ".wav", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".flac", ".webm", ".amr", ".3gp")
CHUNK = 1024 * 1024
FLAGS = {"at": "--at", "expires": "--expires"}
# The core names fields as the command line does; a person on the web sees the label of the box.
FIELD_TEXT = {"--title": "Tiêu đề", "--body": "Nội dung", "--topic": "Nội dung của kế hoạch", "--channel": "Kênh",
              "--lang": "Tiếng", "--priority": "Mức ưu tiên", "--at": "Giờ phát", "--next-slot": "Khung giờ kế tiếp",
              "--repeat": "Lặp lại", "--until": "Lặp đến ngày", "--expires": "Không phát sau", "--unit": "Đơn vị",
              "--period": "Kỳ báo cáo", "--audio": "Tệp ghi âm", "FILE": "Tệp ghi âm", "KIND": "Phần",
              "title_blt": "Tiêu đề tiếng Thái", "body_blt": "Bản tiếng Thái", "audio_blt": "Ghi âm tiếng Thái",
              "title_hmn": "Tiêu đề tiếng Mông", "body_hmn": "Bản tiếng Mông", "audio_hmn": "Ghi âm tiếng Mông",
              "--evidence": "Minh chứng", "--date": "Ngày diễn ra", "--kind": "Loại hoạt động", "--place": "Địa điểm",
              "--participants": "Số người tham dự", "--note": "Ghi chú", "password": "Mật khẩu",
              "NAME": "Tên đăng nhập", "role": "Vai trò"}


def message(exc: Exception) -> str:
    """The error as a person on the web should read it: its page wording if it has one, the box's label
    instead of a CLI flag."""
    if getattr(exc, "web", None):
        return exc.web
    if isinstance(exc, InputError):
        return f"{FIELD_TEXT.get(exc.field, exc.field)}: {str(exc).removeprefix(exc.field + ': ')}"
    return str(exc)


def draft_from(values: dict[str, Any], current: Announcement | None = None) -> Draft:
    """The form as a ``Draft``. Editing ``current``: a schedule left as it was stays untouched, so an
    announcement whose first broadcast is past can still have its text corrected."""

    def listed(key: str) -> list[str] | None:
        value = values.get(key)
        items = value if isinstance(value, list) else ([value] if value else [])
        return [str(v) for v in items if str(v).strip()] or None

    def moment(key: str) -> datetime | None:
        text = str(values.get(key) or "").replace("T", " ").strip()
        return parse_local(text, FLAGS[key]) if text else None

    until_text = str(values.get("until") or "").strip()
    draft = Draft(title=values.get("title"), body=values.get("body"), topics=listed("topics") or [],
                  channels=listed("channels"), languages=listed("languages"),
                  priority=values.get("priority") or None, at=moment("at"),
                  next_slot=bool(values.get("next_slot")), repeat=values.get("repeat") or "none",
                  until=parse_local_date(until_text, "--until") if until_text else None,
                  expires_at=moment("expires"))
    if current is not None:
        same = (draft.at == current.first_at and draft.next_slot == current.next_slot
                and draft.repeat == current.repeat
                and draft.until == (current.repeat_until.astimezone(LOCAL_TZ).date()
                                    if current.repeat_until else None))
        if same:
            draft.at = draft.next_slot = draft.repeat = draft.until = None
        if draft.expires_at == current.expires_at:
            draft.expires_at = None
    elif not draft.next_slot:
        draft.next_slot = None
    return draft


def form_values(ann: dict[str, Any]) -> dict[str, Any]:
    """An announcement (as ``queries.announcement`` shows it) as the compose form's values."""
    values = {key: ann[key] for key in ("title", "body", "topics", "channels", "languages", "priority")}
    schedule = ann["schedule"]
    values.update(at=schedule["at"], next_slot=schedule["next_slot"], repeat=schedule["repeat"],
                  until=schedule["until"], expires=schedule["expires"])
    for t in ann["translations"]:
        values[f"title_{t['lang']}"], values[f"body_{t['lang']}"] = t["title"], t["body"]
        values[f"audio_{t['lang']}_name"] = Path(t["audio"]).name if t["audio"] else ""
    return values


def listed(values: dict[str, Any]) -> dict[str, Any]:
    """Form values for re-showing the form: many-valued fields always as lists, uploads left out."""
    out = {key: value for key, value in values.items() if not isinstance(value, UploadFile)}
    for key in ("topics", "channels", "languages"):
        value = out.get(key)
        out[key] = value if isinstance(value, list) else ([value] if value else [])
    return out


@dataclass(frozen=True)
class Accepts:
    """What an upload field takes: file endings, a size limit, and the words for a person."""

    types: tuple[str, ...]
    limit: int
    what: str  # "tệp âm thanh"
    choose: str  # what to choose instead: ".mp3, .wav, .ogg hoặc .m4a"
    smaller: str  # how to make it smaller


RECORDING = Accepts(AUDIO_TYPES, MAX_AUDIO_BYTES, "tệp âm thanh", ".mp3, .wav, .ogg hoặc .m4a",
                    "hãy ghi âm ngắn hơn hoặc nén sang MP3")
EVIDENCE = Accepts((".jpg", ".jpeg", ".png", ".webp", ".pdf"), 20 * 2**20, "ảnh hay tệp PDF",
                   "ảnh .jpg, .png, .webp hoặc tệp .pdf", "hãy chụp lại ảnh nhỏ hơn hoặc nén tệp PDF")


async def save_upload(upload: Any, field: str, folder: Path, accepts: Accepts = RECORDING) -> Path | None:
    """Store an uploaded file (a recording, by default) in a temporary file in ``folder``; ``None`` if none
    was chosen.

    Refuses a name that ``accepts`` does not take and anything over its size limit; what the content
    really is (audio, not silent or too long; a photo or PDF) is checked by the core afterwards."""
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    suffix = Path(upload.filename).suffix.lower()
    if suffix not in accepts.types:
        raise InputError(field, f"tệp '{upload.filename}' không phải {accepts.what}; hãy chọn {accepts.choose}")
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=suffix, delete=False) as out:
        size = 0
        while chunk := await upload.read(CHUNK):
            size += len(chunk)
            if size > accepts.limit:
                out.close()
                Path(out.name).unlink()
                raise InputError(field, f"tệp '{upload.filename}' quá lớn (tối đa {accepts.limit // 2**20} MB); "
                                        f"{accepts.smaller}")
            out.write(chunk)
    if size == 0:
        Path(out.name).unlink()
        raise InputError(field, f"tệp '{upload.filename}' trống; hãy chọn lại tệp")
    return Path(out.name)
