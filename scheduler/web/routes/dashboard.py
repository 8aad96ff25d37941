"""The dashboard: today's schedule and slots, quotas, what needs a person."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from sqlmodel import col, func, select

from scheduler import notify, queries
from scheduler.app import App
from scheduler.clock import LOCAL_TZ, show, show_vn
from scheduler.errors import CchcError
from scheduler.outbox.holds import holds
from scheduler.plans.periods import span_at
from scheduler.plans.plan_import import latest_plan
from scheduler.record.db import read_session
from scheduler.record.models import HEARTBEAT, STOPPED, Announcement, AnnouncementStatus, Delivery, ServiceState
from scheduler.record.models import DeliveryState as S
from scheduler.web import forms
from scheduler.web.actions import token_warnings
from scheduler.web.deps import (
    ATTENTION,
    STAFF,
    CoreDep,
    StaffDep,
    page,
)

router = APIRouter(dependencies=STAFF)


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def dashboard(request: Request, core: CoreDep, who: StaffDep, note: str = "") -> HTMLResponse:
    return page(request, "dashboard.html", who, note=note, **overview(core, who.unit))


def overview(core: App, unit: str) -> dict[str, Any]:
    """What the dashboard shows of ``unit``: its schedule, slots, quotas and what needs a person."""
    from scheduler.plans.compliance import evaluate

    now = core.now()
    day = now.astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
    own = core.config.channels_of(unit)
    loudspeakers = [n for n, ch in own.items() if ch.slotted]
    with read_session(core.ready_engine()) as session:
        today = queries.schedule(session, since=day, until=day + timedelta(days=1), unit=unit)
        slots = queries.as_run(session, since=day, until=day + timedelta(days=1), channels=loudspeakers)
        try:
            quotas = [evaluate(session, core.config, unit=unit, span=span_at(kind, now), now=now)
                      for kind in ("month", "quarter")]
            plan_problem = None
        except CchcError as exc:  # e.g. no plan for this year yet: the rest of the page still matters
            quotas, plan_problem = [], forms.message(exc)
        attention = session.exec(select(Delivery).where(col(Delivery.state).in_(ATTENTION),
                                                        col(Delivery.channel_id).in_(list(own)))
                                 .order_by(col(Delivery.state) != S.NEEDS_PERSON, col(Delivery.due_at).desc())
                                 .limit(50)).all()
        held = [h for h in holds(session, now) if h.channel in own]
        beat = session.get(ServiceState, HEARTBEAT)
        unrecorded = queries.missing_recordings(session, core.config, unit)
        tokens = queries.expiring_tokens(session, now, {n: d for n, d in token_warnings(core).items() if n in own})
        waiting = session.exec(select(func.count()).select_from(Announcement).where(
            Announcement.status == AnnouncementStatus.SUBMITTED, Announcement.unit_id == unit)).one()
        notices = notify.waiting(session, unit, now)
    year = now.astimezone(LOCAL_TZ).year
    last = latest_plan(core.config, unit, year) if plan_problem else None
    return {
        "unit": core.config.units[unit].name, "today": today, "slots": slots,
        "loudspeaker_today": [r for r in today if r["channel"] in loudspeakers],
        "quotas": quotas, "plan_problem": plan_problem, "plan_year": year, "last_plan": last,
        "attention": [queries.delivery_row(d) for d in attention],
        "held": [{"channel": h.channel, "why": h.reason, "since": show_vn(h.since),
                  "until": show_vn(h.until) if h.until else None} for h in held],
        "unrecorded": unrecorded, "tokens": tokens,
        "heartbeat": show(beat.updated_at) if beat else None,
        "heartbeat_late": beat is None or now - beat.updated_at > timedelta(minutes=5) or beat.value == STOPPED,
        "stopped": beat is not None and beat.value == STOPPED,
        "waiting": waiting, "notices": notices,
    }
