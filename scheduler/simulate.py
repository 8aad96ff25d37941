"""Simulation: run the scheduler over a date range on a virtual clock, in a scratch database.

The unit's announcements, approvals and deliveries are copied into a temporary SQLite database and
the real dispatcher runs there at every moment something is due, with the clock set to that moment:
channels that have a preview mode preview, the built-in website writes into the scratch folder, and
each loudspeaker slot runs the real gap filler and then counts what is due as played (no audio is
built; a programme that would run over ``max_minutes`` is not modelled). Nothing touches the real
database, folders or platforms. The result is the compliance the plan would show at the end.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import or_
from sqlmodel import Session, col, select

from channels import build_channel
from channels.base import Wiring
from scheduler.clock import LOCAL_TZ, FrozenClock, local_midnight, show_vn, slot_times
from scheduler.config import Config
from scheduler.errors import InputError
from scheduler.loudspeaker.fill import due_in_slot, fill_slot
from scheduler.outbox.deliveries import move
from scheduler.outbox.dispatch import Dispatcher
from scheduler.outbox.states import CLAIMABLE
from scheduler.plans.compliance import Compliance, Row, evaluate, warn
from scheduler.plans.periods import Span, day_span, span_at
from scheduler.record import catalog
from scheduler.record.db import make_engine, migrate, read_session, write_session
from scheduler.record.models import Announcement, Approval, Delivery, DeliveryState, Translation
from scheduler.record.scratch import safe_config

MAX_DAYS = 366


@dataclass
class Simulation:
    compliance: Compliance
    sent: int = 0
    filled: int = 0
    slots: int = 0
    expired: int = 0
    warnings: list[tuple[datetime, Row]] = field(default_factory=list)


def simulate(engine, config: Config, *, unit: str, first: date, last: date) -> Simulation:
    """Run ``unit``'s schedule from ``first`` to ``last`` (days, inclusive) and return the outcome."""
    if last < first:
        raise InputError("--to", "ngày cuối phải sau hoặc bằng ngày đầu (--from)")
    if (last - first).days >= MAX_DAYS:
        raise InputError("--to", f"mô phỏng tối đa {MAX_DAYS} ngày; hãy chia nhỏ khoảng thời gian")
    if first.year != last.year:
        raise InputError("--to", "mô phỏng trong một năm kế hoạch; hãy tách thành hai lần chạy")
    span = Span(first, last + timedelta(days=1), "range", f"{first}..{last}")
    start = span.start_at
    with read_session(engine) as source:
        evaluate(source, config, unit=unit, span=span, now=start)  # refuses a unit without a plan early
    with tempfile.TemporaryDirectory(prefix="cchc-simulate-") as scratch:
        folder = Path(scratch)
        sim_config = _previewing(config, unit)
        target = make_engine(f"sqlite:///{folder / 'simulation.db'}")
        try:
            migrate(target)
            with read_session(engine) as source, write_session(target) as session:
                catalog.sync(session, sim_config)
                _copy(source, session, config, unit, since=_history_start(config, unit, start))
            return _run(target, sim_config, unit, folder, span)
        finally:
            target.dispose()


def _previewing(config: Config, unit: str) -> Config:
    """The unit's channels made safe (``scratch.safe_config``); a channel that cannot be made safe would
    leave a gap in the forecast, so it is refused rather than left out."""
    safe = safe_config(config, unit)
    for name, ch in config.channels_of(unit).items():
        if ch.enabled and name not in safe.channels:
            raise InputError("--unit", f"kênh {name} (loại {ch.kind}) không có chế độ xem trước nên không mô phỏng "
                                       "được; hãy tạm tắt nó (enabled = false) khi mô phỏng")
    return safe


def _history_start(config: Config, unit: str, start: datetime) -> datetime:
    """The start of the longest target period running at ``start``: deliveries before it never count."""
    periods = {t.period for p in config.plans.values() if p.unit == unit for t in p.targets.values()}
    return min([span_at(kind, start).start_at for kind in periods] or [start])


