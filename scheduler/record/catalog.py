"""Bring the database in line with ``config/``: units, plans, topics, targets, channels.

Idempotent: a second run with the same files changes nothing. A channel that disappears from the
config is disabled, not deleted, because its deliveries stay in the log.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, SQLModel, col, select

from scheduler.config import Config
from scheduler.record.models import Channel, Plan, Target, Topic, Unit, User


def sync(session: Session, config: Config) -> list[str]:
    """Upsert everything ``config`` describes; return one line per change made."""
    changes: list[str] = []
    for uid, unit in _parents_first(config):
        _upsert(session, Unit, uid, changes, name=unit.name, level=unit.level, parent_id=unit.parent,
                ref_prefix=unit.ref_prefix, station_name=unit.station_name, slots=unit.slots)
    session.flush()
    for plan in config.plans.values():
        _upsert(session, Plan, plan.id, changes, unit_id=plan.unit, year=plan.year, title=plan.title,
                decision=plan.decision, source=plan.source, issued=plan.issued, effective=plan.effective)
        session.flush()
        _sync_children(session, Topic, plan.id, "code", changes, {
            code: {"clause": t.clause, "text": t.text} for code, t in plan.topics.items()})
        _sync_children(session, Target, plan.id, "key", changes, {
            key: {"clause": t.clause, "description": t.description, "channel": t.channel or f"activity:{t.activity}",
                  "minimum": t.minimum, "period": t.period, "languages": t.languages, "topics": t.topics,
                  "exclude_topics": t.exclude_topics}
            for key, t in plan.targets.items()})
    for name, ch in config.channels.items():
        _upsert(session, Channel, name, changes, unit_id=ch.unit, kind=ch.kind, title=ch.title,
                languages=ch.languages, mode=ch.mode, grace_minutes=ch.grace_minutes,
                enabled=ch.enabled, settings=ch.settings)
    for row in session.exec(select(Channel).where(Channel.enabled)):
        if row.id not in config.channels:
            row.enabled = False
            changes.append(f"channel {row.id}: disabled (no longer in config)")
    # Accounts made before accounts had units worked on the one unit the install served: the default.
    for user in session.exec(select(User).where(col(User.unit_id).is_(None))):
        user.unit_id = config.default_unit
        changes.append(f"user {user.name}: unit {config.default_unit}")
    session.flush()
    return changes


def _parents_first(config: Config) -> list[tuple[str, Any]]:
    return sorted(config.units.items(), key=lambda item: item[1].parent is not None)


def _upsert(session: Session, model: type[SQLModel], key: str, changes: list[str], **values: Any) -> None:
    row = session.get(model, key)
    if row is None:
        session.add(model(id=key, **values))
        changes.append(f"{model.__name__.lower()} {key}: added")
        return
    _update(row, values, f"{model.__name__.lower()} {key}", changes)


def _sync_children(session: Session, model: type[SQLModel], plan_id: str, key_field: str,
                   changes: list[str], wanted: dict[str, dict[str, Any]]) -> None:
    existing = {getattr(r, key_field): r for r in session.exec(select(model).where(model.plan_id == plan_id))}
    for key, values in wanted.items():
        row = existing.pop(key, None)
        if row is None:
            session.add(model(plan_id=plan_id, **{key_field: key}, **values))
            changes.append(f"{model.__name__.lower()} {plan_id}/{key}: added")
            continue
        _update(row, values, f"{model.__name__.lower()} {plan_id}/{key}", changes)
    for key, row in existing.items():
        session.delete(row)
        changes.append(f"{model.__name__.lower()} {plan_id}/{key}: removed")


def _update(row: SQLModel, values: dict[str, Any], label: str, changes: list[str]) -> None:
    """Set the fields of ``row`` that differ from ``values`` and note which ones changed."""
    diff = [name for name, value in values.items() if getattr(row, name) != value]
    for name in diff:
        setattr(row, name, values[name])
    if diff:
        changes.append(f"{label}: updated {', '.join(diff)}")
