"""The web app's overview pages: the calendar of deliveries, the reports to download, the channels and
their health, and the dashboard's list of what needs attention (expiring tokens, missing recordings)."""

from __future__ import annotations

import io
import re
import zipfile
from datetime import timedelta

import pytest
from openpyxl import load_workbook

from channels.tokens import Tokens
from scheduler.outbox.holds import hold_channel
from scheduler.record.credentials import KEY_ENV, new_key
from scheduler.record.db import write_session
from tests.conftest import START
from tests.helpers import approved, dispatch
from tests.web import client, csrf_of, logged_in


def test_the_calendar_shows_deliveries_by_day_in_week_and_month(repeating_website, staff, clock):
    approved(staff, channels=["muong-la-website"], at=START + timedelta(hours=2), repeat="daily",
             until=(START + timedelta(days=40)).date(), title="Tin <i>hằng ngày</i>")
    dispatch(staff, clock, START + timedelta(hours=3))  # the first one goes out
    lan, _ = logged_in(staff, "lan")
    week = lan.get("/calendar").text  # the week of Monday 1 September 2025
    legend = re.search(r'<p class="legend[^"]*">(.*?)</p>', week).group(1)
    assert re.findall(r'<span class="(\w+)">', legend) == ["delivered", "scheduled", "failed", "pending"]  # coloured
    assert "Tuần 01/09 – 07/09/2025" in week
    assert week.count("ML-2025-0001.") == 7 and '<li class="delivered"' in week and '<li class="pending"' in week
    assert "09:00 ML-2025-0001.1 · muong-la-website · vi" in week  # Vietnam time
    month = lan.get("/calendar?view=month&day=2025-10-15").text
    assert "Tháng 10/2025" in month and "ML-2025-0001.31" in month and "ML-2025-0001.41" in month
    assert "ML-2025-0001.42" not in month and "ML-2025-0001.30" in month  # 30 September shows in the first row
    assert "day=2025-09-30" in month and "day=2025-11-01" in month  # previous and next month
    assert "<i>" not in month
    assert lan.get("/calendar?day=mai").status_code == 400


def test_a_busy_day_in_the_month_view_links_to_its_week(staff):
    approved(staff, channels=["muong-la-website", "muong-la-webhook", "muong-la-facebook", "muong-la-zalo",
                              "muong-la-tiktok", "muong-la-wordpress", "muong-la-loa"], at=START + timedelta(hours=2))
    lan, _ = logged_in(staff, "lan")
    month = lan.get("/calendar?view=month").text
    assert "7 lượt" in month and "và 1 lượt nữa" in month


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_reports_download_as_word_and_excel(staff, clock):
    approved(staff, channels=["muong-la-website"], at=START + timedelta(hours=2))
    dispatch(staff, clock, START + timedelta(hours=3))
    lan, _ = logged_in(staff, "lan")
    page = lan.get("/reports").text
    assert '<option value="2025-Q3">Quý III năm 2025</option>' in page and 'value="2025-H2"' in page
    word = lan.get("/reports/download?period=2025-Q3&fmt=docx")
    assert word.status_code == 200 and 'filename="bao-cao-cchc-muong-la-2025-Q3.docx"' in word.headers[
        "content-disposition"]
    document = zipfile.ZipFile(io.BytesIO(word.content)).read("word/document.xml").decode()
    assert "quý III năm 2025" in document and "Mường La" in document
    excel = lan.get("/reports/download?period=2025-09&fmt=xlsx")
    sheets = load_workbook(io.BytesIO(excel.content))
    cells = [str(c.value) for sheet in sheets for row in sheet.iter_rows() for c in row if c.value is not None]
    assert any("tháng 9/2025" in c for c in cells)
    wrong = lan.get("/reports/download?period=quy-3&fmt=docx")
    assert wrong.status_code == 400 and "Kỳ báo cáo" in wrong.text and "2025-Q3" in wrong.text
    assert lan.get("/reports/download?period=2025-Q3&fmt=pdf").status_code == 400


def test_reports_in_a_year_without_a_plan_offer_the_years_that_have_one(staff, clock):
    """The fault: at the real date (2026) the page offered 2026's periods first, each answering 400 "chưa có
    kế hoạch năm 2026", offered 2025 only as a year, and named a command for other periods."""
    from datetime import UTC, datetime

    clock.moment = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    lan, _ = logged_in(staff, "lan")
    page = lan.get("/reports").text
    offered = re.findall(r'<option value="(\d{4}[^"]*)"', page)
    assert offered[0] == "2025" and {"2025-Q3", "2025-H2", "2025-12"} <= set(offered)
    assert not [label for label in offered if label.startswith("2026")] and "cchc" not in page
    assert lan.get(f"/reports/download?period={offered[0]}&fmt=docx").status_code == 200


