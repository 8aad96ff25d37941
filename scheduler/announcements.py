"""Announcements through their life: create, edit, translate, submit, approve or reject, cancel.

Approval is where content becomes work: in the same transaction it records who approved which exact
content (a hash) and expands the announcement into deliveries, one per channel x language x time, so
"approved but never queued" cannot happen. Any later change voids the approval and cancels what has
not gone out yet. Every function takes the session and ``now``; none commits.
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlmodel import Session, col, func, select

from channels import REGISTRY
from channels.languages import LANGUAGE_NAMES
from scheduler.clock import LOCAL_TZ, local_midnight, next_slot, show, show_vn
from scheduler.config import ChannelConfig, Config
from scheduler.errors import ContentChangedError, InputError, NotFoundError, RuleError
from scheduler.labels import ANNOUNCEMENT_STATUS
from scheduler.outbox.deliveries import move
from scheduler.outbox.posts import content_hash_of
from scheduler.outbox.states import CANCELLABLE
from scheduler.record import audit, scope
from scheduler.record.models import (
    PRIORITY_RANK,
    Announcement,
    AnnouncementStatus,
    Approval,
    Channel,
    Delivery,
    DeliveryState,
    Priority,
    Repeat,
    Topic,
    Translation,
    Unit,
)
from scheduler.record.models import Plan as PlanRow
from scheduler.text import MAX_BODY, MAX_TITLE, check_language, clean_text, one_line

MAX_OCCURRENCES = 400
MAX_AUDIO_BYTES = 50 * 1024 * 1024
A = AnnouncementStatus


@dataclass
class Draft:
    """What a person typed to create or change an announcement; ``None`` means "leave as it is"."""

    title: str | None = None
    body: str | None = None
    topics: list[str] | None = None
    channels: list[str] | None = None
    languages: list[str] | None = None
    priority: str | None = None
    at: datetime | None = None
    next_slot: bool | None = None
    repeat: str | None = None
    until: date | None = None
    expires_at: datetime | None = None
    unit: str | None = None
    evergreen: bool | None = None
    changed: list[str] = field(default_factory=list)


def get(session: Session, announcement_id: int) -> Announcement:
    found = session.get(Announcement, announcement_id)
    if found is None:
        raise NotFoundError("thông báo", announcement_id)
    return found


def create(session: Session, *, config: Config, draft: Draft, author: str, now: datetime) -> Announcement:
    """Validate ``draft`` completely, then store it as a draft announcement with a reference code."""
    unit_id = draft.unit or config.default_unit
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise InputError("--unit", f"không có đơn vị '{unit_id}'; các đơn vị: {', '.join(config.units)}")
    scope.check_actor(session, author, unit_id, "thông báo mới")
    ann = Announcement(unit_id=unit_id, ref_code="", title="", body="", author=author, writers=[author],
                       created_at=now, updated_at=now)
    _apply(session, ann, draft, config=config, now=now, creating=True)
    ann.ref_code = f"pending-{now.timestamp()}"
    session.add(ann)
    session.flush()
    year = now.astimezone(LOCAL_TZ).year
    ann.ref_code = f"{unit.ref_prefix}-{year}-{ann.id:04d}"
    audit.record(session, unit=ann.unit_id, actor=author, action="create", subject=f"announcement:{ann.id}", at=now,
                 ref=ann.ref_code, title=ann.title)
    return ann


def edit(session: Session, *, config: Config, ann: Announcement, draft: Draft, actor: str,
         now: datetime) -> list[str]:
    """Change an announcement; voids any approval. Returns a note per consequence, for the person."""
    lock(session, ann, actor)
    if ann.status == A.CANCELLED:
        raise RuleError(f"thông báo {ann.id} đã bị hủy; hãy tạo thông báo mới")
    _apply(session, ann, draft, config=config, now=now, creating=False)
    if not draft.changed:  # saving the same text again keeps its approval
        return []
    _add_writer(ann, actor)
    notes = _reopen(session, ann, actor=actor, now=now, why="đã sửa nội dung")
    audit.record(session, unit=ann.unit_id, actor=actor, action="edit", subject=f"announcement:{ann.id}", at=now,
                 changed=draft.changed)
    return notes


def check_recording(path: Path, config: Config, field: str, *, shown_as: str | None = None,
                    max_seconds: float | None = None) -> int:
    """Refuse a recording now, not at broadcast time, if it is not audio, is silent or is far too long
    (``InputError`` on ``field``); ``max_seconds``: a shorter limit, checked on the file's header before
    anything is decoded; ``shown_as`` replaces the file's own name in the message. Returns its length in
    milliseconds."""
    from channels.loudspeaker.tts import VoiceError, load_recording  # pydub loads only with a recording

    try:
        return len(load_recording(path, config.speech.recordings, max_seconds=max_seconds))
    except VoiceError as exc:
        message = str(exc).replace(path.name, shown_as) if shown_as else str(exc)
        raise InputError(field, message) from None


def translate(session: Session, *, ann: Announcement, lang: str, title: str | None, body: str,
              audio: Path | None, recordings: Path, translator: str, now: datetime) -> list[str]:
    """Add or replace the ``blt``/``hmn`` version of an announcement, optionally with a recording."""
    check_language(lang)
    if lang == "vi":
        raise InputError("--lang", "bản tiếng Việt là nội dung chính; hãy dùng 'cchc edit' để sửa")
    lock(session, ann, translator)
    if ann.status == A.CANCELLED:
        raise RuleError(f"thông báo {ann.id} đã bị hủy")
    text = clean_text(body, "--body", limit=MAX_BODY)
    heading = one_line(clean_text(title, "--title", limit=MAX_TITLE, required=False)) or ann.title
    audio_path, audio_sha = (None, None)
    if audio is not None:
        audio_path, audio_sha = _store_recording(recordings, ann, lang, audio)
    row = session.exec(select(Translation).where(
        Translation.announcement_id == ann.id, Translation.lang == lang)).first()
    if row is None:
        row = Translation(announcement_id=ann.id, lang=lang, title=heading, body=text, translator=translator)
        session.add(row)
    row.title, row.body, row.translator, row.updated_at = heading, text, translator, now
    if audio_path:
        row.audio_path, row.audio_sha256 = audio_path, audio_sha
    notes = []
    if lang not in ann.languages:
        ann.languages = [*ann.languages, lang]
        notes.append(f"đã thêm {LANGUAGE_NAMES[lang]} vào các ngôn ngữ phát của thông báo")
    ann.updated_at = now
    _add_writer(ann, translator)
    notes += _reopen(session, ann, actor=translator, now=now, why=f"đã thay đổi bản dịch {lang}")
    audit.record(session, unit=ann.unit_id, actor=translator, action="translate", subject=f"announcement:{ann.id}",
                 at=now, lang=lang, audio=bool(audio_path))
    return notes


def submit(session: Session, *, ann: Announcement, actor: str, now: datetime) -> None:
    """Send a draft for review (thẩm định)."""
    lock(session, ann, actor)
    if ann.status not in (A.DRAFT, A.REJECTED):
        raise RuleError(f"chỉ gửi duyệt được thông báo ở trạng thái nháp; thông báo {ann.id} đang '{ann.status}'")
    _check_complete(session, ann, now=now)
    ann.status, ann.updated_at = A.SUBMITTED, now
    audit.record(session, unit=ann.unit_id, actor=actor, action="submit", subject=f"announcement:{ann.id}", at=now)


def approve(session: Session, *, config: Config, ann: Announcement, approver: str, now: datetime,
            shown_hash: str | None = None) -> list[Delivery]:
    """Approve the exact current content and expand it into deliveries (one transaction).

    ``shown_hash`` is the content hash of the version the approver read (the web form and the API
    always send it; ``cchc approve --content`` may): if the text changed since, nothing is approved.
    """
    lock(session, ann, approver)
    _check_reviewer(session, ann, approver, "phê duyệt")
    current = content_hash(session, ann)
    if shown_hash is not None and shown_hash.strip().lower() != current:
        raise ContentChangedError(ann, current)
    _check_complete(session, ann, now=now)
    approval = Approval(announcement_id=ann.id, decision="approved", actor=approver,
                        content_hash=current, decided_at=now)
    session.add(approval)
    session.flush()
    deliveries = [] if ann.evergreen else expand(session, config=config, ann=ann, approval=approval, now=now)
    if not deliveries and not ann.evergreen:
        raise RuleError("không còn lượt phát nào trong tương lai để tạo; hãy sửa lịch phát của thông báo")
    ann.status, ann.updated_at = A.APPROVED, now
    audit.record(session, unit=ann.unit_id, actor=approver, action="approve", subject=f"announcement:{ann.id}", at=now,
                 content_hash=approval.content_hash, deliveries=len(deliveries))
    return deliveries


def reject(session: Session, *, ann: Announcement, approver: str, reason: str, now: datetime) -> None:
    lock(session, ann, approver)
    _check_reviewer(session, ann, approver, "từ chối")
    why = clean_text(reason, "--reason", limit=2000)
    session.add(Approval(announcement_id=ann.id, decision="rejected", actor=approver, reason=why,
                         content_hash=content_hash(session, ann), decided_at=now))
    ann.status, ann.updated_at = A.REJECTED, now
    audit.record(session, unit=ann.unit_id, actor=approver, action="reject", subject=f"announcement:{ann.id}", at=now,
                 reason=why)


def cancel(session: Session, *, ann: Announcement, actor: str, reason: str, now: datetime) -> int:
    """Stop an announcement; deliveries not yet started are cancelled. Returns how many."""
    lock(session, ann, actor)
    reason = clean_text(reason, "--reason", limit=2000, required=False)
    if ann.status == A.CANCELLED:
        raise RuleError(f"thông báo {ann.id} đã bị hủy từ trước")
    cancelled = _cancel_unsent(session, ann, now=now, why=f"thông báo bị hủy: {reason}".strip(": "))
    ann.status, ann.updated_at = A.CANCELLED, now
    audit.record(session, unit=ann.unit_id, actor=actor, action="cancel", subject=f"announcement:{ann.id}", at=now,
                 reason=reason, deliveries_cancelled=cancelled)
    return cancelled


def content_hash(session: Session, ann: Announcement) -> str:
    """SHA-256 of everything an approver approves: texts, recordings, channels, languages, times."""
    return content_hash_of(ann, session.exec(select(Translation).where(Translation.announcement_id == ann.id)).all())


def current_approval(session: Session, ann: Announcement) -> Approval | None:
    return session.exec(select(Approval).where(
        Approval.announcement_id == ann.id, Approval.decision == "approved",
        col(Approval.voided_at).is_(None)).order_by(col(Approval.id).desc())).first()


def occurrences(ann: Announcement, unit: Unit, now: datetime) -> list[datetime]:
    """The times (UTC) at which an announcement is due, from its schedule."""
    if ann.next_slot:
        if ann.priority == Priority.EMERGENCY or (unit.level == "province" and not unit.slots):
            return [now]  # a province item: each commune's loudspeaker takes it in its next slot (``expand``)
        return [next_slot_after(unit, now)]
    assert ann.first_at is not None
    if ann.repeat == Repeat.NONE:
        return [ann.first_at]
    step = timedelta(days=1 if ann.repeat == Repeat.DAILY else 7)
    local_first = ann.first_at.astimezone(LOCAL_TZ)
    times, day = [], local_first
    while ann.repeat_until and day <= ann.repeat_until.astimezone(LOCAL_TZ):
        times.append(day.astimezone(ann.first_at.tzinfo))
        day = (day.replace(tzinfo=None) + step).replace(tzinfo=LOCAL_TZ)
    return times


def next_slot_after(unit: Unit, now: datetime) -> datetime:
    if not unit.slots:
        raise InputError("--next-slot",
                         f"đơn vị {unit.name} chưa khai báo khung giờ phát (slots) trong config/units.toml")
    return next_slot(unit.slots, now)


def expand(session: Session, *, config: Config, ann: Announcement, approval: Approval,
           now: datetime) -> list[Delivery]:
    """Create the deliveries of an approval: channel x language x time, skipping what already went out.

    A repeat (daily, weekly) repeats only on channels that repeat (``Config.repeats``: loudspeakers);
    other channels get the first occurrence that can still go out, once.
    """
    unit = session.get(Unit, ann.unit_id)
    assert unit is not None
    channels = {c.id: c for c in session.exec(select(Channel).where(col(Channel.id).in_(ann.channels)))}
    taken = {
        (d.channel_id, d.lang, d.due_at)
        for d in session.exec(select(Delivery).where(
            Delivery.announcement_id == ann.id,
            col(Delivery.state).notin_([DeliveryState.CANCELLED, DeliveryState.EXPIRED])))
    }
    sequence = delivery_count(session, ann)
    created: list[Delivery] = []
    once = {name for name in ann.channels if name in config.channels and not config.repeats(name)}
    posted = {(name, lang) for name, lang, _ in taken if name in once}  # a post-once channel already has it
    for due in occurrences(ann, unit, now):
        for name in ann.channels:
            channel = channels.get(name)
            if channel is None or not channel.enabled:
                raise RuleError(f"kênh '{name}' không còn hoạt động; hãy sửa danh sách kênh của thông báo")
            at = due
            if REGISTRY[channel.kind].slotted and ann.priority != Priority.EMERGENCY:
                at = next_slot(channel.settings["slots"], due, inclusive=True)  # it plays in a slot
            expires = at + timedelta(minutes=channel.grace_minutes)
            if ann.expires_at:
                expires = min(expires, ann.expires_at)
            if expires <= now:
                continue
            for lang in ann.languages:
                if lang not in channel.languages or (name, lang, at) in taken or (name, lang) in posted:
                    continue
                sequence += 1
                created.append(new_delivery(session, ann, approval, name, lang, at, expires, now, sequence))
                taken.add((name, lang, at))
                if name in once:
                    posted.add((name, lang))
    session.flush()
    return created


def delivery_count(session: Session, ann: Announcement) -> int:
    """How many deliveries an announcement has ever had: the last number of its delivery references."""
    return session.exec(select(func.count()).select_from(Delivery).where(Delivery.announcement_id == ann.id)).one()


def new_delivery(session: Session, ann: Announcement, approval: Approval, channel: str, lang: str, at: datetime,
                 expires: datetime, now: datetime, sequence: int, origin: str = "schedule") -> Delivery:
    """Add one delivery of the approved content; ``sequence`` numbers its reference (``SL-2025-0007.3``)."""
    delivery = Delivery(
        announcement_id=ann.id, approval_id=approval.id, channel_id=channel, lang=lang,
        ref_code=f"{ann.ref_code}.{sequence}", content_hash=approval.content_hash,
        due_at=at, expires_at=expires, next_attempt_at=at, created_at=now, updated_at=now,
        priority_rank=PRIORITY_RANK[Priority(ann.priority)], origin=origin,
    )
    session.add(delivery)
    return delivery


def _apply(session: Session, ann: Announcement, draft: Draft, *, config: Config, now: datetime,
           creating: bool) -> None:
    """Validate every field of ``draft`` before changing anything on ``ann``."""
    values: dict[str, object] = {}
    if creating or draft.title is not None:
        values["title"] = one_line(clean_text(draft.title, "--title", limit=MAX_TITLE))  # a title is one line
    if creating or draft.body is not None:
        values["body"] = clean_text(draft.body, "--body", limit=MAX_BODY)
    if draft.languages is not None or creating:
        languages = draft.languages or ["vi"]
        values["languages"] = list(dict.fromkeys(check_language(lang) for lang in languages))
    if draft.channels is not None or creating:
        values["channels"] = _channels(config, ann.unit_id, draft.channels or [])
    if draft.topics is not None:
        values["topics"] = _topics(session, ann.unit_id, draft.topics)
    if draft.priority is not None:
        if draft.priority not in set(Priority):
            raise InputError("--priority", "hãy chọn normal (thường), priority (ưu tiên) hoặc emergency (khẩn cấp)")
        values["priority"] = draft.priority
    if draft.evergreen is not None:
        values["evergreen"] = draft.evergreen
    if values.get("evergreen", ann.evergreen):
        if draft.at is not None or draft.next_slot or draft.repeat not in (None, Repeat.NONE):
            raise InputError("--evergreen", "tin dùng lại không có lịch riêng (hệ thống tự xếp vào khung giờ "
                                            "trống); hãy bỏ --at, --next-slot, --repeat")
        values.update(next_slot=False, first_at=None, repeat=Repeat.NONE, repeat_until=None)
    else:
        _apply_schedule(ann, draft, values, now=now, creating=creating or draft.evergreen is False)
    languages = values.get("languages", ann.languages)
    channel_names = values.get("channels", ann.channels)
    served = {lang for name in channel_names for lang in config.channels[name].languages}
    missing = [lang for lang in languages if lang not in served]
    if missing:
        raise InputError("--lang", f"không kênh nào đã chọn phát được {', '.join(missing)}; "
                         "hãy chọn thêm kênh hoặc bỏ ngôn ngữ đó")
    for key, value in values.items():
        if getattr(ann, key) != value:
            draft.changed.append(key)
        setattr(ann, key, value)
    if draft.changed:
        ann.updated_at = now


def _apply_schedule(ann: Announcement, draft: Draft, values: dict[str, object], *, now: datetime,
                    creating: bool) -> None:
    touched = any(v is not None for v in (draft.at, draft.next_slot, draft.repeat, draft.until))
    if not (creating or touched):
        if draft.expires_at is not None:
            _check_expiry(draft.expires_at, ann.first_at, now)
            values["expires_at"] = draft.expires_at
        return
    next_slot = bool(draft.next_slot)
    if next_slot and draft.at is not None:
        raise InputError("--at", "chọn một trong hai: --at (giờ cụ thể) hoặc --next-slot (khung giờ phát kế tiếp)")
    if not next_slot and draft.at is None:
        raise InputError("--at", "hãy cho biết giờ phát: --at \"YYYY-MM-DD HH:MM\" hoặc --next-slot")
    if draft.at is not None and draft.at <= now:
        raise InputError("--at", f"thời gian {show(draft.at)} đã qua (bây giờ là {show(now)}); "
                         "hãy chọn giờ trong tương lai")
    repeat = draft.repeat or Repeat.NONE
    if repeat not in set(Repeat):
        raise InputError("--repeat", "hãy chọn none, daily (hàng ngày) hoặc weekly (hàng tuần)")
    until = None
    if repeat != Repeat.NONE:
        if next_slot or draft.until is None or draft.at is None:
            raise InputError("--until", "lặp lại cần --at (lần đầu) và --until YYYY-MM-DD (ngày cuối)")
        until = local_midnight(draft.until + timedelta(days=1)) - timedelta(seconds=1)
        if until < draft.at:
            raise InputError("--until", "ngày cuối phải sau lần phát đầu tiên")
        count = (until - draft.at) // timedelta(days=1 if repeat == Repeat.DAILY else 7) + 1
        if count > MAX_OCCURRENCES:
            raise InputError("--until", f"lịch lặp tạo {count} lượt, tối đa {MAX_OCCURRENCES}; hãy rút ngắn")
    elif draft.until is not None:
        raise InputError("--until", "--until chỉ dùng cùng --repeat daily hoặc weekly")
    if draft.expires_at is not None:
        _check_expiry(draft.expires_at, draft.at, now)
    values.update(next_slot=next_slot, first_at=draft.at, repeat=repeat, repeat_until=until,
                  expires_at=draft.expires_at if draft.expires_at is not None else ann.expires_at)


def _check_expiry(expires: datetime, first: datetime | None, now: datetime) -> None:
    if expires <= (first or now):
        raise InputError("--expires", "thời hạn phải sau giờ phát đầu tiên")


def allowed_channels(config: Config, unit_id: str) -> dict[str, ChannelConfig]:
    """The channels an item of ``unit_id`` may go out on: its own, and for a province also the
    loudspeakers of its communes (a province-wide broadcast plays in each commune's own slots)."""
    own = config.channels_of(unit_id)
    if config.units[unit_id].level == "province":
        below = set(scope.below(config, unit_id)[1:])
        own |= {name: ch for name, ch in config.channels.items() if ch.unit in below and ch.slotted}
    return own


def _channels(config: Config, unit_id: str, names: list[str]) -> list[str]:
    if not names:
        raise InputError("--channel", "hãy chọn ít nhất một kênh (hoặc nhóm kênh)")
    own = allowed_channels(config, unit_id)
    valid = sorted(own) + sorted(g for g, members in config.groups.items() if set(members) <= set(own))
    for name in names:
        if name not in config.channels and name not in config.groups:
            raise InputError("--channel", f"không có kênh hay nhóm '{name}'; hãy chọn trong: {', '.join(valid)}")
    expanded = config.expand_channels(names, unit_id)
    foreign = [name for name in expanded if name not in own]
    if foreign:
        raise InputError("--channel", f"kênh {', '.join(foreign)} không thuộc đơn vị {unit_id}")
    disabled = [name for name in expanded if not own[name].enabled]
    if disabled:
        raise InputError("--channel", f"kênh {', '.join(disabled)} đang tắt (enabled = false)")
    return expanded


def _topics(session: Session, unit_id: str, codes: list[str]) -> list[str]:
    known = set(session.exec(select(Topic.code).join(PlanRow, col(Topic.plan_id) == col(PlanRow.id))
                             .where(PlanRow.unit_id == unit_id)))
    for code in codes:
        if code not in known:
            raise InputError("--topic",
                             f"kế hoạch của đơn vị không có mục '{code}'; các mục: {', '.join(sorted(known))}")
    return list(dict.fromkeys(codes))


def _check_complete(session: Session, ann: Announcement, *, now: datetime) -> None:
    langs = {t.lang for t in session.exec(select(Translation).where(Translation.announcement_id == ann.id))}
    missing = [lang for lang in ann.languages if lang != "vi" and lang not in langs]
    if missing:
        names = ", ".join(f"{LANGUAGE_NAMES[m]} ({m})" for m in missing)
        first = LANGUAGE_NAMES[missing[0]]
        raise RuleError(f"thiếu bản dịch {names}; hãy thêm bằng: cchc translate {ann.id} --lang {missing[0]} "
                        "--body-file TỆP",
                        web=f"thiếu bản dịch {names}; hãy nhập nội dung vào ô Bản {first} (hoặc tải ghi âm lên), "
                            f"hoặc bỏ chọn {first} nếu không phát bằng tiếng này")
    if not ann.evergreen and not ann.next_slot and not ann.first_at:
        raise RuleError(f"thông báo {ann.id} chưa có lịch phát; hãy sửa bằng: cchc edit {ann.id} --at ...",
                        web="thông báo chưa có lịch phát; hãy chọn giờ phát hoặc đánh dấu phát ở khung giờ kế tiếp")
    if not ann.next_slot and ann.first_at and ann.repeat == Repeat.NONE and ann.first_at <= now:
        raise RuleError(f"giờ phát {show(ann.first_at)} đã qua; hãy sửa bằng: cchc edit {ann.id} --at ...",
                        web=f"giờ phát {show(ann.first_at)} đã qua; hãy chọn giờ phát muộn hơn")


def _check_reviewer(session: Session, ann: Announcement, reviewer: str, verb: str) -> None:
    if ann.status == A.APPROVED:
        approval = current_approval(session, ann)
        by = f" bởi {approval.actor} lúc {show_vn(approval.decided_at)}" if approval else ""
        raise RuleError(f"thông báo {ann.id} đã được phê duyệt{by}; không cần {verb} nữa")
    if ann.status != A.SUBMITTED:
        raise RuleError(f"chỉ {verb} được thông báo đã gửi duyệt; thông báo {ann.id} đang ở trạng thái "
                        f"'{ANNOUNCEMENT_STATUS[A(ann.status)].lower()}'")
    if reviewer in writers(session, ann):
        raise RuleError(f"người đã viết, sửa hoặc dịch nội dung không được tự {verb}; cần một người khác thẩm định")


def writers(session: Session, ann: Announcement) -> set[str]:
    """Everyone who wrote any part of the content: author, editors, translators."""
    return {ann.author, *ann.writers} | {t.translator for t in session.exec(
        select(Translation).where(Translation.announcement_id == ann.id))}


def _add_writer(ann: Announcement, name: str) -> None:
    if name not in ann.writers:
        ann.writers = [*ann.writers, name]


def lock(session: Session, ann: Announcement, actor: str) -> Announcement:
    """Take the row lock on ``ann`` (PostgreSQL) and read it again, so two people acting on one
    announcement at once are served one after the other and the second sees the first's result.
    SQLite's write transactions are already serial (``BEGIN IMMEDIATE``). Then check that ``actor``
    may act on the announcement's unit (``scheduler.record.scope``): every change to an item passes here."""
    session.flush()  # a refresh would otherwise drop changes not yet written
    session.refresh(ann, with_for_update=True)
    scope.check_actor(session, actor, ann.unit_id, f"thông báo {ann.ref_code}")
    return ann


def _reopen(session: Session, ann: Announcement, *, actor: str, now: datetime, why: str) -> list[str]:
    """After a change: void the approval, cancel what has not gone out, and go back to draft."""
    notes = []
    approval = current_approval(session, ann)
    if approval is not None:
        approval.voided_at, approval.void_reason = now, why
        cancelled = _cancel_unsent(session, ann, now=now, why=f"phê duyệt bị hủy vì {why}")
        notes.append(f"phê duyệt trước đã hết hiệu lực; {cancelled} lượt chưa gửi đã bị hủy; cần gửi duyệt lại")
    if ann.status in (A.APPROVED, A.SUBMITTED):
        ann.status = A.DRAFT
        notes.append("thông báo trở về trạng thái nháp: hãy gửi duyệt lại (cchc submit)")
    return notes


def _cancel_unsent(session: Session, ann: Announcement, *, now: datetime, why: str) -> int:
    """Cancel what has not gone out; posts scheduled on a platform are taken back (the dispatcher
    retracts them, then cancels them). Returns how many."""
    rows = session.exec(select(Delivery).where(
        Delivery.announcement_id == ann.id,
        col(Delivery.state).in_([*CANCELLABLE, DeliveryState.SCHEDULED]))).all()
    for delivery in rows:
        if delivery.state == DeliveryState.SCHEDULED:
            move(delivery, DeliveryState.RETRACTING, now, next_attempt_at=now,
                 last_error=f"{why}: đang gỡ bài đã hẹn giờ trên nền tảng")
        else:
            move(delivery, DeliveryState.CANCELLED, now, last_error=why, finished_at=now)
    return len(rows)


def _store_recording(folder: Path, ann: Announcement, lang: str, source: Path) -> tuple[str, str]:
    target, digest = copy_recording(source, folder, f"{ann.ref_code}-{lang}", "--audio")
    return str(target), digest


def copy_recording(source: Path, folder: Path, stem: str, field: str, *, what: str = "tệp ghi âm",
                   limit: int = MAX_AUDIO_BYTES) -> tuple[Path, str]:
    """Copy a recording (or another kept file, ``what``) into ``folder`` as ``<stem>-<sha256[:12]><suffix>``;
    its path and SHA-256. Refuses a missing, empty or oversized file (``InputError`` on ``field``)."""
    if not source.is_file():
        raise InputError(field, f"không tìm thấy {what} '{source}'")
    size = source.stat().st_size
    if size == 0 or size > limit:
        raise InputError(field, f"{what} phải lớn hơn 0 và nhỏ hơn {limit // 2**20} MB")
    with open(source, "rb") as handle:
        digest = hashlib.file_digest(handle, "sha256").hexdigest()
    target = folder / f"{stem}-{digest[:12]}{source.suffix.lower()}"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(source, target)
    return target, digest
