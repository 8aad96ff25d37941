"""The activities register (hoạt động): what a plan requires besides broadcasts and posts.

Conferences and training, the leaders' dialogue with businesses (twice a year in both seed plans),
contests, coverage in the press (Báo Sơn La) and on radio-TV (Đài PT-TH). Each is recorded with its
date, unit, place, participants, a note and an evidence file: a photo (JPEG, PNG, WebP) or a PDF,
checked by what it holds, not by its name, and kept in the data folder (``activities/<unit>/``, so
a backup carries it). A target with ``activity = "<kind>"`` counts them by the day they took place
(``scheduler.plans.compliance``); the report lists them.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

from sqlmodel import Session, col, func, select

from scheduler.announcements import copy_recording
from scheduler.codes import ACTIVITY_KIND, activity_kind_problem
from scheduler.config import Config
from scheduler.errors import InputError
from scheduler.record import audit, scope
from scheduler.record.models import Activity
from scheduler.text import MAX_TITLE, clean_text

KINDS = ACTIVITY_KIND
MAX_EVIDENCE = 20 * 2**20
MAX_PIXELS = 64_000_000  # below Pillow's own bomb limit; a browser showing the evidence decodes it whole
IMAGE_FORMATS = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp"}


def check_evidence(path: Path, field: str = "--evidence", shown_as: str | None = None) -> str:
    """The suffix an evidence file is kept under (.pdf, .jpg, .png, .webp), after looking inside it:
    ``InputError`` for anything else (a document, a zip renamed .jpg, a broken image)."""
    name = shown_as or path.name
    if not path.is_file():
        raise InputError(field, f"không tìm thấy tệp minh chứng '{name}'")
    with path.open("rb") as handle:
        head = handle.read(8)
    if head.startswith(b"%PDF-"):
        return ".pdf"
    from PIL import Image, UnidentifiedImageError

    too_big = InputError(field, f"ảnh '{name}' quá lớn: tối đa {MAX_PIXELS // 1_000_000} triệu điểm ảnh (ảnh chụp bằng "
                                "điện thoại thường 12–50 triệu); hãy thu nhỏ ảnh rồi chọn lại")
    try:  # opening reads only the header; its size is checked before anything would decode the pixels
        with Image.open(path) as image:
            found = image.format
            if image.width * image.height > MAX_PIXELS:
                raise too_big
            image.verify()
    except Image.DecompressionBombError:  # a header claiming billions of pixels, refused by Pillow itself
        raise too_big from None
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        found = None
    if found not in IMAGE_FORMATS:
        raise InputError(field, f"tệp minh chứng '{name}' không phải ảnh (JPEG, PNG, WebP) hay PDF; hãy chọn ảnh "
                                "chụp hoạt động hoặc bản PDF của văn bản, bài báo")
    return IMAGE_FORMATS[found]


def record(session: Session, config: Config, data_dir: Path, *, unit: str, kind: str, held_on: date, title: str,
           place: str = "", participants: int | None = None, note: str = "", evidence: Path, actor: str,
           now: datetime, shown_as: str | None = None) -> Activity:
    """Check everything, keep the evidence file, then record the activity (nothing is stored if anything is
    wrong). ``actor`` must belong to ``unit`` once accounts exist."""
    if unit not in config.units:
        raise InputError("--unit", f"không có đơn vị '{unit}'")
    problem = activity_kind_problem(kind)
    if problem:
        raise InputError("--kind", problem)
    title = clean_text(title, "--title", limit=MAX_TITLE)
    place = clean_text(place, "--place", limit=200, required=False)
    note = clean_text(note, "--note", limit=4000, required=False)
    if participants is not None and not 0 <= participants <= 1_000_000:
        raise InputError("--participants", "số người tham dự phải từ 0 đến 1.000.000")
    if held_on > now.date() or held_on.year < 2000:
        raise InputError("--date", f"ngày {held_on:%d/%m/%Y} chưa tới hoặc không hợp lệ: chỉ ghi hoạt động đã diễn ra")
    scope.check_actor(session, actor, unit, f"hoạt động của {config.units[unit].name}")
    suffix = check_evidence(evidence, shown_as=shown_as)
    copied, digest = copy_recording(evidence, data_dir / "activities" / unit, f"{held_on:%Y%m%d}-{kind}",
                                    "--evidence", what="tệp minh chứng", limit=MAX_EVIDENCE)
    target = copied.rename(copied.with_suffix(suffix))  # kept under what it is, whatever it was called
    row = Activity(unit_id=unit, kind=kind, held_on=held_on, title=title, place=place, participants=participants,
                   note=note, evidence=target.name, evidence_sha256=digest, recorded_by=actor, recorded_at=now)
    session.add(row)
    session.flush()
    audit.record(session, unit=row.unit_id, actor=actor, action="activity", subject=f"activity:{row.id}", at=now,
                 kind=kind, held_on=held_on.isoformat(), sha256=digest[:12])
    return row


def listed(session: Session, *, unit: str, since: date | None = None, until: date | None = None) -> list[Activity]:
    """The unit's activities held in ``[since, until)``, newest first."""
    query = select(Activity).where(Activity.unit_id == unit)
    if since:
        query = query.where(col(Activity.held_on) >= since)
    if until:
        query = query.where(col(Activity.held_on) < until)
    return list(session.exec(query.order_by(col(Activity.held_on).desc(), col(Activity.id).desc())).all())


def counts(session: Session, *, units: list[str], kind: str, since: date, until: date) -> dict[tuple[str, date], int]:
    """How many activities of ``kind`` each of ``units`` held each day in ``[since, until)`` (one query)."""
    return {(unit, day): count for unit, day, count in session.exec(
        select(Activity.unit_id, Activity.held_on, func.count()).where(
            col(Activity.unit_id).in_(units), Activity.kind == kind, col(Activity.held_on) >= since,
            col(Activity.held_on) < until).group_by(Activity.unit_id, Activity.held_on)).all()}


def path_of(data_dir: Path, row: Activity) -> Path:
    return data_dir / "activities" / row.unit_id / row.evidence
