"""The audit trail: one append-only row per action a person or the service takes, and how to read it.

Every event names the unit it belongs to (the item's, the channel's, the account's), so each unit's
trail shows its own events; ``unit=None`` is for what concerns the whole installation (a restore).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, or_, select

from scheduler.record.models import AuditEvent


def record(session: Session, *, unit: str | None, actor: str, action: str, subject: str, at: datetime,
           **detail: Any) -> None:
    session.add(AuditEvent(at=at, unit_id=unit, actor=actor, action=action, subject=subject, detail=detail))


def _query(query, *, since: datetime | None, until: datetime | None, actor: str | None,  # noqa: ANN001
           action: str | None, subject: str | None, unit: str | None, installation: bool):
    if unit:  # one unit's trail, with the installation's own events when asked
        own = AuditEvent.unit_id == unit
        query = query.where(or_(own, col(AuditEvent.unit_id).is_(None)) if installation else own)
    if since:
        query = query.where(AuditEvent.at >= since)
    if until:
        query = query.where(AuditEvent.at < until)
    if actor:
        query = query.where(AuditEvent.actor == actor)
    if action:
        query = query.where(AuditEvent.action == action)
    if subject:
        query = query.where(AuditEvent.subject == subject)
    return query


def events(session: Session, *, since: datetime | None = None, until: datetime | None = None,
           actor: str | None = None, action: str | None = None, subject: str | None = None,
           unit: str | None = None, installation: bool = False, limit: int | None = None,
           offset: int = 0) -> list[AuditEvent]:
    """Who did what to which object, newest first: of ``unit`` only when given (and the installation's
    events with ``installation``)."""
    query = _query(select(AuditEvent), since=since, until=until, actor=actor, action=action, subject=subject,
                   unit=unit, installation=installation)
    query = query.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).offset(offset)
    return list(session.exec(query.limit(limit) if limit else query).all())


def count(session: Session, *, since: datetime | None = None, until: datetime | None = None,
          actor: str | None = None, action: str | None = None, subject: str | None = None,
          unit: str | None = None, installation: bool = False) -> int:
    query = _query(select(func.count()).select_from(AuditEvent), since=since, until=until, actor=actor,
                   action=action, subject=subject, unit=unit, installation=installation)
    return session.exec(query).one()
