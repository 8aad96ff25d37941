"""Channel holds: a channel that sends nothing for a while, and why. A refused token holds it until a person
renews the credentials (``cchc channel check``); a platform's limit or an outage holds it until a time; a
count of failures in a row feeds the circuit breaker. The dispatcher puts holds on; the dashboard, the
channels page, /healthz and the notices read them; a passing check releases them. Kept in ``ServiceState``
and the audit trail."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_
from sqlmodel import Session, col, select

from scheduler.clock import show_vn, utc_now
from scheduler.record import audit
from scheduler.record.models import Channel as ChannelRow
from scheduler.record.models import ServiceState

log = logging.getLogger("cchc.dispatch")
REAUTH_KEY = "reauth:"  # held until a person renews the channel's credentials
WAIT_KEY = "wait:"  # held until a time (updated_at): a platform's limit, or an outage being sat out
FAILURES_KEY = "failures:"  # transient failures in a row, for the circuit breaker


@dataclass(frozen=True)
class Hold:
    """Why a channel sends nothing now: ``until`` a time, or (None) until a person acts."""

    channel: str
    reason: str
    since: datetime
    until: datetime | None


def _unit_of(session: Session, channel: str) -> str | None:
    row = session.get(ChannelRow, channel)
    return row.unit_id if row is not None else None


def hold_channel(session: Session, channel: str, reason: str, now: datetime) -> None:
    """Stop sending on ``channel`` until a person renews its credentials (``cchc channel check``).

    Its other deliveries wait instead of each failing on the same bad token; once the check passes
    they go out, if still within their grace time.
    """
    row = session.get(ServiceState, REAUTH_KEY + channel)
    if row is None:
        session.add(ServiceState(key=REAUTH_KEY + channel, value=reason[:2000], updated_at=now))
        audit.record(session, unit=_unit_of(session, channel), actor="cchc-dispatch", action="channel-hold",
                     subject=f"channel:{channel}", at=now, reason=reason[:500])
        log.error("channel %s needs new credentials; its deliveries wait: %s", channel, reason)


def set_wait(session: Session, channel: str, reason: str, until: datetime, now: datetime) -> None:
    """Send nothing on ``channel`` before ``until`` (a limit reached, an outage): recorded and audited."""
    row = session.get(ServiceState, WAIT_KEY + channel)
    if row is not None and row.updated_at >= until:
        return
    if row is None:
        row = ServiceState(key=WAIT_KEY + channel, value="", updated_at=until)
        session.add(row)
    row.value, row.updated_at = reason, until
    audit.record(session, unit=_unit_of(session, channel), actor="cchc-dispatch", action="channel-hold",
                 subject=f"channel:{channel}", at=now, reason=reason[:500], until=show_vn(until))
    log.warning("channel %s waits until %s: %s", channel, show_vn(until), reason)


def count_failure(session: Session, channel: str, now: datetime) -> int:
    row = session.get(ServiceState, FAILURES_KEY + channel)
    if row is None:
        row = ServiceState(key=FAILURES_KEY + channel, value="0", updated_at=now)
        session.add(row)
    row.value, row.updated_at = str(int(row.value) + 1), now
    return int(row.value)


def clear_failures(session: Session, channel: str) -> None:
    row = session.get(ServiceState, FAILURES_KEY + channel)
    if row is not None:
        session.delete(row)


def held_channels(session: Session, now: datetime) -> list[str]:
    return [hold.channel for hold in holds(session, now)]


def holds(session: Session, now: datetime) -> list[Hold]:
    """The channels that send nothing now, with why, since when and until when."""
    rows = session.exec(select(ServiceState).where(or_(col(ServiceState.key).startswith(REAUTH_KEY),
                                                       col(ServiceState.key).startswith(WAIT_KEY)))).all()
    found = []
    for row in rows:
        if row.key.startswith(REAUTH_KEY):
            found.append(Hold(row.key.removeprefix(REAUTH_KEY), row.value, row.updated_at, None))
        elif row.updated_at > now:
            found.append(Hold(row.key.removeprefix(WAIT_KEY), row.value, now, row.updated_at))
    return sorted(found, key=lambda hold: hold.channel)


def release_channel(session: Session, channel: str, *, actor: str = "cli",
                    now: datetime | None = None) -> bool:
    """End every hold of ``channel`` (its credentials were checked and work)."""
    released = False
    for key in (REAUTH_KEY + channel, WAIT_KEY + channel, FAILURES_KEY + channel):
        row = session.get(ServiceState, key)
        if row is not None:
            session.delete(row)
            released = released or not key.startswith(FAILURES_KEY)
    if released:
        audit.record(session, unit=_unit_of(session, channel), actor=actor, action="channel-release",
                     subject=f"channel:{channel}", at=now or utc_now())
    return released
