"""Plan compliance: how many deliveries each target (chỉ tiêu) got in each of its periods.

A target is met in a period when at least ``minimum`` broadcasts or posts in each of its languages
were delivered on its channels during that period (Vietnam time). What counts is one announcement at
one time: the same article posted at once on two websites counts once, a loudspeaker item played on
three days counts three times. Deliveries not yet made but scheduled inside the period are the
forecast. Statuses:

- met (đạt): delivered >= minimum;
- missed (không đạt): the period is over and delivered < minimum;
- at risk (có nguy cơ không đạt): the period is not over and delivered + scheduled < minimum, i.e.
  what is scheduled can no longer reach the minimum;
- on track (đúng tiến độ): otherwise;
- not yet applicable (chưa áp dụng): the period ended before the plan took effect.

An at-risk row becomes a warning (logged by the service, flagged in reports) once the period has
passed its plan's ``warn_at`` point, or earlier if fewer loudspeaker slots remain than are needed.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from sqlalchemy import and_, or_
from sqlmodel import Session, col, select

from channels.base import CATEGORIES
from channels.languages import LANGUAGE_NAMES
from scheduler import audit
from scheduler.clock import slot_times
from scheduler.config import Config, PlanFile, TargetConfig
from scheduler.errors import InputError
from scheduler.models import Announcement, AuditEvent, Delivery, DeliveryState
from scheduler.periods import Span, span_at, spans_in
from scheduler.states import COMING

log = logging.getLogger(__name__)

FILL_ORIGIN = "fill"


class Status(StrEnum):
    MET = "met"
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    MISSED = "missed"
    NOT_APPLICABLE = "not_applicable"


STATUS_TEXT = {Status.MET: "đạt", Status.ON_TRACK: "đúng tiến độ", Status.AT_RISK: "có nguy cơ không đạt",
               Status.MISSED: "không đạt", Status.NOT_APPLICABLE: "chưa áp dụng"}
_WORST_FIRST = (Status.MISSED, Status.AT_RISK, Status.ON_TRACK, Status.MET, Status.NOT_APPLICABLE)


@dataclass
class Row:
    """One target, in one language, over one of its periods."""

    key: str
    target: TargetConfig
    lang: str
    span: Span
    delivered: int = 0
    scheduled: int = 0
    filled: int = 0  # of ``delivered + scheduled``, how many the gap filler added
    status: Status = Status.ON_TRACK
    warning: bool = False

    @property
    def needed(self) -> int:
        return max(0, self.target.minimum - self.delivered - self.scheduled)

    def as_dict(self) -> dict:
        return {"target": self.key, "clause": self.target.clause, "description": self.target.description,
                "channel": self.target.channel, "lang": self.lang, "period": self.span.label,
                "period_title": self.span.title, "minimum": self.target.minimum, "delivered": self.delivered,
                "scheduled": self.scheduled, "filled": self.filled, "needed": self.needed,
                "status": self.status.value, "status_text": STATUS_TEXT[self.status], "warning": self.warning}


@dataclass
class Summary:
    """A target in one language over the whole report period (e.g. 13 weeks of a quarter)."""

    key: str
    target: TargetConfig
    lang: str
    rows: list[Row]

    @property
    def status(self) -> Status:
        return next(s for s in _WORST_FIRST if any(r.status == s for r in self.rows))

    @property
    def applicable(self) -> list[Row]:
        """The periods the plan was in force for (those before it took effect are left out)."""
        return [r for r in self.rows if r.status != Status.NOT_APPLICABLE]

    @property
    def delivered(self) -> int:
        return sum(r.delivered for r in self.rows)

    @property
    def met(self) -> int:
        return sum(r.status == Status.MET for r in self.rows)

    def as_dict(self) -> dict:
        return {"target": self.key, "clause": self.target.clause, "description": self.target.description,
                "lang": self.lang, "periods": len(self.applicable), "periods_met": self.met,
                "delivered": self.delivered, "required": self.target.minimum * len(self.applicable),
                "status": self.status.value, "status_text": STATUS_TEXT[self.status]}


@dataclass
class Compliance:
    unit: str
    plan: PlanFile
    span: Span
    now: datetime
    rows: list[Row]
    topics: dict[str, dict] = field(default_factory=dict)

    @property
    def summaries(self) -> list[Summary]:
        grouped: dict[tuple[str, str], list[Row]] = defaultdict(list)
        for row in self.rows:
            grouped[(row.key, row.lang)].append(row)
        return [Summary(key, rows[0].target, lang, rows) for (key, lang), rows in grouped.items()]

    @property
    def uncovered(self) -> list[str]:
        return [code for code, info in self.topics.items() if info["deliveries"] == 0]

    def as_dict(self) -> dict:
        return {"unit": self.unit, "plan": self.plan.id, "period": self.span.label, "period_title": self.span.title,
                "at": self.now.isoformat(), "rows": [r.as_dict() for r in self.rows],
                "summary": [s.as_dict() for s in self.summaries],
                "topics": [{"code": code, **info} for code, info in self.topics.items()],
                "uncovered": self.uncovered}


def plan_for(config: Config, unit: str, year: int) -> PlanFile:
    """The unit's plan for ``year``; a clear error when it has none."""
    if unit not in config.units:
        raise InputError("--unit", f"không có đơn vị '{unit}'; các đơn vị: {', '.join(sorted(config.units))}")
    for plan in config.plans.values():
        if plan.unit == unit and plan.year == year:
            return plan
    have = sorted(f"{p.year} ({p.id})" for p in config.plans.values() if p.unit == unit)
    raise InputError("--unit", f"đơn vị '{unit}' chưa có kế hoạch năm {year} trong config/plans/"
                     + (f"; có kế hoạch: {', '.join(have)}" if have else "")
                     + "; hãy thêm một tệp kế hoạch (xem cchc plan import)")


