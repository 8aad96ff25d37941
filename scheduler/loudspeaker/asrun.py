"""The as-run log of loudspeaker slots: what each slot played, when, and what happened to its parts.

One ``AsRun`` row per (channel, slot, kind), unique, so a slot can never play twice:

    (none) ──prepare──> prepared ──start──> playing ──every part played──> played
                            │                  ├──the push stopped, the service died──> interrupted
                            │                  └──the upload failed──> failed
                            ├──nothing due at the start──> skipped
    (none) / prepared ──the slot's grace passed unplayed──> missed

This module is the slot bookkeeping; ``scheduler.loudspeaker.broadcast`` builds the programmes and decides when
to call it. A part's delivery moves only through ``scheduler.outbox.deliveries`` (fenced by the attempt id
the start gave it), so a delivery changed meanwhile is left as it is.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from scheduler.clock import show, show_vn
from scheduler.outbox.deliveries import move
from scheduler.outbox.deliveries import played as played_part
from scheduler.record.db import read_session, write_session
from scheduler.record.models import AsRun, AsRunStatus, Attempt, Delivery, ServiceState
from scheduler.record.models import DeliveryState as S

log = logging.getLogger("cchc.broadcast")
SWEEP_KEY = "broadcast_swept_until"


def find(session: Session, name: str, slot_at: datetime, kind: str) -> AsRun | None:
    return session.exec(select(AsRun).where(AsRun.channel_id == name, AsRun.slot_at == slot_at,
                                            AsRun.kind == kind)).first()


def record_prepared(session: Session, name: str, slot_at: datetime, kind: str, *, backend: str, path: str,
                    duration_ms: int, parts: list[dict], notes: list[str], now: datetime) -> int:
    """The slot's programme is built (again): its row says ``prepared``, with the parts to play."""
    row = find(session, name, slot_at, kind)
    if row is None:
        row = AsRun(channel_id=name, slot_at=slot_at, kind=kind, backend=backend)
        session.add(row)
    row.status, row.path, row.duration_ms = AsRunStatus.PREPARED, path, duration_ms
    row.parts, row.notes, row.prepared_at, row.backend = parts, notes, now, backend
    row.items = len(parts)
    row.message = None if parts else "không có tin nào đến hạn trong khung giờ này"
    session.flush()
    assert row.id is not None
    return row.id


def note(engine: Engine, as_run_id: int, message: str) -> None:
    """What the slot's playout said (an upload's result), for staff reading the log."""
    with write_session(engine) as session:
        row = session.get(AsRun, as_run_id)
        if row is not None:
            row.message = message


def start(session: Session, row: AsRun, due: list[Delivery], *, worker: str, now: datetime) -> None:
    """Start the slot (its row locked by the caller; ``due`` are its parts' deliveries, checked): each
    part's delivery is ``sending`` under a new attempt id, and the row ``playing`` (``skipped`` when
    nothing is due). ``stamp_start`` gives the true start once this is committed."""
    end = now + timedelta(milliseconds=row.duration_ms)
    parts = [dict(p) for p in row.parts]
    by_id = {d.id: d for d in due}
    for part in parts:
        d = by_id[part["delivery_id"]]
        attempt_id = str(uuid.uuid4())
        move(d, S.SENDING, now, attempt_count=d.attempt_count + 1, attempt_id=attempt_id,
             lease_until=end + timedelta(hours=1), claimed_by=worker)
        session.add(Attempt(delivery_id=d.id, attempt_id=attempt_id, kind="send", started_at=now))
        part["attempt_id"] = attempt_id
    row.parts = parts
    row.started_at, row.worker, row.items = now, worker, len(parts)
    row.status = AsRunStatus.PLAYING if parts else AsRunStatus.SKIPPED  # nothing due: nothing played
    if not parts:
        row.ended_at = now


def stamp_start(engine: Engine, as_run_id: int, now: datetime) -> None:
    """The moment the programme really goes out (after its start committed): what the as-run log and
    the slot-start figures report."""
    with write_session(engine) as session:
        session.execute(update(AsRun).where(col(AsRun.id) == as_run_id).values(started_at=now))