def test_the_channels_page_shows_health_held_channels_and_expiring_tokens(staff, clock, monkeypatch):
    monkeypatch.setenv(KEY_ENV, new_key())
    staff.channels["muong-la-zalo"].tokens.save(Tokens("", "lam-moi-123", None, START + timedelta(days=5)))
    approved(staff, channels=["muong-la-website"], at=START + timedelta(hours=2))
    dispatch(staff, clock, START + timedelta(hours=3))
    with write_session(staff.engine) as session:
        hold_channel(session, "muong-la-facebook", "mã trang hết hạn", staff.now())
    mai, _ = logged_in(staff, "mai")
    page = mai.get("/channels").text
    held = re.search(r"<small>muong-la-facebook</small>.*?</tr>", page, re.S).group(0)
    assert "tạm dừng: mã trang hết hạn" in held
    row = re.search(r"<small>muong-la-website</small>.*?</tr>", page, re.S).group(0)
    assert "hoạt động" in row and "Đã đăng/phát: 1" in row and "01/09/2025 10:00" in row
    zalo = re.search(r"<small>muong-la-zalo</small>.*?</tr>", page, re.S).group(0)
    assert "mã truy cập hết hạn 06/09/2025 07:00" in zalo
    assert "lam-moi-123" not in page
    dashboard = mai.get("/").text
    assert ("Kênh <b>muong-la-facebook</b> đang tạm dừng từ 01/09/2025 10:00, chờ người cấp lại thông tin xác thực: "
            "mã trang hết hạn") in dashboard
    assert "Mã truy cập của kênh <b>muong-la-zalo</b> hết hạn lúc 06/09/2025 07:00 (còn 4 ngày)" in dashboard


def test_the_dashboard_lists_loudspeaker_items_still_missing_a_recording(staff):
    approved(staff, channels=["muong-la-loa"], languages=["vi", "hmn"], at=START + timedelta(hours=4),
             translations={"hmn": "Tsoom fwv teb chaws tshaj tawm"})
    lan, _ = logged_in(staff, "lan")
    page = lan.get("/").text
    assert "ML-2025-0001" in page and "chưa có ghi âm" in page and "/announcements/1/edit" in page
    assert page.count("chưa có ghi âm") == 1  # the Vietnamese one is voiced by TTS


def test_a_preview_is_never_counted_or_shown_as_published(staff, clock):
    """The Facebook channel is in preview mode: its post is written to the outbox, not sent."""
    from scheduler import queries
    from scheduler.plans import report as reports
    from scheduler.plans.compliance import evaluate
    from scheduler.plans.periods import parse_period
    from scheduler.record.db import read_session
    from tests.helpers import all_deliveries

    approved(staff, channels=["muong-la-website", "muong-la-facebook"], at=START + timedelta(hours=2))
    dispatch(staff, clock, START + timedelta(hours=3))
    states = {d.channel_id: d.state for d in all_deliveries(staff)}
    assert states == {"muong-la-website": "delivered", "muong-la-facebook": "previewed"}
    clock.moment = START + timedelta(days=31)
    with read_session(staff.engine) as session:
        month = evaluate(session, staff.config, unit="muong-la", span=parse_period("2025-09"), now=clock.now())
        social = next(r for r in month.rows if r.key == "social")
        assert (social.delivered, social.scheduled) == (0, 0)
        data = reports.gather(session, staff.config, unit="muong-la", span=parse_period("2025-09"), now=clock.now())
        health = queries.channel_health(session, since=START)
    assert [c["channel"] for c in data.channels] == ["Trang thông tin điện tử xã Mường La"]
    assert [i["channels"] for i in data.items] == ["Trang thông tin điện tử xã Mường La"]
    assert "last_ok" in health["muong-la-website"] and "last_ok" not in health["muong-la-facebook"]

    lan, _ = logged_in(staff, "lan")
    log = lan.get("/deliveries?channel=muong-la-facebook").text
    assert log.count("Xem trước (không đăng)") >= 2 and "Đã đăng/phát" not in log.split("<tbody>")[1]
    channels = lan.get("/channels").text
    facebook = channels[channels.index("Trang Facebook UBND xã Mường La"):].split("</tr>")[0]
    assert "xem trước (không đăng)" in facebook and "Gửi được" not in facebook
    compose = lan.get("/announcements/new").text
    assert "muong-la-facebook, xem trước (không đăng)" in compose
    assert "muong-la-website, xem trước" not in compose
    assert "Lặp lại chỉ phát lại trên: Hệ thống truyền thanh xã Mường La." in compose  # websites post once