def target_channels(config: Config, unit: str, target: TargetConfig) -> list[str]:
    """The unit's channels a target counts: a category of channels, a group, or one channel."""
    own = config.channels_of(unit)
    if target.channel in CATEGORIES:
        return sorted(config.in_category(target.channel, unit))
    return [name for name in config.groups.get(target.channel, [target.channel]) if name in own]


def evaluate(session: Session, config: Config, *, unit: str, span: Span, now: datetime,
             count_preview: bool = False) -> Compliance:
    """Compliance of ``unit``'s plan over ``span``, as seen at ``now``.

    Only what went out counts. A channel in preview mode publishes nothing: its deliveries end
    ``previewed`` and count only when ``count_preview`` (the simulation, which previews every channel
    to show what would result).
    """
    plan = plan_for(config, unit, _year(span))
    rows: list[Row] = []
    channels_of_target = {key: target_channels(config, unit, t) for key, t in plan.targets.items()}
    for key, target in plan.targets.items():
        for sub in spans_in(target.period, span):
            rows.extend(Row(key, target, lang, sub) for lang in target.languages)
    lo = min([span.start_at, *(r.span.start_at for r in rows)])
    hi = max([span.end_at, *(r.span.end_at for r in rows)])
    own = config.channels_of(unit)
    live = sorted(name for name, ch in own.items() if count_preview or ch.mode == "live")
    facts = _facts(session, sorted(own), live, lo, hi, count_preview=count_preview)
    for key, target in plan.targets.items():
        wanted = set(channels_of_target[key])
        buckets = _bucket([f for f in facts if f.channel in wanted and target.counts(f.topics)], target.period)
        for row in (r for r in rows if r.key == key):
            _count(row, buckets.get((row.lang, row.span.label), {}))
            _judge(row, plan, config, channels_of_target[key], now)
    coverage = _coverage(plan, [f for f in facts if f.delivered and span.start_at <= f.at < span.end_at])
    return Compliance(unit, plan, span, now, rows, coverage)


@dataclass(frozen=True)
class _Fact:
    announcement: int
    channel: str
    lang: str
    due: datetime
    at: datetime  # when it was delivered, or when it is due
    delivered: bool
    filled: bool
    topics: tuple[str, ...]


