"""Read-side views for people: announcement lists, one announcement in full, the schedule, the log.

Each returns plain dicts (times already in Vietnam time) so the command line, the web app and the
exports all show the same thing.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, func, or_, select

from channels.base import Outcome, Post
from scheduler.announcements import content_hash, writers
from scheduler.clock import LOCAL_TZ, next_slot, show
from scheduler.config import Config
from scheduler.errors import InputError, NotFoundError
from scheduler.outbox.posts import website_links
from scheduler.outbox.states import COMING, OPEN
from scheduler.record.models import (
    Announcement,
    Approval,
    AsRun,
    Attempt,
    Channel,
    Credential,
    Delivery,
    DeliveryState,
    Translation,
    Unit,
)
from scheduler.text import check_language


def announcements(session: Session, *, status: str | None = None, unit: str | None = None,
                  now: datetime | None = None) -> list[dict]:
    query = select(Announcement).order_by(col(Announcement.id).desc())
    if status:
        query = query.where(Announcement.status == status)
    if unit:
        query = query.where(Announcement.unit_id == unit)
    counts = dict(session.exec(select(Delivery.announcement_id, func.count())
                               .where(Delivery.state == DeliveryState.DELIVERED)
                               .group_by(Delivery.announcement_id)).all())
    rows = session.exec(query).all()
    firsts = dict(session.exec(select(Delivery.announcement_id, func.min(Delivery.due_at))
                               .where(col(Delivery.announcement_id).in_([a.id for a in rows if a.next_slot]))
                               .group_by(Delivery.announcement_id)).all())
    slots = {u.id: u.slots for u in session.exec(select(Unit))}
    return [
        {"id": a.id, "ref": a.ref_code, "status": a.status, "priority": a.priority, "title": a.title,
         "author": a.author, "channels": a.channels, "languages": a.languages,
         "when": when(a, firsts.get(a.id), slots.get(a.unit_id) or [], now),
         "repeat": a.repeat, "delivered": counts.get(a.id, 0)}
        for a in rows
    ]


def when(ann: Announcement, first_due: datetime | None, slots: list[str], now: datetime | None) -> str:
    """When an item goes out, in words: its time; for "the next slot", the slot its deliveries took, or before
    approval the slot it would take if approved at ``now``."""
    if ann.evergreen:
        return "tin dùng lại"
    if not ann.next_slot:
        return show(ann.first_at)
    if first_due is not None:
        return show(first_due)
    if now is not None and slots:
        return f"khung giờ kế tiếp (nếu duyệt lúc này: {show(next_slot(slots, now))})"
    return "khung giờ kế tiếp"


def announcement(session: Session, announcement_id: int, now: datetime | None = None) -> dict[str, Any]:
    a = session.get(Announcement, announcement_id)
    if a is None:
        raise NotFoundError("thông báo", announcement_id)
    translations = session.exec(select(Translation).where(Translation.announcement_id == a.id)
                                .order_by(Translation.lang)).all()
    approvals = session.exec(select(Approval).where(Approval.announcement_id == a.id)
                             .order_by(Approval.id)).all()
    deliveries = session.exec(select(Delivery).where(Delivery.announcement_id == a.id)
                              .order_by(Delivery.due_at, Delivery.channel_id, Delivery.lang)).all()
    return {
        "id": a.id, "ref": a.ref_code, "unit": a.unit_id, "status": a.status, "priority": a.priority,
        "title": a.title, "body": a.body, "topics": a.topics, "channels": a.channels,
        "languages": a.languages, "author": a.author, "writers": sorted(writers(session, a)),
        "content_hash": content_hash(session, a),
        "schedule": {"next_slot": a.next_slot, "at": show(a.first_at), "repeat": a.repeat,
                     "when": when(a, min((d.due_at for d in deliveries), default=None),
                                  (session.get(Unit, a.unit_id).slots or []), now),
                     "until": show(a.repeat_until)[:10], "expires": show(a.expires_at)},
        "translations": [{"lang": t.lang, "title": t.title, "body": t.body, "translator": t.translator,
                          "audio": t.audio_path} for t in translations],
        "approvals": [{"decision": p.decision, "by": p.actor, "at": show(p.decided_at), "reason": p.reason,
                       "content_hash": p.content_hash, "voided": show(p.voided_at),
                       "void_reason": p.void_reason} for p in approvals],
        "deliveries": [delivery_row(d) for d in deliveries],
    }


def schedule(session: Session, *, since: datetime, until: datetime, unit: str | None = None) -> list[dict]:
    query = (select(Delivery).where(col(Delivery.state).in_(OPEN), Delivery.due_at <= until,
                                    or_(Delivery.due_at >= since, Delivery.state != DeliveryState.PENDING))
             .order_by(Delivery.due_at, Delivery.channel_id))
    if unit:
        query = _of_unit(query, unit)
    return [delivery_row(d) for d in session.exec(query)]


def _of_unit(query, unit: str):  # noqa: ANN001, ANN202
    """Deliveries of ``unit``'s items, and of other units' items on its channels (a province-wide broadcast
    on a commune's loudspeakers is in that commune's schedule too)."""
    own = select(Channel.id).where(Channel.unit_id == unit)
    return query.join(Announcement).where(or_(Announcement.unit_id == unit, col(Delivery.channel_id).in_(own)))


def log_rows(session: Session, *, since: datetime | None, until: datetime | None, channel: str | None,
             status: str | None, lang: str | None, limit: int | None = None, offset: int = 0,
             newest_first: bool = False, channels: Collection[str] | None = None) -> list[dict]:
    """The delivery log: one row per attempt, plus one per delivery that ended without any attempt (on
    ``channels`` only, when given: a unit's)."""
    query, when = _log_query(select(Delivery, Attempt), since=since, until=until, channel=channel, status=status,
                             lang=lang, channels=channels)
    order = [when, col(Delivery.id), col(Attempt.id)]
    query = query.order_by(*[o.desc() for o in order] if newest_first else order).offset(offset)
    if limit:
        query = query.limit(limit)
    return [{
        "time": show(a.started_at if a else (d.finished_at or d.due_at)),
        "ref": d.ref_code, "channel": d.channel_id, "lang": d.lang, "origin": _origin(d), "due": show(d.due_at),
        "action": a.kind if a else "-", "outcome": (a.outcome or "đang chạy") if a else "-",
        "http": a.http_status if a else None, "ms": a.duration_ms if a else None,
        "state": d.state, "remote_id": d.remote_id, "url": d.remote_url,
        "message": (a.message if a else d.last_error) or "",
    } for d, a in session.exec(query)]


def log_count(session: Session, *, since: datetime | None, until: datetime | None, channel: str | None,
              status: str | None, lang: str | None, channels: Collection[str] | None = None) -> int:
    """How many rows ``log_rows`` has for these filters (for pages)."""
    query, _ = _log_query(select(func.count()).select_from(Delivery), since=since, until=until, channel=channel,
                          status=status, lang=lang, channels=channels)
    return session.exec(query).one()


def _log_query(query, *, since, until, channel, status, lang, channels=None):
    query = query.join(Attempt, col(Attempt.delivery_id) == col(Delivery.id), isouter=True)
    when = func.coalesce(Attempt.started_at, Delivery.finished_at, Delivery.due_at)
    # A delivery that nothing has happened to yet belongs to the schedule, not the log.
    query = query.where(or_(col(Attempt.id).is_not(None), col(Delivery.state).notin_(OPEN)))
    if since:
        query = query.where(when >= since)
    if until:
        query = query.where(when < until)
    if channel:
        query = query.where(Delivery.channel_id == channel)
    if channels is not None:
        query = query.where(col(Delivery.channel_id).in_(list(channels)))
    if status:
        query = query.where(Delivery.state == status)
    if lang:
        query = query.where(Delivery.lang == lang)
    return query, when


def plan(config: Config, unit: str) -> list[dict]:
    """The unit's plans as their files say (the database holds a copy made at ``cchc init``: a plan
    just made by ``cchc plan new`` is shown for review before that)."""
    return [{
        "id": p.id, "year": p.year, "title": p.title, "decision": p.decision,
        "issued": p.issued.isoformat() if p.issued else None,
        "effective": p.effective.isoformat() if p.effective else None,
        "topics": [{"code": code, "clause": t.clause, "text": t.text} for code, t in p.topics.items()],
        "targets": [{"key": key, "clause": t.clause, "description": t.description,
                     "channel": t.channel or f"activity:{t.activity}", "minimum": t.minimum, "period": t.period,
                     "languages": t.languages, "topics": t.topics, "exclude_topics": t.exclude_topics}
                    for key, t in p.targets.items()],
    } for p in sorted(config.plans.values(), key=lambda p: p.year) if p.unit == unit]


def delivery_row(d: Delivery) -> dict[str, Any]:
    return {"id": d.id, "ref": d.ref_code, "channel": d.channel_id, "lang": d.lang, "origin": _origin(d),
            "due": show(d.due_at),
            "expires": show(d.expires_at), "state": d.state, "attempts": d.attempt_count,
            # a post scheduled on its platform has no next attempt: the platform publishes it at ``due``
            "next_attempt": show(d.next_attempt_at) if d.state in OPEN and d.state != DeliveryState.SCHEDULED else "",
            "remote_id": d.remote_id, "url": d.remote_url,
            "error": d.last_error or ""}


def _origin(d: Delivery) -> str:
    """"tự động" for what the gap filler added, so people can tell it from what staff scheduled."""
    return "tự động" if d.origin == "fill" else "lịch"


def as_run(session: Session, *, since: datetime, until: datetime, channel: str | None = None,
           channels: Collection[str] | None = None) -> list[dict]:
    """The as-run log: each loudspeaker slot in ``[since, until)`` with what played in it (on ``channel``,
    or on any of ``channels``: a unit's loudspeakers)."""
    query = select(AsRun).where(AsRun.slot_at >= since, AsRun.slot_at < until)
    if channel:
        query = query.where(AsRun.channel_id == channel)
    if channels is not None:
        query = query.where(col(AsRun.channel_id).in_(list(channels)))
    rows = []
    for run in session.exec(query.order_by(col(AsRun.slot_at), col(AsRun.channel_id))).all():
        played = [p for p in run.parts if p.get("played")]
        delay = (run.started_at - run.slot_at).total_seconds() if run.started_at else None
        rows.append({
            "slot": show(run.slot_at), "channel": run.channel_id, "kind": run.kind, "status": run.status,
            "started": run.started_at.astimezone(LOCAL_TZ).strftime("%H:%M:%S") if run.started_at else "",
            "ended": run.ended_at.astimezone(LOCAL_TZ).strftime("%H:%M:%S") if run.ended_at else "",
            "delay_s": None if delay is None else round(delay, 3),
            "length": minutes(run.duration_ms), "played": f"{len(played)}/{len(run.parts)}",
            "backend": run.backend, "path": run.path or "", "message": run.message or "",
            "notes": list(run.notes),
            "parts": [{"at": minutes(p["start_ms"]), "ref": p["ref_code"], "lang": p["lang"],
                       "engine": p["engine"], "length": minutes(p["duration_ms"]), "played": bool(p.get("played")),
                       "title": p["title"]} for p in run.parts],
        })
    return rows


def minutes(ms: int) -> str:
    seconds = round(ms / 1000)
    return f"{seconds // 60}:{seconds % 60:02d}"


def spoken_version(session: Session, announcement_id: int, lang: str) -> tuple[str, Path | None]:
    """What a voice reads for an announcement in ``lang``: its text, and the translator's recording."""
    ann = session.get(Announcement, announcement_id)
    if ann is None:
        raise NotFoundError("thông báo", announcement_id)
    if lang == "vi":
        return f"{ann.title}. {ann.body}", None
    tr = session.exec(select(Translation).where(Translation.announcement_id == announcement_id,
                                                Translation.lang == lang)).first()
    if tr is None:
        raise NotFoundError(f"bản {lang} của thông báo", announcement_id)
    return tr.body, Path(tr.audio_path) if tr.audio_path else None


def preview_post(session: Session, config: Config, announcement_id: int, lang: str, now: datetime) -> Post:
    """The post a channel would get for this announcement in ``lang`` if it went out now (previews)."""
    check_language(lang)
    ann = session.get(Announcement, announcement_id)
    if ann is None:
        raise NotFoundError("thông báo", announcement_id)
    versions = {"vi": (ann.title, ann.body)} | {
        t.lang: (t.title, t.body) for t in session.exec(
            select(Translation).where(Translation.announcement_id == announcement_id))}
    if lang not in versions:
        raise InputError("--lang", f"thông báo {announcement_id} chưa có bản {lang}; có: {', '.join(sorted(versions))}")
    title, body = versions[lang]
    return draft_post(config, unit=ann.unit_id, ref=ann.ref_code, announcement_id=ann.id, lang=lang, title=title,
                      body=body, priority=ann.priority, topics=list(ann.topics), now=now,
                      extra=website_links(session, config.in_category("website"), ann.id, lang))


def draft_post(config: Config, *, unit: str, ref: str, announcement_id: int, lang: str, title: str, body: str,
               priority: str, topics: list[str], now: datetime, extra: dict | None = None) -> Post:
    """A post as it would go out now, also for text not saved yet (the compose form's live preview)."""
    return Post(delivery_id=0, ref_code=f"{ref}.0", announcement_id=announcement_id, lang=lang, title=title,
                body=body, priority=priority, topics=topics, due_at=now, unit_name=config.units[unit].name,
                sent_at=now, extra=extra or {})


def calendar(session: Session, *, since: datetime, until: datetime, unit: str | None = None) -> dict[date, list[dict]]:
    """Deliveries due in ``[since, until)`` by Vietnam-time day, cancelled ones left out."""
    query = (select(Delivery).where(Delivery.due_at >= since, Delivery.due_at < until,
                                    Delivery.state != DeliveryState.CANCELLED)
             .order_by(Delivery.due_at, Delivery.channel_id, Delivery.lang))
    if unit:
        query = _of_unit(query, unit)
    days: dict[date, list[dict]] = {}
    for d in session.exec(query):
        days.setdefault(d.due_at.astimezone(LOCAL_TZ).date(), []).append(delivery_row(d))
    return days


def missing_recordings(session: Session, config: Config, unit: str | None = None) -> list[dict]:
    """Coming loudspeaker deliveries (of ``unit``'s channels, when given) in a language only a recording can
    voice, whose translation has none.

    They would fail when the programme is built; staff can still upload the recording now."""
    needs = [lang for lang, chain in config.speech.engines.items() if chain == ["recording"]]
    loud = [name for name, ch in config.channels.items() if ch.slotted and (unit is None or ch.unit == unit)]
    if not needs or not loud:
        return []
    query = (select(Delivery, Translation)
             .join(Translation, (col(Translation.announcement_id) == col(Delivery.announcement_id))
                   & (col(Translation.lang) == col(Delivery.lang)), isouter=True)
             .where(col(Delivery.state).in_(COMING), col(Delivery.channel_id).in_(loud),
                    col(Delivery.lang).in_(needs), col(Translation.audio_path).is_(None))
             .order_by(Delivery.due_at).limit(50))
    return [delivery_row(d) | {"announcement_id": d.announcement_id} for d, _ in session.exec(query)]


def expiring_tokens(session: Session, now: datetime, warn_days: dict[str, int]) -> list[dict]:
    """Channels whose stored refresh token runs out within their warning time (``warn_days`` per channel)."""
    rows = session.exec(select(Credential).where(col(Credential.channel_id).in_(list(warn_days)),
                                                 col(Credential.refresh_expires_at).is_not(None))).all()
    return [{"channel": c.channel_id, "expires": show(c.refresh_expires_at), "days": (c.refresh_expires_at - now).days}
            for c in rows if c.refresh_expires_at - now <= timedelta(days=warn_days[c.channel_id])]


def channel_health(session: Session, since: datetime) -> dict[str, dict[str, Any]]:
    """Per channel: deliveries finished since ``since`` by state, and the last success and failure ever."""
    counts: dict[str, dict[str, Any]] = {}
    for channel, state, n in session.exec(
            select(Delivery.channel_id, Delivery.state, func.count())
            .where(Delivery.finished_at >= since).group_by(Delivery.channel_id, Delivery.state)):
        counts.setdefault(channel, {})[state] = n
    last: dict[str, dict[str, Any]] = {}
    failures = [o for o in Outcome if o not in (Outcome.SENT, Outcome.PENDING)] + ["held"]
    for outcomes, key in (([Outcome.SENT], "last_ok"), (failures, "last_failed")):
        for channel, at in session.exec(select(Delivery.channel_id, func.max(Attempt.started_at))
                                         .join(Attempt, col(Attempt.delivery_id) == col(Delivery.id))
                                         .where(col(Attempt.outcome).in_(outcomes)).group_by(Delivery.channel_id)):
            last.setdefault(channel, {})[key] = show(at)
    return {name: {"counts": counts.get(name, {}), **last.get(name, {})} for name in counts.keys() | last.keys()}
