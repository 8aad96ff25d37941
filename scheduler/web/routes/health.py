"""``GET /healthz`` for monitoring (Zabbix, Nagios, a load balancer): no login, no secrets."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from sqlmodel import col, func, select

from scheduler.clock import LOCAL_TZ, show_vn
from scheduler.errors import DatabaseNotReadyError
from scheduler.outbox.holds import holds
from scheduler.record.db import read_session
from scheduler.record.models import HEARTBEAT, STOPPED, AsRun, AsRunStatus, ServiceState
from scheduler.web.deps import CoreDep

router = APIRouter()
LATE = timedelta(minutes=3)  # a heartbeat older than this: the service is not running


@router.get("/healthz", tags=["api"])
def healthz(core: CoreDep) -> JSONResponse:
    """The database answers and the service's heartbeat is under 3 minutes old (HTTP 200), or not (503);
    with the channels on hold and the loudspeaker slots missed today (Vietnam time)."""
    now = core.now()
    try:
        with read_session(core.ready_engine()) as session:
            beat = session.get(ServiceState, HEARTBEAT)
            held = sorted(hold.channel for hold in holds(session, now))
            day = now.astimezone(LOCAL_TZ).replace(hour=0, minute=0, second=0, microsecond=0)
            missed = session.exec(select(func.count()).select_from(AsRun).where(
                AsRun.status == AsRunStatus.MISSED, col(AsRun.slot_at) >= day,
                col(AsRun.slot_at) < day + timedelta(days=1))).one()
    except (OperationalError, DatabaseNotReadyError):
        return JSONResponse({"ok": False, "database": False,
                             "problem": "không đọc được cơ sở dữ liệu (xem nhật ký của dịch vụ)"}, status_code=503)
    age = round((now - beat.updated_at).total_seconds()) if beat else None
    stopped = beat is not None and beat.value == STOPPED
    ok = age is not None and age <= LATE.total_seconds() and not stopped
    body = {"ok": ok, "database": True, "heartbeat_age_seconds": age, "held_channels": held,
            "missed_slots_today": missed}
    if not ok:
        body["problem"] = ("dịch vụ chưa chạy lần nào (chưa có nhịp tim)" if beat is None
                           else f"dịch vụ đã dừng lúc {show_vn(beat.updated_at)}" if stopped
                           else f"dịch vụ không chạy: nhịp tim cuối cách đây {age} giây")
    return JSONResponse(body, status_code=200 if ok else 503)
