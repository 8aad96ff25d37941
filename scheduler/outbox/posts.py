"""What a delivery sends: its post, built from the approved item in the delivery's language, after checking
once more that the approval still holds for the content as it is now (``content_hash_of``: an item edited
since is cancelled, never sent), and the website article a social post links to. One query a table for a
whole claim."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlmodel import Session, col, func, select

from channels.base import Post
from scheduler.outbox.deliveries import move
from scheduler.outbox.states import CLAIMABLE
from scheduler.record.models import Announcement, AnnouncementStatus, Approval, Attempt, Delivery, Translation, Unit
from scheduler.record.models import DeliveryState as S

log = logging.getLogger("cchc.dispatch")


def approval_problem(session: Session, d: Delivery) -> str | None:
    """Why ``d`` may no longer go out (its approval was voided or its content changed), or None."""
    anns, approvals, translations = _approval_inputs(session, [d.announcement_id])
    return _problem(d, anns.get(d.announcement_id), approvals.get(d.announcement_id),
                    translations.get(d.announcement_id, []))


def _approval_inputs(session: Session, ids: list[int]) -> tuple[dict[int, Announcement], dict[int, Approval],
                                                                dict[int, list[Translation]]]:
    """What the approval check reads, for announcements ``ids``, with one query a table: each one, its
    current approval (the newest approved and not voided, as ``current_approval``) and translations."""
    anns = {a.id: a for a in session.exec(select(Announcement).where(col(Announcement.id).in_(ids)))}
    approvals: dict[int, Approval] = {}
    for approval in session.exec(select(Approval).where(
            col(Approval.announcement_id).in_(ids), Approval.decision == "approved",
            col(Approval.voided_at).is_(None)).order_by(col(Approval.id))):
        approvals[approval.announcement_id] = approval  # the newest wins
    translations: dict[int, list[Translation]] = {}
    for tr in session.exec(select(Translation).where(col(Translation.announcement_id).in_(ids))):
        translations.setdefault(tr.announcement_id, []).append(tr)
    return anns, approvals, translations


def _problem(d: Delivery, ann: Announcement | None, approval: Approval | None,
             translations: list[Translation], hashes: dict[int, str] | None = None) -> str | None:
    """``hashes``: the content hash of each announcement, filled as they are computed (one a batch)."""
    if ann is None or ann.status != AnnouncementStatus.APPROVED or approval is None:
        return "thông báo không còn được phê duyệt"
    hashes = {} if hashes is None else hashes
    if ann.id not in hashes:
        hashes[ann.id] = content_hash_of(ann, translations)
    if approval.id != d.approval_id or hashes[ann.id] != d.content_hash:
        return "nội dung đã thay đổi sau khi phê duyệt"
    return None


def post_or_cancel(session: Session, d: Delivery, now: datetime) -> Post | None:
    """The content to send, after re-checking the approval; cancels a delivery that lost it."""
    return load_posts(session, [d], now).get(d.id)


def load_posts(session: Session, rows: list[Delivery], now: datetime,
               unit_names: dict[str, str] | None = None) -> dict[int, Post]:
    """The content to send for each delivery (by id), with one query a table for the whole batch,
    after re-checking each one's approval: a claimable delivery that lost it is cancelled."""
    if not rows:
        return {}
    anns, approvals, translations = _approval_inputs(session, sorted({d.announcement_id for d in rows}))
    names = {} if unit_names is None else unit_names  # the caller's cache of unit names, filled here
    missing = sorted({a.unit_id for a in anns.values()} - set(names))
    if missing:
        names.update(session.execute(select(Unit.id, Unit.name).where(col(Unit.id).in_(missing))).all())
    reopened = [d.id for d in rows if d.state not in CLAIMABLE]  # reconciled or retracted: how far back to look
    first = dict(session.execute(select(Attempt.delivery_id, func.min(Attempt.started_at))
                                 .where(col(Attempt.delivery_id).in_(reopened), Attempt.kind == "send")
                                 .group_by(col(Attempt.delivery_id))).all()) if reopened else {}
    older = {d.id: _older_remote_ids(session, d.channel_id, first[d.id]) for d in rows if d.id in first}
    posts, hashes = {}, {}
    for d in rows:
        ann = anns.get(d.announcement_id)
        problem = _problem(d, ann, approvals.get(d.announcement_id), translations.get(d.announcement_id, []), hashes)
        if problem and d.state in CLAIMABLE:
            move(d, S.CANCELLED, now, last_error=problem, finished_at=now)
            log.warning("delivery %s cancelled at send time: %s", d.ref_code, problem)
            continue
        assert ann is not None
        title, body, audio = ann.title, ann.body, None
        tr = next((t for t in translations.get(ann.id, []) if t.lang == d.lang), None)
        if d.lang != "vi" and tr is not None:
            title, body, audio = tr.title, tr.body, tr.audio_path
        posts[d.id] = Post(delivery_id=d.id, ref_code=d.ref_code, announcement_id=ann.id, lang=d.lang,
                           title=title, body=body, priority=ann.priority, topics=list(ann.topics),
                           due_at=d.due_at, unit_name=names.get(ann.unit_id, ann.unit_id), sent_at=now,
                           audio_path=audio, first_sent_at=first.get(d.id), older_remote_ids=older.get(d.id, ()))
    return posts


OLDER_MARGIN = timedelta(minutes=15)  # wider than the clock skew between nodes that the soak survives


def _older_remote_ids(session: Session, channel: str, first_sent: datetime, count: int = 5) -> tuple[str, ...]:
    """This channel's newest posts that were out ``OLDER_MARGIN`` before ``first_sent`` (a reconcile's
    landmark on platforms that list no dates); one indexed query, (channel_id, finished_at)."""
    return tuple(session.exec(select(Delivery.remote_id).where(
        Delivery.channel_id == channel, Delivery.state == S.DELIVERED, col(Delivery.remote_id).is_not(None),
        col(Delivery.finished_at) < first_sent - OLDER_MARGIN)
        .order_by(col(Delivery.finished_at).desc()).limit(count)).all())


def content_hash_of(ann: Announcement, translations: list[Translation]) -> str:
    """``content_hash`` with the announcement's translations already loaded (in any order)."""
    translations = sorted(translations, key=lambda t: t.lang)
    document = {
        "title": ann.title, "body": ann.body, "topics": ann.topics, "channels": ann.channels,
        "languages": ann.languages, "priority": ann.priority, "next_slot": ann.next_slot,
        "first_at": _iso(ann.first_at), "repeat": ann.repeat, "until": _iso(ann.repeat_until),
        "expires_at": _iso(ann.expires_at), "evergreen": ann.evergreen,
        "translations": [[t.lang, t.title, t.body, t.audio_sha256] for t in translations],
    }
    encoded = json.dumps(document, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def website_links(session: Session, websites: Collection[str], announcement_id: int, lang: str) -> dict[str, str]:
    """Where the announcement is already on one of the ``websites`` channels (same language first):
    social posts link to it."""
    rows = session.exec(select(Delivery.lang, Delivery.remote_url).where(
        Delivery.announcement_id == announcement_id, Delivery.state == S.DELIVERED,
        col(Delivery.remote_url).is_not(None), col(Delivery.channel_id).in_(sorted(websites)))
        .order_by(col(Delivery.finished_at))).all()
    url = next((u for code, u in rows if code == lang), None) or next((u for code, u in rows if code == "vi"), None)
    return {"website_url": url} if url else {}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
