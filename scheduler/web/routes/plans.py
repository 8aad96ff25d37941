"""The unit's yearly plan: a new year's plan copied from the last one, from the dashboard (admins)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from scheduler.errors import InputError
from scheduler.plans.plan_import import latest_plan, new_year
from scheduler.record import audit
from scheduler.record.db import write_session
from scheduler.web.deps import STAFF, AdminDep, CoreDep, FormDep, back

router = APIRouter(dependencies=STAFF)


@router.post("/plans/new-year", include_in_schema=False)
async def plan_new_year(core: CoreDep, who: AdminDep, values: FormDep) -> Response:
    """``cchc plan new`` for one unit the admin reads: the year's plan copied from the unit's latest earlier
    one, in effect at once (``App.refresh_config``), with its audit event."""
    unit = who.scope.pick(core.config, str(values.get("unit") or ""), "Đơn vị")
    text = str(values.get("year") or "").strip()
    if not text.isdigit():
        raise InputError("Năm", f"'{text}' không phải một năm; ví dụ: 2026")
    year, name = int(text), core.config.units[unit].name
    source = latest_plan(core.config, unit, year)
    if source is None:
        raise InputError("Năm", f"{name} chưa có kế hoạch năm nào trước năm {year} để sao; hãy nhờ quản trị máy "
                                "chủ nhập văn bản kế hoạch")
    made = new_year(core.settings.config_dir, core.config, source.id, year, [unit])
    core.refresh_config()
    with write_session(core.ready_engine()) as session:
        audit.record(session, unit=unit, actor=who.user.name, action="plan_new", subject=f"plan:{made[0]}",
                     at=core.now(), source=source.id, year=year)
    return back("/", f"Đã tạo kế hoạch {made[0]} (năm {year}) từ kế hoạch năm {source.year}: {len(source.topics)} "
                     f"nội dung, {len(source.targets)} chỉ tiêu, áp dụng ngay. Hãy đối chiếu với văn bản kế hoạch "
                     f"năm {year} khi có.")
