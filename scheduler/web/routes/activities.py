"""The activities register on the web: the unit's activities, recording one with its evidence (a photo
or PDF), and the evidence to look at."""

from __future__ import annotations

import mimetypes
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from scheduler.clock import parse_local_date
from scheduler.codes import ACTIVITY_KIND
from scheduler.errors import CchcError, InputError
from scheduler.plans import activities
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Activity
from scheduler.web import forms
from scheduler.web.deps import STAFF, CoreDep, FormDep, RowId, StaffDep, back, page

router = APIRouter(dependencies=STAFF)


@router.get("/activities", response_class=HTMLResponse, include_in_schema=False)
def activity_list(request: Request, core: CoreDep, who: StaffDep, note: str = "") -> HTMLResponse:
    return _page(core, request, who, note=note)


def _page(core, request: Request, who, *, code: int = 200, error: str | None = None, values: dict | None = None,
          note: str = "") -> HTMLResponse:  # noqa: ANN001
    with read_session(core.ready_engine()) as session:
        rows = activities.listed(session, unit=who.unit)
    return page(request, "activities.html", who, code=code, rows=rows, kinds=ACTIVITY_KIND, error=error,
                values=values or {}, note=note, accept=",".join(forms.EVIDENCE.types))


@router.post("/activities", include_in_schema=False)
async def activity_add(request: Request, core: CoreDep, who: StaffDep, values: FormDep) -> Response:
    """Record an activity of the account's own unit: everything checked, nothing stored if anything is wrong."""
    saved = None
    try:
        saved = await forms.save_upload(values.get("evidence"), "--evidence", core.settings.data_dir / "uploads",
                                        forms.EVIDENCE)
        if saved is None:
            raise InputError("--evidence", "hãy chọn ảnh chụp hoặc tệp PDF làm minh chứng")
        shown = Path(getattr(values.get("evidence"), "filename", "") or saved.name).name
        participants = str(values.get("participants") or "").strip()
        if participants and not participants.isdigit():
            raise InputError("--participants", "số người tham dự là một số, ví dụ 45")

        def store() -> Activity:
            with write_session(core.ready_engine()) as session:
                return activities.record(
                    session, core.config, core.settings.data_dir, unit=who.scope.home, kind=str(values.get("kind")),
                    held_on=parse_local_date(str(values.get("held_on") or ""), "--date"),
                    title=str(values.get("title") or ""), place=str(values.get("place") or ""),
                    participants=int(participants) if participants else None, note=str(values.get("note") or ""),
                    evidence=saved, actor=who.user.name, now=core.now(), shown_as=shown)

        row = await run_in_threadpool(store)
    except CchcError as exc:
        shown_values = {k: v for k, v in values.items() if isinstance(v, str)}
        return _page(core, request, who, code=400, error=forms.message(exc), values=shown_values)
    finally:
        if saved is not None:
            saved.unlink(missing_ok=True)
    return back("/activities", f"Đã ghi hoạt động ngày {row.held_on:%d/%m/%Y}: {row.title}.")


@router.get("/activities/{activity_id}/evidence", include_in_schema=False)
def evidence(core: CoreDep, who: StaffDep, activity_id: RowId) -> Response:
    """An activity's evidence file, to look at (of a unit the account reads)."""
    with read_session(core.ready_engine()) as session:
        row = session.get(Activity, activity_id)
    if row is None:
        raise HTTPException(404, "Không có hoạt động này.")
    who.scope.check_read(core.config, row.unit_id, f"hoạt động số {row.id}")
    path = activities.path_of(core.settings.data_dir, row)
    return FileResponse(path, media_type=mimetypes.guess_type(path.name)[0] or "application/octet-stream",
                        headers={"Cache-Control": "no-store"})
