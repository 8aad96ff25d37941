"""Leases on the database's clock for work only one service node may do at a time.

Several nodes may run ``cchc run`` on one PostgreSQL: dispatch is shared safely by its claims, but the
loudspeaker slots (preparing programmes, starting them, the silence that keeps loudspeakers
connected to Icecast) belong to one node at a time: the holder of the ``loudspeaker-slots`` lease. The
holder renews it every ``RENEW``; it lasts ``TTL`` on the database's clock, so when the holder dies
another node takes it within ``TTL + RENEW`` (under a minute). The lease is about who does the work;
that a slot never plays twice is still the slot's own claim (``Broadcaster._claim`` locks its as-run
row), which holds even if a paused node wakes up believing it still owns the slots.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from scheduler.record.db import database_now, read_session, write_session
from scheduler.record.models import Lease

log = logging.getLogger(__name__)

SLOTS = "loudspeaker-slots"
TTL = timedelta(seconds=30)
RENEW = timedelta(seconds=5)


def take(engine: Engine, name: str, holder: str, ttl: timedelta = TTL) -> bool:
    """Take or renew lease ``name`` for ``holder``; True when ``holder`` holds it afterwards."""
    try:
        with write_session(engine) as session:
            now = database_now(session)
            row = session.get(Lease, name, with_for_update=True)
            if row is None:
                session.add(Lease(name=name, holder=holder, until=now + ttl, since=now))
                return True
            if row.holder != holder and row.until > now:
                return False
            if row.holder != holder:
                row.holder, row.since = holder, now
            row.until = now + ttl
            return True
    except IntegrityError:  # another node inserted the first row at the same moment: it has it
        return False


def release(engine: Engine, name: str, holder: str) -> None:
    """Give the lease up at once (a clean stop): another node takes it at its next renewal."""
    with write_session(engine) as session:
        row = session.get(Lease, name, with_for_update=True)
        if row is not None and row.holder == holder:
            row.until = database_now(session)


def holder_of(engine: Engine, name: str) -> str | None:
    with read_session(engine) as session:
        row = session.get(Lease, name)
        return row.holder if row is not None and row.until > database_now(session) else None


class Owner:
    """This node's hold on one lease: ``renew()`` from a job every ``RENEW``; ``held`` is True only while
    the last successful renewal is recent enough that the lease cannot have passed to another node."""

    def __init__(self, engine: Engine, name: str, holder: str, ttl: timedelta = TTL):
        self.engine, self.name, self.holder, self.ttl = engine, name, holder, ttl
        self._renewed_at: float | None = None  # monotonic time of the last successful renewal
        self._seen_other = False  # another node held it once: gaining it now is a takeover

    @property
    def held(self) -> bool:
        margin = self.ttl.total_seconds() - RENEW.total_seconds()
        return self._renewed_at is not None and time.monotonic() - self._renewed_at < margin

    def renew(self) -> bool:
        """Renew (or take) the lease; log when this node gains or loses it. Returns ``held``."""
        before = self.held
        started = time.monotonic()
        try:
            if take(self.engine, self.name, self.holder, self.ttl):
                self._renewed_at = started
            else:  # another node holds it: at once, not when our last renewal runs out
                self._renewed_at = None
                self._seen_other = True
        except Exception:  # the database is away: keep what we had until it runs out, then stop
            log.exception("lease %s: could not renew", self.name)
        if self.held and not before:  # at start, news; taken over from another node, a warning
            log.log(logging.WARNING if self._seen_other else logging.INFO, "lease %s: this node (%s) now owns it",
                    self.name, self.holder)
        elif before and not self.held:
            log.warning("lease %s: this node (%s) no longer owns it", self.name, self.holder)
        return self.held

    def release(self) -> None:
        if self._renewed_at is not None:
            release(self.engine, self.name, self.holder)
            self._renewed_at = None