def test_a_new_year_without_a_plan_is_one_button_for_the_admin_and_counts_at_once(staff, clock):
    """The fault: at the real date (2026) the dashboard's Chỉ tiêu card was a red box holding a command to
    run (cchc plan new …), and the plan it made counted only after the service restarted."""
    from datetime import UTC, datetime

    from scheduler.config import load_config

    clock.moment = datetime(2026, 12, 7, 2, 0, tzinfo=UTC)
    lan, _ = logged_in(staff, "lan")
    told = lan.get("/").text
    assert "chưa có kế hoạch năm 2026" in told and "cchc" not in told and "/plans/new-year" not in told
    mai, csrf = logged_in(staff, "mai")
    offered = mai.get("/").text
    assert "/plans/new-year" in offered and "Tạo kế hoạch năm 2026 từ kế hoạch năm 2025" in offered
    made = mai.post("/plans/new-year", data={"csrf": csrf, "unit": "muong-la", "year": "2026"})
    assert made.status_code == 303, made.text
    shown = mai.get(made.headers["location"]).text
    assert "Đã tạo kế hoạch muong-la-2026" in shown and "Chỉ tiêu tháng 12/2026" in shown
    assert "chưa có kế hoạch năm 2026" not in shown
    assert "muong-la-2026" in load_config(staff.settings.config_dir).plans
    again = mai.post("/plans/new-year", data={"csrf": csrf, "unit": "muong-la", "year": "2026"})
    assert again.status_code == 400 and "đã có kế hoạch năm 2026" in again.text
    refused = lan.post("/plans/new-year", data={"csrf": csrf_of(told), "unit": "muong-la", "year": "2026"})
    assert refused.status_code == 403
    audit = mai.get("/audit").text
    assert "plan_new" in audit or "Tạo kế hoạch" in audit


def test_no_page_asks_staff_to_run_a_command_or_edit_a_file(staff, clock):
    """Staff work from pages: a page names no ``cchc`` command and no configuration file."""
    from html import unescape

    approved(staff, channels=["muong-la-website", "muong-la-loa"], at=START + timedelta(hours=2))
    dispatch(staff, clock, START + timedelta(hours=3))
    mai, _ = logged_in(staff, "mai")
    found: dict[str, list[str]] = {}
    for path in ("/", "/announcements", "/approvals", "/announcements/new", "/announcements/1", "/calendar",
                 "/reports", "/channels", "/deliveries", "/activities", "/users", "/units", "/audit"):
        text = unescape(re.sub(r"<[^>]+>", " ", mai.get(path).text))
        found[path] = re.findall(r"cchc [a-z-]+|\S*config/\S*|\S+\.toml", text)
    anonymous = unescape(re.sub(r"<[^>]+>", " ", client(staff).get("/login").text))
    found["/login"] = re.findall(r"cchc [a-z-]+", anonymous)
    assert {path: hits for path, hits in found.items() if hits} == {}


def test_the_channels_and_audit_pages_say_what_things_are_not_their_codes(staff, clock):
    """The fault: the Channels page's kinds read "website", "loudspeaker", "zalo", and a channel in preview a
    green "hoạt động"; the audit page read "user:mai", "announcement:1", "content_hash:", "role: admin"."""
    from html import unescape

    approved(staff, channels=["muong-la-website"], at=START + timedelta(hours=2))
    mai, _ = logged_in(staff, "mai")

    def words(path: str) -> str:
        html = mai.get(path).text
        return unescape(re.sub(r"<[^>]+>", " ", html[html.find("<main"):html.find("</main>")]))

    channels = words("/channels")
    assert not re.search(r"\s(website|loudspeaker|webhook|facebook|wordpress|zalo|tiktok)\s", channels), channels
    assert "Hệ thống truyền thanh" in channels and "Zalo OA" in channels
    zalo = mai.get("/channels").text.split("muong-la-zalo")[1].split("</tr>")[0]
    assert 'class="ok">hoạt động' not in zalo  # it posts nothing: not shown as working
    audit = words("/audit")
    assert not re.search(r"user:|announcement:|content_hash|role:|address:|deliveries:", audit), audit
    assert "tài khoản mai" in audit and "vai trò: quản trị" in audit and "thông báo số 1" in audit
