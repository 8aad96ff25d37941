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
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache

from sqlalchemy import Integer, String, and_, bindparam, case, cast, func, literal, literal_column, null, or_, text
from sqlmodel import Session, col, select

from channels.base import CATEGORIES
from channels.languages import LANGUAGE_NAMES
from scheduler.clock import LOCAL_TZ, slot_times
from scheduler.config import Config, PlanFile, TargetConfig
from scheduler.errors import InputError
from scheduler.outbox.states import COMING
from scheduler.plans import activities
from scheduler.plans.periods import Span, span_of, spans_in
from scheduler.record import audit
from scheduler.record.models import Announcement, AuditEvent, Channel, Delivery, DeliveryState

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


def plan_years(config: Config, units: list[str], until: int) -> list[int]:
    """The years up to ``until`` for which any of ``units`` has a plan, most recent first."""
    return sorted({p.year for p in config.plans.values() if p.unit in units and p.year <= until}, reverse=True)


def plan_for(config: Config, unit: str, year: int) -> PlanFile:
    """The unit's plan for ``year``; a clear error when it has none."""
    if unit not in config.units:
        raise InputError("--unit", f"không có đơn vị '{unit}'; các đơn vị: {', '.join(sorted(config.units))}")
    for plan in config.plans.values():
        if plan.unit == unit and plan.year == year:
            return plan
    have = sorted((p for p in config.plans.values() if p.unit == unit), key=lambda p: p.year)
    if have:
        missing = (f"{config.units[unit].name} chưa có kế hoạch năm {year} (kế hoạch tuyên truyền CCHC; đã có: "
                   f"{', '.join(f'năm {p.year}' for p in have)})")
        raise InputError("--unit", f"{missing}; tạo kế hoạch năm {year} từ kế hoạch năm {have[-1].year} bằng lệnh: "
                                   f"cchc plan new --year {year} --from {have[-1].id}", web=missing)
    raise InputError("--unit", f"{config.units[unit].name} chưa có kế hoạch tuyên truyền CCHC nào; đọc văn bản kế "
                     "hoạch thành đề xuất bằng lệnh: cchc plan import TỆP.txt",
                     web=f"{config.units[unit].name} chưa có kế hoạch tuyên truyền CCHC nào; hãy nhờ quản trị máy "
                         "chủ nhập văn bản kế hoạch")


def target_channels(config: Config, unit: str, target: TargetConfig) -> list[str]:
    """The unit's channels a target counts: a category of channels, a group, or one channel."""
    own = config.channels_of(unit)
    if target.channel in CATEGORIES:
        return sorted(config.in_category(target.channel, unit))
    return [name for name in config.groups.get(target.channel, [target.channel]) if name in own]


def evaluate(session: Session, config: Config, *, unit: str, span: Span, now: datetime,
             count_preview: bool = False, coverage: bool = True) -> Compliance:
    """Compliance of ``unit``'s plan over ``span``, as seen at ``now``.

    Only what went out counts. A channel in preview mode publishes nothing: its deliveries end
    ``previewed`` and count only when ``count_preview`` (the simulation, which previews every channel
    to show what would result). The counting is done by the database: per target, one query groups its
    deliveries by language and period (Vietnam time), one per announcement and due time, keeping only
    the announcements whose topics the target counts; one more counts what each announcement got (not
    when ``coverage`` is False: the province's view needs no topics).
    """
    found = evaluate_many(session, config, units=[unit], span=span, now=now, count_preview=count_preview,
                          coverage=coverage)[unit]
    if isinstance(found, InputError):
        raise found
    return found


