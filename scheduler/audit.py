"""The audit trail: one append-only row per action a person or the service takes, and how to read it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, func, select

from scheduler.models import AuditEvent


def record(session: Session, *, actor: str, action: str, subject: str, at: datetime, **detail: Any) -> None:
    session.add(AuditEvent(at=at, actor=actor, action=action, subject=subject, detail=detail))


def _query(query, *, since: datetime | None, until: datetime | None, actor: str | None,  # noqa: ANN001
           action: str | None, subject: str | None):
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
           limit: int | None = None, offset: int = 0) -> list[AuditEvent]:
    """Who did what to which object, newest first."""
    query = _query(select(AuditEvent), since=since, until=until, actor=actor, action=action, subject=subject)
    query = query.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).offset(offset)
    return list(session.exec(query.limit(limit) if limit else query).all())


def count(session: Session, *, since: datetime | None = None, until: datetime | None = None,
          actor: str | None = None, action: str | None = None, subject: str | None = None) -> int:
    query = _query(select(func.count()).select_from(AuditEvent), since=since, until=until, actor=actor,
                   action=action, subject=subject)
    return session.exec(query).one()