def _facts(session: Session, channels: list[str], live: list[str], lo: datetime, hi: datetime, *,
           count_preview: bool = False) -> list[_Fact]:
    """Delivered deliveries in ``[lo, hi)`` by delivery time, and open ones by due time: the forecast,
    from ``live`` channels only (what a channel in preview mode will do is never published)."""
    if not channels:
        return []
    done = [DeliveryState.DELIVERED, *([DeliveryState.PREVIEWED] if count_preview else [])]
    query = (select(Delivery.announcement_id, Delivery.channel_id, Delivery.lang, Delivery.state, Delivery.due_at,
                    Delivery.finished_at, Delivery.origin, Announcement.topics)
             .join(Announcement, col(Announcement.id) == col(Delivery.announcement_id))
             .where(col(Delivery.channel_id).in_(channels),
                    or_(and_(col(Delivery.state).in_(done), col(Delivery.finished_at) >= lo,
                             col(Delivery.finished_at) < hi),
                        and_(col(Delivery.state).in_(COMING), col(Delivery.channel_id).in_(live),
                             Delivery.due_at >= lo, Delivery.due_at < hi))))
    return [
        _Fact(ann, channel, lang, due, finished if state in done else due,
              state in done, origin == FILL_ORIGIN, tuple(topics or ()))
        for ann, channel, lang, state, due, finished, origin, topics in session.exec(query)
    ]


def _bucket(facts: list[_Fact], kind: str) -> dict[tuple[str, str], dict[tuple[int, datetime], _Fact]]:
    """Facts by (language, period label), one per announcement and due time: delivered if any of its
    channels delivered it."""
    buckets: dict[tuple[str, str], dict[tuple[int, datetime], _Fact]] = defaultdict(dict)
    for fact in facts:
        seen = buckets[(fact.lang, span_at(kind, fact.at).label)]
        key = (fact.announcement, fact.due)
        if key not in seen or (fact.delivered and not seen[key].delivered):
            seen[key] = fact
    return buckets


def _count(row: Row, seen: dict[tuple[int, datetime], _Fact]) -> None:
    row.delivered = sum(f.delivered for f in seen.values())
    row.scheduled = len(seen) - row.delivered
    row.filled = sum(f.filled for f in seen.values())


def _judge(row: Row, plan: PlanFile, config: Config, channels: list[str], now: datetime) -> None:
    if row.span.end <= plan.starts:
        row.status = Status.NOT_APPLICABLE
    elif row.delivered >= row.target.minimum:
        row.status = Status.MET
    elif now >= row.span.end_at:
        row.status = Status.MISSED
    elif row.needed > 0:
        row.status = Status.AT_RISK
        left = _slots_left(config, channels, max(now, row.span.start_at), row.span.end_at)
        row.warning = row.span.elapsed(now) >= plan.compliance.warn_at or (left is not None and left <= row.needed)
    else:
        row.status = Status.ON_TRACK


def _slots_left(config: Config, channels: list[str], since: datetime, until: datetime) -> int | None:
    """Loudspeaker slots still to come before ``until`` (None when the target has no slotted channel)."""
    slots = {s for name in channels if config.channels[name].slotted
             for s in config.channels[name].settings.get("slots", [])}
    return len(slot_times(sorted(slots), since, until)) if slots else None


def _coverage(plan: PlanFile, delivered: list[_Fact]) -> dict[str, dict]:
    result = {code: {"clause": t.clause, "text": t.text, "deliveries": 0, "announcements": 0}
              for code, t in plan.topics.items()}
    announcements: dict[str, set[int]] = defaultdict(set)
    for fact in delivered:
        for code in fact.topics:
            if code in result:
                result[code]["deliveries"] += 1
                announcements[code].add(fact.announcement)
    for code, ids in announcements.items():
        result[code]["announcements"] = len(ids)
    return result


def _year(span: Span) -> int:
    return span.start.isocalendar().year if span.kind == "week" else span.start.year


def warn(session: Session, compliance: Compliance, *, at: datetime) -> list[Row]:
    """Record each new early warning once (audit trail and log); return the rows newly warned about."""
    fresh = []
    for row in compliance.rows:
        if not row.warning:
            continue
        subject = f"target:{compliance.plan.id}/{row.key}/{row.span.label}/{row.lang}"
        if session.exec(select(AuditEvent.id).where(AuditEvent.action == "quota_warning",
                                                    AuditEvent.subject == subject)).first() is not None:
            continue
        message = (f"chỉ tiêu '{row.target.description}' ({row.target.clause}), {LANGUAGE_NAMES[row.lang]}, "
                   f"{row.span.title}: đã có {row.delivered}, đã lên lịch {row.scheduled}, "
                   f"cần tối thiểu {row.target.minimum}; còn thiếu {row.needed}")
        audit.record(session, actor="cchc-service", action="quota_warning", subject=subject, at=at,
                     unit=compliance.unit, message=message)
        log.warning("quota at risk: %s", message)
        fresh.append(row)
    return fresh