def playing(engine: Engine) -> list[AsRun]:
    with read_session(engine) as session:
        return list(session.exec(select(AsRun).where(AsRun.status == AsRunStatus.PLAYING)).all())


def mark_played(engine: Engine, as_run_id: int, played: Callable[[dict], bool], now: datetime) -> None:
    """Parts for which ``played(part)`` says so have gone out: their deliveries become ``delivered``;
    the slot is ``played`` once every part has."""
    with write_session(engine) as session:
        row = session.get(AsRun, as_run_id)
        if row is None or row.status != AsRunStatus.PLAYING:
            return
        parts = [dict(p) for p in row.parts]
        for part in parts:
            if part["played"] or not played(part):
                continue
            part["played"], part["played_at"] = True, now.isoformat()
            message = (f"đã phát trong khung giờ {show_vn(row.slot_at)}, từ giây {part['start_ms'] // 1000} "
                       f"đến {(part['start_ms'] + part['duration_ms']) // 1000}, giọng {part['engine']}")
            out = played_part(session, part["delivery_id"], part["attempt_id"], now,
                              remote_id=f"as-run:{row.id}", remote_url=row.path, last_error=None)
            attempt = session.exec(select(Attempt).where(Attempt.attempt_id == part["attempt_id"])).first()
            if attempt is not None:
                attempt.outcome, attempt.finished_at, attempt.message = "sent", now, message
                attempt.duration_ms = part["duration_ms"]
            if not out:
                log.warning("delivery %s changed while its part played; left as it is", part["ref_code"])
        row.parts = parts
        if all(p["played"] for p in parts):
            assert row.started_at is not None
            row.status = AsRunStatus.PLAYED
            row.ended_at = min(now, row.started_at + timedelta(milliseconds=row.duration_ms))
            log.info("slot %s %s played (%d parts)", row.channel_id, show(row.slot_at), len(parts))


def interrupt(engine: Engine, as_run_id: int, why: str, now: datetime, *,
              status: AsRunStatus = AsRunStatus.INTERRUPTED) -> None:
    """A playing slot stopped: the parts not yet played fail (never played late)."""
    with write_session(engine) as session:
        row = session.get(AsRun, as_run_id)
        if row is None or row.status != AsRunStatus.PLAYING:
            return
        for part in row.parts:
            if part["played"]:
                continue
            d = session.get(Delivery, part["delivery_id"])
            if d is not None and d.state == S.SENDING and d.attempt_id == part.get("attempt_id"):
                move(d, S.FAILED, now, finished_at=now, last_error=f"{why}; phần này chưa phát và không phát muộn")
        row.status, row.ended_at, row.message = status, now, why


def missed(session: Session, name: str, slot_at: datetime, *, backend: str, why: str,
           due: Callable[[], list[Delivery]], now: datetime) -> list[str] | None:
    """A slot that did not play in its time: ``missed``, and its deliveries (``due()``) expire. None
    when the slot had started after all (nothing is changed then); else the expired references."""
    row = find(session, name, slot_at, "slot")
    if row is not None and row.status != AsRunStatus.PREPARED:
        return None
    if row is None:
        row = AsRun(channel_id=name, slot_at=slot_at, kind="slot", backend=backend)
        session.add(row)
    expired = []
    for d in due():
        move(d, S.EXPIRED, now, finished_at=now, last_error=why)
        expired.append(d.ref_code)
    row.status, row.message, row.ended_at, row.items = AsRunStatus.MISSED, why, now, len(expired)
    row.notes = [*row.notes, *(f"lượt {ref} không được phát" for ref in expired)]
    return expired


def swept_since(engine: Engine, now: datetime, lookback: timedelta) -> datetime:
    """When the last sweep for missed slots ran (kept in the database, so slots lost while the service
    was down are found when it comes back; at most ``lookback`` ago); records this one."""
    with write_session(engine) as session:
        mark = session.get(ServiceState, SWEEP_KEY)
        if mark is None:
            mark = ServiceState(key=SWEEP_KEY, value="", updated_at=now)
            session.add(mark)
        start_at = max(mark.updated_at, now - lookback)
        mark.updated_at = max(mark.updated_at, now)
    return start_at
