"""The gap filler: evergreen items (tin dùng lại) for silent loudspeaker slots and quotas at risk.

Runs when a slot's programme is prepared, inside the same transaction, so what it adds is exactly
what plays. Only approved evergreen items of the unit that list the channel are used, under the
plan's ``[fill]`` rules: the same item at most ``max_per_week`` times a calendar week on a channel,
at most ``max_per_slot`` items added to one slot. Each fill is a delivery with ``origin = "fill"``
and an audit event by ``cchc-fill``, so logs and reports show it as automatic.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from scheduler.announcements import current_approval, delivery_count, new_delivery
from scheduler.clock import LOCAL_TZ, show
from scheduler.config import Config, PlanFile
from scheduler.errors import InputError
from scheduler.outbox.states import CLAIMABLE
from scheduler.plans.compliance import FILL_ORIGIN, Row, Status, evaluate, plan_for, target_channels
from scheduler.plans.periods import day_span, span_at
from scheduler.record import audit
from scheduler.record.models import Announcement, AnnouncementStatus, Delivery, DeliveryState

log = logging.getLogger(__name__)
ACTOR = "cchc-fill"


def due_in_slot(channel: str, slot_at: datetime) -> SelectOfScalar[Delivery]:
    """The query for a loudspeaker slot's deliveries: waiting, due by the slot, not expired at it."""
    return select(Delivery).where(Delivery.channel_id == channel, col(Delivery.state).in_(CLAIMABLE),
                                  Delivery.due_at <= slot_at, Delivery.expires_at > slot_at)


def fill_slot(session: Session, config: Config, channel: str, slot_at: datetime, *, now: datetime,
              count_preview: bool = False) -> list[Delivery]:
    """Add evergreen deliveries to the slot of ``channel`` at ``slot_at`` where the rules call for it
    (``count_preview``: the simulation, where what would go out counts as out)."""
    unit = config.channels[channel].unit
    try:
        plan = plan_for(config, unit, slot_at.astimezone(LOCAL_TZ).year)
    except InputError:
        return []  # no plan for this year: no rules to fill by
    rules = plan.fill
    in_slot = session.exec(due_in_slot(channel, slot_at)).all()
    short = _short_rows(session, config, unit, channel, slot_at, now, count_preview) if rules.quotas else []
    if in_slot and not short:
        return []
    if not in_slot and not short and not rules.empty_slots:
        return []
    taken = {d.announcement_id for d in in_slot}
    added: list[Delivery] = []
    for _ in range(rules.max_per_slot):
        silent = rules.empty_slots and not in_slot and not added
        item = _pick(session, config, plan, channel, slot_at, short, taken, any_item=silent)
        if item is None:
            break
        ann, langs = item
        reason = _reason(short, langs, ann)
        added.extend(_add(session, config, ann, channel, langs, slot_at, now, reason))
        taken.add(ann.id)
        for row in short:
            if row.lang in langs and _matches(row, ann):
                row.scheduled += 1
        short = [r for r in short if r.needed > 0]
        if not short:
            break  # a silent slot gets one item; more only while a quota still needs them
    return added


def _short_rows(session: Session, config: Config, unit: str, channel: str, slot_at: datetime,
                now: datetime, count_preview: bool) -> list[Row]:
    """Quota rows this channel can help with that are at risk and past their warning point."""
    day = slot_at.astimezone(LOCAL_TZ).date()
    try:
        compliance = evaluate(session, config, unit=unit, span=day_span(day), now=now, count_preview=count_preview)
    except InputError:
        return []
    served = set(config.channels[channel].languages)
    return [r for r in compliance.rows if r.status == Status.AT_RISK and r.warning and r.lang in served
            and channel in target_channels(config, unit, r.target)]


def _pick(session: Session, config: Config, plan: PlanFile, channel: str, slot_at: datetime, short: list[Row],
          taken: set[int], *, any_item: bool) -> tuple[Announcement, list[str]] | None:
    """The evergreen item to use: one that helps the most rows at risk (any item, for a silent slot),
    within the weekly limit, used least recently."""
    served = config.channels[channel].languages
    week = span_at("week", slot_at)
    best: tuple[tuple, Announcement, list[str]] | None = None
    query = select(Announcement).where(Announcement.unit_id == plan.unit, Announcement.evergreen,
                                       Announcement.status == AnnouncementStatus.APPROVED)
    for ann in session.exec(query.order_by(col(Announcement.id))):
        if channel not in ann.channels or ann.id in taken or (ann.expires_at and ann.expires_at <= slot_at):
            continue
        langs = [lang for lang in ann.languages if lang in served]
        helps = sum(1 for r in short if r.lang in langs and _matches(r, ann))
        if not langs or not (helps or any_item):
            continue
        fills = session.exec(select(Delivery.due_at).where(
            Delivery.announcement_id == ann.id, Delivery.channel_id == channel, Delivery.origin == FILL_ORIGIN,
            col(Delivery.state).notin_([DeliveryState.CANCELLED]))).all()
        this_week = {due for due in fills if week.start_at <= due < week.end_at}
        if len(this_week) >= plan.fill.max_per_week or slot_at in fills:
            continue
        rank = (-helps, max(fills, default=datetime.min.replace(tzinfo=UTC)), ann.id)
        if best is None or rank < best[0]:
            best = (rank, ann, langs)
    return None if best is None else (best[1], best[2])


def _matches(row: Row, ann: Announcement) -> bool:
    return row.target.counts(ann.topics)


def _reason(short: list[Row], langs: list[str], ann: Announcement) -> str:
    helped = [r for r in short if r.lang in langs and _matches(r, ann)]
    if not helped:
        return "khung giờ trống"
    row = helped[0]
    return f"chỉ tiêu {row.key} ({row.target.clause}) {row.span.title} có nguy cơ không đạt"


def _add(session: Session, config: Config, ann: Announcement, channel: str, langs: list[str], slot_at: datetime,
         now: datetime, reason: str) -> list[Delivery]:
    approval = current_approval(session, ann)
    if approval is None:
        return []
    expires = slot_at + timedelta(minutes=config.channels[channel].grace_minutes)
    if ann.expires_at:
        expires = min(expires, ann.expires_at)
    sequence = delivery_count(session, ann)
    added = []
    for lang in langs:
        sequence += 1
        delivery = new_delivery(session, ann, approval, channel, lang, slot_at, expires, now, sequence, FILL_ORIGIN)
        added.append(delivery)
    session.flush()
    audit.record(session, unit=config.channels[channel].unit, actor=ACTOR, action="fill",
                 subject=f"announcement:{ann.id}", at=now, channel=channel, slot=show(slot_at), languages=langs,
                 reason=reason)
    log.info("filled %s %s with %s (%s): %s", channel, show(slot_at), ann.ref_code, ", ".join(langs), reason)
    return added
