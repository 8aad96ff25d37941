"""Email notices to the people who must act (``config/notify.toml``).

- an approver of the unit, when an item waits for review;
- the author, when their item is returned (with the approver's reason);
- the head of office, at once when a channel is put on hold (a refused token, a platform outage) or
  an emergency did not go out, and each day at ``digest_at`` a digest: quota warnings, missed
  slots, failed deliveries, channels on hold, tokens about to expire.

The events are read from the record itself (the audit trail, the as-run log, the deliveries), so
neither dispatch nor the web app knows about mail, and a mail server that is down never holds up a
broadcast. The service's notice job (``run``, every ``INTERVAL``) turns what is new since it last
looked into ``Notice`` rows (one an event and person: unique by key and recipient), then sends the
queue over SMTP with STARTTLS. Each notice is Vietnamese and links to the page where the person acts.

What goes wrong with one mail stays with it: a mailbox the server refuses (5xx) fails that notice alone,
a header value is made one line before it is written (a line break in a title adds no header), and
what was sent is recorded even if a later mail of the batch breaks. A mail server that is down only
delays: the notice is tried again (``RETRY``, then every hour) until it goes, or until it is no
longer needed (its item was decided meanwhile, or ``keep_trying_hours`` passed): it is then
``dropped``, and the dashboard says which notices wait and which were dropped, and why.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Callable
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import make_msgid

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from channels.secrets import redact
from scheduler.clock import LOCAL_TZ, show_vn
from scheduler.config import Config, NotifyFile
from scheduler.outbox.holds import holds
from scheduler.record.db import read_session, write_session
from scheduler.record.models import (
    PRIORITY_RANK,
    Announcement,
    AnnouncementStatus,
    AsRun,
    AsRunStatus,
    AuditEvent,
    Credential,
    Delivery,
    Notice,
    Priority,
    ServiceState,
)
from scheduler.record.models import DeliveryState as S
from scheduler.text import one_line

log = logging.getLogger("cchc.notify")
INTERVAL = timedelta(seconds=30)
RETRY = (timedelta(minutes=1), timedelta(minutes=5), timedelta(minutes=15), timedelta(hours=1))  # then hourly
DIGEST_KEPT = timedelta(days=1)  # a day's digest is not worth sending the day after
SEEN_KEY = "notify_seen"  # the last audit event and the time up to which the record was read
EXPIRING = timedelta(days=14)
FAILED = (AsRunStatus.INTERRUPTED, AsRunStatus.FAILED, AsRunStatus.MISSED)


def run(engine: Engine, config: Config, now: datetime, *, smtp: Callable[..., smtplib.SMTP] = smtplib.SMTP) -> int:
    """The service's job: queue what is new, then send what is due. Returns the mails sent; never raises."""
    notify = config.notify
    if notify is None or not notify.enabled:
        return 0
    try:
        with write_session(engine) as session:
            collect(session, config, notify, now)
            digests(session, config, notify, now)
        return send_due(engine, notify, now, smtp=smtp)
    except Exception:  # a notice is never worth stopping the service for
        log.exception("notices could not be prepared or sent; trying again at the next run")
        return 0


# -- what is new --------------------------------------------------------------------------------

def collect(session: Session, config: Config, notify: NotifyFile, now: datetime) -> None:
    """Queue the notices of what happened since the last look (the first look only marks the place)."""
    mark = session.get(ServiceState, SEEN_KEY)
    last = session.exec(select(func.max(AuditEvent.id))).one() or 0
    if mark is None:
        session.add(ServiceState(key=SEEN_KEY, value=str(last), updated_at=now))
        return
    since, seen = mark.updated_at, int(mark.value or 0)
    for event in session.exec(select(AuditEvent).where(col(AuditEvent.id) > seen).order_by(col(AuditEvent.id))):
        _from_event(session, config, notify, event, now)
    _emergencies(session, config, notify, since, now)
    mark.value, mark.updated_at = str(last), now