def evaluate_many(session: Session, config: Config, *, units: list[str], span: Span, now: datetime,
                  count_preview: bool = False, coverage: bool = True) -> dict[str, Compliance | InputError]:
    """``evaluate`` for many units at once (the province's communes): targets with the same period and
    topics are counted by one query for all the units, grouped by the unit of the channel. A unit
    without a plan for the year gets the ``InputError`` that says so instead of a result."""
    results: dict[str, Compliance | InputError] = {}
    done = [DeliveryState.DELIVERED, *([DeliveryState.PREVIEWED] if count_preview else [])]
    plans: dict[str, PlanFile] = {}
    rows: dict[str, list[Row]] = {}
    # (period, topics, excluded topics) -> the units' targets counted alike: (unit, key, its channels, live ones)
    alike: dict[tuple, list[tuple[str, str, list[str], list[str]]]] = defaultdict(list)
    held: list[tuple[str, str, TargetConfig]] = []  # targets that count activities, not deliveries
    for unit in units:
        try:
            plans[unit] = plan_for(config, unit, _year(span))
        except InputError as exc:
            results[unit] = exc
            continue
        rows[unit] = []
        live = {name for name, ch in config.channels_of(unit).items() if count_preview or ch.mode == "live"}
        for key, target in plans[unit].targets.items():
            for sub in spans_in(target.period, span):
                rows[unit].extend(Row(key, target, lang, sub) for lang in target.languages)
            if target.activity:  # counted from the activities register, below
                held.append((unit, key, target))
                continue
            wanted = target_channels(config, unit, target)
            alike[(target.period, tuple(target.topics), tuple(target.exclude_topics))].append(
                (unit, key, wanted, [name for name in wanted if name in live]))
    # PostgreSQL counts all the units' targets alike in one statement (hash aggregates over the join);
    # SQLite is faster a unit at a time (each statement small and through the channel's index):
    # measured by bench/province.py, 75 communes, a quarter.
    if session.get_bind().dialect.name != "postgresql" and len(plans) > 1:
        apart: dict[tuple, list[tuple[str, str, list[str], list[str]]]] = defaultdict(list)
        for signature, members in alike.items():
            for member in members:
                apart[(*signature, member[0])].append(member)
        alike = apart
    by_unit = len(plans) > 1 and session.get_bind().dialect.name == "postgresql"
    for (period, topics, exclude, *_), members in alike.items():
        channels = sorted({name for _, _, wanted, _ in members for name in wanted})
        live = sorted({name for _, _, _, ready in members for name in ready})
        counted = [(unit, wanted, [r for r in rows[unit] if r.key == key]) for unit, key, wanted, _ in members]
        # Each statement reads its own periods only: a year's target must not widen what a month's reads.
        lo, hi = _bounds(span, [row for _, _, own in counted for row in own])
        counts = _counts(session, channels, live, done, lo, hi, period=period, topics=topics, exclude=exclude,
                         by_unit=by_unit)
        for unit, wanted, own in counted:
            for row in own:
                found = counts.get((unit if by_unit else None, row.lang, row.span.label), (0, 0, 0))
                row.delivered, row.scheduled, row.filled = found
                _judge(row, plans[unit], config, wanted, now)
    days: dict[str, dict[tuple[str, date], int]] = {}  # kind of activity -> (unit, day) -> count
    for kind in {target.activity for _, _, target in held}:
        lo, hi = _bounds(span, [r for u, key, t in held if t.activity == kind for r in rows[u] if r.key == key])
        days[kind] = activities.counts(session, units=sorted({u for u, _, t in held if t.activity == kind}),
                                       kind=kind, since=lo.astimezone(LOCAL_TZ).date(),
                                       until=hi.astimezone(LOCAL_TZ).date())
    for unit, key, target in held:
        by_label: dict[str, int] = defaultdict(int)
        for (where, day), count in days[target.activity].items():
            if where == unit:
                by_label[span_of(target.period, day).label] += count
        for row in (r for r in rows[unit] if r.key == key):
            row.delivered = by_label.get(row.span.label, 0)
            _judge(row, plans[unit], config, [], now)
    for unit, plan in plans.items():
        topics = _coverage(session, plan, sorted(config.channels_of(unit)), done, span) if coverage else {}
        results[unit] = Compliance(unit, plan, span, now, rows[unit], topics)
    return results


def _bounds(span: Span, rows: list[Row]) -> tuple[datetime, datetime]:
    """From the first to the end of the periods of ``rows`` (a week may begin before ``span``)."""
    return (min([span.start_at, *(r.span.start_at for r in rows)]),
            max([span.end_at, *(r.span.end_at for r in rows)]))


