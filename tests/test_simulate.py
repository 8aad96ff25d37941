"""Simulation on a virtual clock: the real dispatcher and gap filler in a scratch database, the
compliance that would result, and the real database left exactly as it was."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from scheduler.errors import InputError
from scheduler.plans.compliance import Status
from scheduler.simulate import simulate
from tests.cli import invoke as run  # in process: these test the command, not the entry point
from tests.cli import snapshot
from tests.conftest import START
from tests.helpers import approved
from tests.test_compliance import evergreen


def test_a_month_is_simulated_without_touching_the_real_database(app, clock):
    for day in (2, 9, 16):  # three articles, one a week, on the website and to the webhook (preview)
        approved(app, title=f"Tin tuần {day}", channels=["muong-la-website", "muong-la-webhook"], topics=["d"],
                 at=START + timedelta(days=day - 1, hours=2))
    approved(app, title="Lịch phát thanh hàng tuần", channels=["muong-la-loa"], languages=["vi", "blt"],
             translations={"blt": "Bản tiếng Thái"}, repeat="weekly", until=date(2025, 9, 30),
             at=START + timedelta(hours=1))
    mong = evergreen(app, "Hướng dẫn dịch vụ công", languages=("vi", "hmn"),
                     translations={"hmn": "Qhia txog kev pab cuam pej xeem."})
    before = snapshot(app.settings.url)
    result = simulate(app.engine, app.config, unit="muong-la", first=date(2025, 9, 1), last=date(2025, 9, 30))
    assert snapshot(app.settings.url) == before
    rows = {(r.key, r.span.label, r.lang): r for r in result.compliance.rows}
    assert rows[("portal-articles", "2025-09", "vi")].delivered == 3
    assert rows[("portal-articles", "2025-09", "vi")].status == Status.MET
    assert rows[("bulletin", "2025-09", "vi")].status == Status.MISSED  # nothing about the bulletin
    for week in ("2025-W36", "2025-W37", "2025-W38", "2025-W39"):
        assert rows[("loudspeaker", week, "blt")].status == Status.MET  # the weekly item, in Thai too
        hmn = rows[("loudspeaker", week, "hmn")]  # no Mông in the schedule: the filler adds the evergreen item
        assert (hmn.status, hmn.filled) == (Status.MET, 1), week
    assert result.slots == 60 and result.filled == 4 and result.sent == 6  # 3 articles x 2 channels
    warned = {(row.key, row.span.label, row.lang) for _, row in result.warnings}
    assert ("bulletin", "2025-09", "vi") in warned
    # Friday's 06:00 slot is past warn_at: the filler added Mông there, before the day's quota check
    assert not any(key == "loudspeaker" for key, _, _ in warned)
    # the week of 29 September runs past the range: its Mông broadcast is still to come
    assert rows[("loudspeaker", "2025-W40", "hmn")].status == Status.AT_RISK
    assert mong.title == "Hướng dẫn dịch vụ công"


def test_simulation_refuses_a_backwards_or_overlong_range(app):
    with pytest.raises(InputError, match="--to"):
        simulate(app.engine, app.config, unit="muong-la", first=date(2025, 9, 30), last=date(2025, 9, 1))
    with pytest.raises(InputError, match="một năm"):
        simulate(app.engine, app.config, unit="muong-la", first=date(2025, 12, 1), last=date(2026, 1, 31))
    with pytest.raises(InputError, match="chưa có kế hoạch năm 2026"):
        simulate(app.engine, app.config, unit="muong-la", first=date(2026, 1, 1), last=date(2026, 1, 31))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_command_prints_the_forecast_and_bad_dates_exit_2(settings):
    assert run(settings, "init").returncode == 0
    result = run(settings, "simulate", "--from", "2025-09-01", "--to", "2025-09-07")
    assert result.returncode == 0, result.stderr
    assert "Mô phỏng từ 01/09/2025 đến 07/09/2025" in result.stdout
    assert "Dữ liệu thật không bị thay đổi" in result.stdout
    assert "mọi kênh chỉ xem trước" in result.stdout  # what it counts would be published, and it says so
    assert "2025-W36" in result.stdout and result.stderr == ""
    bad = run(settings, "simulate", "--from", "2025-09-31", "--to", "2025-10-07")
    assert bad.returncode == 2 and "không tồn tại" in bad.stderr