def _from_event(session: Session, config: Config, notify: NotifyFile, event: AuditEvent, now: datetime) -> None:
    kind, _, ident = event.subject.partition(":")
    if kind == "announcement" and event.action in ("submit", "reject") and ident.isdigit():
        ann = session.get(Announcement, int(ident))
        if ann is None:
            return
        link = f"/announcements/{ann.id}"
        if event.action == "submit":
            _queue(session, notify, ann.unit_id, "approval", _role(notify, ann.unit_id, "approvers"),
                   key=f"event:{event.id}", now=now, link=link, announcement=ann.id,
                   subject=f"Tin chờ duyệt: {ann.title}",
                   body=f"{event.actor} gửi tin \"{ann.title}\" ({ann.ref_code}) để duyệt lúc {show_vn(event.at)}.\n"
                        "Xin mở trang tin để đọc và phê duyệt hoặc trả lại.")
        else:
            reason = (event.detail or {}).get("reason") or "(không ghi lý do)"
            _queue(session, notify, ann.unit_id, "rejected", [ann.author], key=f"event:{event.id}", now=now,
                   link=link, announcement=ann.id, subject=f"Tin bị trả lại: {ann.title}",
                   body=f"{event.actor} trả lại tin \"{ann.title}\" ({ann.ref_code}) lúc {show_vn(event.at)}.\n"
                        f"Lý do: {reason}\nXin sửa theo góp ý rồi gửi duyệt lại.")
    elif kind == "channel" and event.action == "channel-hold" and ident in config.channels:
        reason = str((event.detail or {}).get("reason") or "")
        until = (event.detail or {}).get("until")
        if until and not reason.startswith("nền tảng đang lỗi"):
            return  # a platform's rate limit: routine, it ends by itself (the digest lists holds)
        unit = config.channels[ident].unit
        title = config.channels[ident].title
        what = f"tạm dừng đến {until}" if until else "dừng cho đến khi có người cấp lại quyền truy cập"
        _queue(session, notify, unit, "channel_held", _role(notify, unit, "head"), key=f"event:{event.id}",
               now=now, link="/channels", subject=f"Kênh {title} bị tạm dừng",
               body=f"Kênh {title} ({ident}) {what}, lúc {show_vn(event.at)}.\nLý do: {redact(reason)}\n"
                    "Các tin của kênh đang chờ. Xem trang Kênh để biết cần làm gì (ví dụ: cchc channel check).")


def _emergencies(session: Session, config: Config, notify: NotifyFile, since: datetime, now: datetime) -> None:
    """An emergency broadcast or post that did not go out, since ``since``: the head is told at once."""
    for row in session.exec(select(AsRun).where(AsRun.kind == "emergency", col(AsRun.status).in_(FAILED),
                                                col(AsRun.ended_at) > since, col(AsRun.ended_at) <= now)):
        channel = config.channels.get(row.channel_id)
        if channel is None:
            continue
        _queue(session, notify, channel.unit, "emergency_failed", _role(notify, channel.unit, "head"),
               key=f"asrun:{row.id}", now=now, link="/deliveries",
               subject=f"KHẨN: tin khẩn cấp chưa phát được trên {channel.title}",
               body=f"Buổi phát khẩn cấp trên {channel.title} lúc {show_vn(row.slot_at)} không phát trọn "
                    f"({row.status}): {row.message or ''}\nXin kiểm tra hệ thống truyền thanh ngay.")
    emergency = PRIORITY_RANK[Priority.EMERGENCY]
    for d in session.exec(select(Delivery).where(Delivery.priority_rank == emergency,
                                                 col(Delivery.state).in_([S.FAILED, S.EXPIRED]),
                                                 col(Delivery.finished_at) > since, col(Delivery.finished_at) <= now,
                                                 col(Delivery.channel_id).in_(list(config.channels)))):
        channel = config.channels[d.channel_id]
        if channel.slotted:
            continue  # its programme's row above says it
        _queue(session, notify, channel.unit, "emergency_failed", _role(notify, channel.unit, "head"),
               key=f"delivery:{d.id}", now=now, link=f"/announcements/{d.announcement_id}",
               subject=f"KHẨN: tin khẩn cấp {d.ref_code} chưa đăng được trên {channel.title}",
               body=f"Tin khẩn cấp {d.ref_code} không đăng được trên {channel.title}: {redact(d.last_error or '')}")


# -- the daily digest ---------------------------------------------------------------------------

def digests(session: Session, config: Config, notify: NotifyFile, now: datetime) -> None:
    """Each unit's digest, once a day at its ``digest_at`` (Vietnam time)."""
    local = now.astimezone(LOCAL_TZ)
    for unit, who in notify.units.items():
        if not who.head or local.strftime("%H:%M") < who.digest_at:
            continue
        key = f"digest:{unit}:{local:%Y-%m-%d}"
        if session.exec(select(Notice.id).where(Notice.key == key)).first() is not None:
            continue
        lines = digest_lines(session, config, unit, now)
        _queue(session, notify, unit, "digest", who.head, key=key, now=now, link="/",
               subject=f"Tóm tắt ngày {local:%d/%m/%Y}: {config.units[unit].name}",
               body="\n".join(lines))