def _copy(source: Session, target: Session, config: Config, unit: str, *, since: datetime) -> None:
    """The unit's items and the deliveries on its channels, with the items they belong to: a province item on
    the commune's loudspeakers plays and counts there too."""
    deliveries = source.exec(select(Delivery).where(
        col(Delivery.channel_id).in_(list(config.channels_of(unit))),
        or_(Delivery.due_at >= since, col(Delivery.finished_at) >= since))).all()
    others = sorted({d.announcement_id for d in deliveries})
    anns = list(source.exec(select(Announcement).where(Announcement.unit_id == unit)).all())
    for start in range(0, len(others), 900):
        anns += source.exec(select(Announcement).where(col(Announcement.id).in_(others[start:start + 900]),
                                                       Announcement.unit_id != unit)).all()
    ids = [a.id for a in anns]
    rows: list = list(anns)
    for start in range(0, len(ids), 900):
        chunk = ids[start:start + 900]
        rows += source.exec(select(Translation).where(col(Translation.announcement_id).in_(chunk))).all()
        rows += source.exec(select(Approval).where(col(Approval.announcement_id).in_(chunk))).all()
    rows += deliveries
    for row in rows:  # the unit of work inserts parents before children (foreign keys)
        target.add(type(row)(**row.model_dump()))


def _run(engine, config: Config, unit: str, folder: Path, span: Span) -> Simulation:
    clock = FrozenClock(span.start_at)
    wiring = Wiring(clock=clock.now)  # time rules on the simulated clock; previews: no hooks, tokens or voices
    channels = {name: build_channel(name, ch.kind, ch.settings, data_dir=folder, wiring=wiring)
                for name, ch in config.channels.items()}
    dispatcher = Dispatcher(engine, channels, {n: ch.mode for n, ch in config.channels.items()}, now=clock.now)
    loudspeakers = {n: ch.settings["slots"] for n, ch in config.channels.items() if ch.slotted}
    events = _events(engine, loudspeakers, span)
    counts = {"sent": 0, "filled": 0, "slots": 0, "expired": 0}
    warnings: list[tuple[datetime, Row]] = []
    day = None
    for moment, slot_of in events:
        clock.moment = moment
        report = dispatcher.run_once()
        counts["sent"] += report.sent.get(DeliveryState.DELIVERED, 0) + report.sent.get(DeliveryState.PREVIEWED, 0)
        counts["expired"] += report.expired
        if slot_of is not None:
            counts["slots"] += 1
            counts["filled"] += _play_slot(engine, config, slot_of, moment)
        today = moment.astimezone(LOCAL_TZ).date()
        if today != day:  # the service checks quotas through the day; once a day is enough here
            day = today
            with write_session(engine) as session:
                seen = evaluate(session, config, unit=unit, span=day_span(today), now=moment, count_preview=True)
                warnings += [(moment, row) for row in warn(session, seen, at=moment)]
    clock.moment = span.end_at
    counts["expired"] += dispatcher.expire_overdue()
    with read_session(engine) as session:
        outcome = evaluate(session, config, unit=unit, span=span, now=clock.now(), count_preview=True)
    return Simulation(outcome, warnings=warnings, **counts)


def _events(engine, loudspeakers: dict[str, list[str]], span: Span) -> list[tuple[datetime, str | None]]:
    """Every moment something happens: each loudspeaker slot, each due time, 08:00 every day."""
    events: set[tuple[datetime, str | None]] = set()
    for name, slots in loudspeakers.items():
        events |= {(moment, name) for moment in slot_times(slots, span.start_at - timedelta(seconds=1), span.end_at)
                   if moment < span.end_at}
    with read_session(engine) as session:
        due = session.exec(select(Delivery.due_at, Delivery.next_attempt_at).where(
            col(Delivery.state).in_(CLAIMABLE), col(Delivery.channel_id).notin_(list(loudspeakers)),
            Delivery.next_attempt_at < span.end_at)).all()
    events |= {(max(moment, span.start_at), None) for _, moment in due}
    day = span.start
    while day < span.end:
        events.add((local_midnight(day) + timedelta(hours=8), None))
        day += timedelta(days=1)
    return sorted(events, key=lambda e: (e[0], e[1] or ""))


def _play_slot(engine, config: Config, channel: str, slot_at: datetime) -> int:
    """What the broadcaster would do at the slot, without audio: fill, then count what is due as played."""
    with write_session(engine) as session:
        filled = fill_slot(session, config, channel, slot_at, now=slot_at, count_preview=True)
        for d in session.exec(due_in_slot(channel, slot_at)).all():
            move(d, DeliveryState.SENDING, slot_at)  # as the broadcaster claims it, then plays nothing
            move(d, DeliveryState.PREVIEWED, slot_at, finished_at=slot_at,
                 last_error=f"mô phỏng: sẽ phát lúc {show_vn(slot_at)}")
    return len({d.announcement_id for d in filled})
