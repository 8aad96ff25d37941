"""The audit trail: one append-only row per action a person or the service takes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from scheduler.models import AuditEvent


def record(session: Session, *, actor: str, action: str, subject: str, at: datetime, **detail: Any) -> None:
    session.add(AuditEvent(at=at, actor=actor, action=action, subject=subject, detail=detail))