def digest_lines(session: Session, config: Config, unit: str, now: datetime) -> list[str]:
    """What the head of office should know this morning, for the last 24 hours and now."""
    since = now - timedelta(days=1)
    channels = sorted(config.channels_of(unit))
    lines: list[str] = []
    warnings = session.exec(select(AuditEvent).where(AuditEvent.action == "quota_warning", AuditEvent.unit_id == unit,
                                                     col(AuditEvent.at) > since).order_by(col(AuditEvent.id))).all()
    lines.append(f"Chỉ tiêu có nguy cơ không đạt: {len(warnings)}")
    lines += [f"  - {(w.detail or {}).get('message', w.subject)}" for w in warnings]
    missed = session.exec(select(AsRun).where(col(AsRun.channel_id).in_(channels),
                                              AsRun.status == AsRunStatus.MISSED,
                                              col(AsRun.slot_at) > since)).all()
    lines.append(f"Khung giờ truyền thanh bị lỡ: {len(missed)}")
    lines += [f"  - {row.channel_id} {show_vn(row.slot_at)}" for row in missed]
    failed = session.exec(select(Delivery).where(col(Delivery.channel_id).in_(channels),
                                                 col(Delivery.state).in_([S.FAILED, S.NEEDS_PERSON]),
                                                 col(Delivery.updated_at) > since)).all()
    lines.append(f"Lượt phát không thành công hoặc cần người xác nhận: {len(failed)}")
    lines += [f"  - {d.ref_code} trên {d.channel_id}: {redact(d.last_error or '')[:200]}" for d in failed]
    held = [hold for hold in holds(session, now) if hold.channel in channels]
    lines.append(f"Kênh đang tạm dừng: {len(held)}")
    lines += [f"  - {hold.channel}: {redact(hold.reason)[:200]}" for hold in held]
    expiring = session.exec(select(Credential).where(col(Credential.channel_id).in_(channels))).all()
    soon = [c for c in expiring for at in (c.refresh_expires_at, c.access_expires_at)
            if at is not None and at <= now + EXPIRING]
    lines.append(f"Mã truy cập sắp hết hạn (trong {EXPIRING.days} ngày): {len({c.channel_id for c in soon})}")
    lines += sorted({f"  - {c.channel_id}: cấp lại bằng cchc channel token {c.channel_id}" for c in soon})
    return lines


# -- the queue ----------------------------------------------------------------------------------

def _role(notify: NotifyFile, unit: str, role: str) -> list[str]:
    who = notify.units.get(unit)
    return list(getattr(who, role)) if who is not None else []


def _queue(session: Session, notify: NotifyFile, unit: str, kind: str, people: list[str], *, key: str,
           now: datetime, subject: str, body: str, link: str, announcement: int | None = None) -> None:
    for person in people:
        address = notify.people.get(person)
        if address is None:
            log.warning("no email address for %s in notify.toml: %s not sent to them", person, kind)
            continue
        if session.exec(select(Notice.id).where(Notice.key == key, Notice.recipient == address)).first():
            continue
        session.add(Notice(key=key, unit_id=unit, kind=kind, recipient=address, subject=one_line(subject)[:300],
                           body=body, link=notify.base_url.rstrip("/") + link, announcement_id=announcement,
                           next_attempt_at=now, created_at=now))


def send_due(engine: Engine, notify: NotifyFile, now: datetime, *,
             smtp: Callable[..., smtplib.SMTP] = smtplib.SMTP, limit: int = 50) -> int:
    """Send the notices that are due, each recorded as sent, as failed (alone), or with its error and next
    try; those no longer needed are dropped first. Returns the mails sent."""
    with write_session(engine) as session:
        drop_unneeded(session, notify, now)
    with read_session(engine) as session:
        due = session.exec(select(Notice).where(Notice.status == "pending", col(Notice.next_attempt_at) <= now)
                           .order_by(col(Notice.id)).limit(limit)).all()
    if not due:
        return 0
    results: dict[int, tuple[str, str | None]] = {}  # notice id -> (sent | failed | pending, why)
    error = None  # the connection's: every notice not reached waits for the next try
    try:
        with smtp(notify.smtp.host, notify.smtp.port, timeout=notify.smtp.timeout_seconds) as server:
            if notify.smtp.starttls:
                server.starttls(context=ssl.create_default_context(cafile=notify.smtp.cafile))
            user = os.environ.get(notify.smtp.username_env or "") if notify.smtp.username_env else None
            if user:
                server.login(user, os.environ.get(notify.smtp.password_env or "", ""))
            for notice in due:
                results[notice.id] = _send_one(server, notify, notice)
    except (OSError, smtplib.SMTPException, ssl.SSLError) as exc:
        error = redact(f"{type(exc).__name__}: {exc}")[:500]
        log.warning("mail server %s:%s: %s; %d notices wait", notify.smtp.host, notify.smtp.port, error,
                    len(due) - len(results))
    finally:  # what went out is recorded whatever happens next: a notice is never sent twice
        _record(engine, due, results, error, now)
    return sum(status == "sent" for status, _ in results.values())