# The statements are built once (per database kind and period) with bound parameters, so a page
# that evaluates a plan pays for running its queries, not for building them again.
_TIME = Delivery.__table__.c.due_at.type


def _params(channels: list[str], live: list[str], done: list[DeliveryState], lo: datetime, hi: datetime,
            **more: object) -> dict[str, object]:
    return {"channels": channels, "live": [name for name in live if name in channels], "done": list(done),
            "coming": list(COMING), "lo": lo, "hi": hi, **more}


def _when():  # noqa: ANN202
    """When a delivery counts: when it went out, or (still to go) when it is due."""
    return case((col(Delivery.state).in_(bindparam("done", expanding=True)), col(Delivery.finished_at)),
                else_=col(Delivery.due_at))


def _where():  # noqa: ANN202
    """Delivered in ``[lo, hi)`` on ``channels``, or still to go and due then on a ``live`` one (a
    channel in preview mode will publish nothing)."""
    # Each branch names its channels, so the database reads each through its own index (channel and
    # finish time; channel, state and due time) instead of every delivery the channels ever had.
    lo, hi = bindparam("lo", type_=_TIME), bindparam("hi", type_=_TIME)
    return or_(
        and_(col(Delivery.channel_id).in_(bindparam("channels", expanding=True)),
             col(Delivery.state).in_(bindparam("done", expanding=True)),
             col(Delivery.finished_at) >= lo, col(Delivery.finished_at) < hi),
        and_(col(Delivery.channel_id).in_(bindparam("live", expanding=True)),
             col(Delivery.state).in_(bindparam("coming", expanding=True)), Delivery.due_at >= lo, Delivery.due_at < hi))


def _about(dialect: str, param: str):  # noqa: ANN202
    """The delivery's announcement has one of the topics bound as ``param`` (a list), looked up in its
    JSON array."""
    each = (func.json_each(Announcement.topics) if dialect == "sqlite" else
            func.json_array_elements_text(Announcement.topics)).table_valued("value").alias(f"{param}_each")
    return select(literal(1)).select_from(Announcement).join(each, literal(True)).where(
        Announcement.id == Delivery.announcement_id,
        each.c.value.in_(bindparam(param, expanding=True))).exists()


@cache
def _counts_statement(dialect: str, period: str, only: bool, without: bool, by_unit: bool):  # noqa: ANN202
    label = _period_label(dialect, _when(), period)
    where = _where()
    if only:  # the target counts items about these topics only ...
        where = and_(where, _about(dialect, "topics"))
    if without:  # ... and never items about those
        where = and_(where, ~_about(dialect, "exclude"))
    done = col(Delivery.state).in_(bindparam("done", expanding=True))
    unit = Channel.unit_id if by_unit else null()
    period_column = label.label("period")  # grouped by its name: the database computes it once a row
    one = (select(unit.label("unit"), Delivery.lang.label("lang"), period_column,
                  func.max(case((done, 1), else_=0)).label("done"),
                  func.max(case((Delivery.origin == FILL_ORIGIN, 1), else_=0)).label("fill"))
           .where(where))
    if by_unit:  # one count an announcement and due time in each unit (its channels are the unit's)
        one = one.join(Channel, col(Channel.id) == col(Delivery.channel_id))
    one = one.group_by(*([Channel.unit_id] if by_unit else []), Delivery.lang, literal_column("period"),
                       Delivery.announcement_id, Delivery.due_at).subquery()
    return select(one.c.unit, one.c.lang, one.c.period, func.sum(one.c.done), func.count(), func.sum(one.c.fill)) \
        .group_by(one.c.unit, one.c.lang, one.c.period)


def _counts(session: Session, channels: list[str], live: list[str], done: list[DeliveryState], lo: datetime,
            hi: datetime, *, period: str, topics: tuple[str, ...], exclude: tuple[str, ...], by_unit: bool = False
            ) -> dict[tuple[str | None, str, str], tuple[int, int, int]]:
    """(delivered, scheduled, filled) by (unit or None, language, period label): each announcement at each
    due time once, delivered if any of the channels delivered it, filled if the gap filler made it,
    counted only when its topics count (``topics``: one of these, ``exclude``: none of those); by the
    channel's unit when ``by_unit``."""
    if not channels:
        return {}
    statement = _counts_statement(session.get_bind().dialect.name, period, bool(topics), bool(exclude), by_unit)
    values = {"topics": list(topics)} if topics else {}
    if exclude:
        values["exclude"] = list(exclude)
    rows = session.connection().execute(statement, _params(channels, live, done, lo, hi, **values)).all()
    labels = _week_label if period == "week" else str
    return {(unit, lang, labels(text)): (int(delivered), int(total) - int(delivered), int(filled))
            for unit, lang, text, delivered, total, filled in rows}


def _period_label(dialect: str, at, period: str):  # noqa: ANN001, ANN202
    """The SQL for the label of the ``period`` (``2025-09``, ``2025-Q3``, ``2025-H2``, ``2025``) that holds
    ``at`` in Vietnam time (UTC+7, no daylight saving); for weeks, the number of weeks since Monday
    3 January 2000 (plain arithmetic, much cheaper than date functions; ``_week_label`` names it)."""
    sqlite = dialect == "sqlite"
    if period == "week":
        if sqlite:  # Julian day numbers: 2451546.5 is 2000-01-03 00:00
            return cast((func.julianday(at) + 7 / 24 - 2451546.5) / 7, Integer)
        # date_part is double precision; EXTRACT is numeric since PostgreSQL 14, several times slower a row
        return cast(func.floor((func.date_part("epoch", at) + 7 * 3600 - _MONDAY_EPOCH) / (7 * 86400)), Integer)
    local = None if sqlite else at + text("interval '7 hours'")
    day = func.date(at, "+7 hours", type_=String) if sqlite else func.to_char(local, "YYYY-MM-DD", type_=String)
    year, month = func.substr(day, 1, 4, type_=String), cast(func.substr(day, 6, 2), Integer)
    if period == "month":
        return func.substr(day, 1, 7, type_=String)
    if period == "quarter":
        return year.concat("-Q").concat(cast((month + 2) / 3, String))
    if period == "half":
        return year.concat("-H").concat(case((month <= 6, literal("1")), else_=literal("2")))
    return year


_MONDAY = date(2000, 1, 3)
_MONDAY_EPOCH = 946_857_600  # 2000-01-03 00:00 UTC in Unix seconds


def _week_label(weeks: int) -> str:
    return span_of("week", _MONDAY + timedelta(weeks=int(weeks))).label


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


def _coverage(session: Session, plan: PlanFile, channels: list[str], done: list[DeliveryState],
              span: Span) -> dict[str, dict]:
    """For each of the plan's topics: deliveries that went out in ``span`` and the announcements they carried."""
    result = {code: {"clause": t.clause, "text": t.text, "deliveries": 0, "announcements": 0}
              for code, t in plan.topics.items()}
    if not channels:
        return result
    per = session.connection().execute(_COVERAGE, {"channels": channels, "done": list(done), "lo": span.start_at,
                                                   "hi": span.end_at}).all()
    for _, count, topics in per:
        for code in topics or ():
            if code in result:
                result[code]["deliveries"] += count
                result[code]["announcements"] += 1
    return result


_COVERAGE = select(Delivery.announcement_id, func.count(), select(Announcement.topics).where(
    Announcement.id == Delivery.announcement_id).scalar_subquery()).where(
    col(Delivery.channel_id).in_(bindparam("channels", expanding=True)),
    col(Delivery.state).in_(bindparam("done", expanding=True)),
    col(Delivery.finished_at) >= bindparam("lo", type_=_TIME), col(Delivery.finished_at) < bindparam("hi", type_=_TIME),
).group_by(Delivery.announcement_id)


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
        audit.record(session, unit=compliance.unit, actor="cchc-service", action="quota_warning", subject=subject,
                     at=at, message=message)
        log.warning("quota at risk: %s", message)
        fresh.append(row)
    return fresh