def _send_one(server: smtplib.SMTP, notify: NotifyFile, notice: Notice) -> tuple[str, str | None]:
    """One mail on an open connection; what is wrong with this mail alone is its own result, a broken
    connection raises (the rest of the batch waits)."""
    try:
        message = _message(notify, notice)
    except (ValueError, TypeError) as exc:  # no mail can be made of it: it fails alone, once
        return "failed", redact(f"không tạo được thư: {exc}")[:500]
    try:
        server.send_message(message)
    except smtplib.SMTPRecipientsRefused as exc:  # this mailbox (the server resets the transaction)
        code, text = next(iter(exc.recipients.values()))
        return ("failed" if code >= 500 else "pending"), _refusal("người nhận", code, text)
    except smtplib.SMTPDataError as exc:  # this message
        return ("failed" if exc.smtp_code >= 500 else "pending"), _refusal("thư", exc.smtp_code, exc.smtp_error)
    return "sent", None


def _refusal(what: str, code: int, text: bytes | str) -> str:
    said = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
    return redact(f"máy chủ thư không nhận {what} ({code} {said})")[:500]


def _record(engine: Engine, due: list[Notice], results: dict[int, tuple[str, str | None]], error: str | None,
            now: datetime) -> None:
    with write_session(engine) as session:
        for notice in due:
            row = session.get(Notice, notice.id)
            status, problem = results.get(notice.id, ("pending", error))
            if row is None or (status == "pending" and problem is None):  # not reached, and nothing known
                continue
            row.attempts += 1
            if status == "sent":
                row.status, row.sent_at, row.last_error = "sent", now, None
            elif status == "failed":
                row.status, row.last_error = "failed", problem
            else:
                row.last_error = problem
                row.next_attempt_at = now + RETRY[min(row.attempts, len(RETRY)) - 1]


def drop_unneeded(session: Session, notify: NotifyFile, now: datetime) -> int:
    """Waiting notices that no longer need to go: their item was decided (a notice asking for a review of an
    item approved meanwhile) or they are older than ``keep_trying_hours`` (a digest: a day). Kept as
    ``dropped`` with why; returns how many."""
    dropped = 0
    for row in session.exec(select(Notice).where(Notice.status == "pending")).all():
        why = _unneeded(session, notify, row, now)
        if why:
            row.status = "dropped"
            row.last_error = f"không gửi nữa: {why}" + (f" (lỗi lần cuối: {row.last_error})" if row.last_error else "")
            dropped += 1
    return dropped


def _unneeded(session: Session, notify: NotifyFile, notice: Notice, now: datetime) -> str | None:
    kept = min(timedelta(hours=notify.keep_trying_hours), DIGEST_KEPT if notice.kind == "digest" else timedelta.max)
    if now - notice.created_at > kept:
        return f"đã quá {kept.total_seconds() / 3600:g} giờ mà máy chủ thư vẫn chưa nhận"
    ann = session.get(Announcement, notice.announcement_id) if notice.announcement_id else None
    if ann is None:
        return None
    if notice.kind == "approval" and ann.status != AnnouncementStatus.SUBMITTED:
        return f"tin {ann.ref_code} đã được quyết định ({ann.status}) trước khi thư đi được"
    if notice.kind == "rejected" and ann.status != AnnouncementStatus.REJECTED:
        return f"tin {ann.ref_code} đã được sửa hoặc gửi duyệt lại trước khi thư đi được"
    return None


def waiting(session: Session, unit: str, now: datetime) -> dict:
    """For the dashboard: the unit's notices waiting because the mail server fails (how many, since when, its
    last error), and those that failed or were dropped in the last week (newest first)."""
    stuck = session.exec(select(Notice).where(Notice.unit_id == unit, Notice.status == "pending",
                                              col(Notice.attempts) > 0).order_by(col(Notice.id))).all()
    lost = session.exec(select(Notice).where(Notice.unit_id == unit, col(Notice.status).in_(["failed", "dropped"]),
                                             col(Notice.created_at) > now - timedelta(days=7))
                        .order_by(col(Notice.id).desc()).limit(10)).all()
    return {"count": len(stuck), "since": show_vn(stuck[0].created_at) if stuck else None,
            "error": stuck[-1].last_error if stuck else None,
            "lost": [{"to": n.recipient, "subject": n.subject, "why": n.last_error or "", "status": n.status}
                     for n in lost]}


def _message(notify: NotifyFile, notice: Notice) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = one_line(notice.subject)  # a line break would end the header and start another
    message["From"] = notify.smtp.sender
    message["To"] = notice.recipient
    message["Message-ID"] = make_msgid(idstring=f"cchc-{notice.id}")
    message.set_content(f"{notice.body}\n\nXem: {notice.link}\n\n-- \nHệ thống lịch phát thông tin CCHC "
                        "(thư tự động; xin đừng trả lời thư này)\n")
    return message
