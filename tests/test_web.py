"""The staff web app through FastAPI's test client: login and sessions, composing, the approval
queue, the delivery log and its CSV, the JSON API, and the bad input a public form gets (missing
CSRF tokens, markup in every field, wrong dates, guessed passwords, expired sessions)."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from scheduler.record import users
from scheduler.record.db import read_session
from scheduler.record.models import AuditEvent, User, WebSession
from tests.cli import invoke as run  # in process: these test the command, not the entry point
from tests.conftest import START
from tests.helpers import approved, dispatch
from tests.web import PASSWORDS, add_staff, approve, client, compose, content_hash_of, csrf_of, logged_in


def test_every_page_but_the_login_needs_a_session(staff):
    anonymous = client(staff)
    for path in ("/", "/announcements", "/announcements/new", "/approvals", "/deliveries", "/deliveries.csv"):
        answer = anonymous.get(path)
        assert answer.status_code == 303 and answer.headers["location"] == f"/login?next={path}"
    assert anonymous.get("/api/announcements").status_code == 401
    assert anonymous.get("/login").status_code == 200 and "Đăng nhập" in anonymous.get("/login").text


def test_an_editor_composes_and_another_person_approves_then_it_shows_in_the_log(staff, clock):
    lan, lan_csrf = logged_in(staff, "lan")
    ann_id = compose(lan, lan_csrf, submit="1")
    page = lan.get(f"/announcements/{ann_id}")
    assert "Lịch tiếp công dân tháng 12" in page.text and "Chờ duyệt" in page.text
    assert "Phê duyệt" not in page.text  # an editor is not offered approval
    assert lan.post(f"/announcements/{ann_id}/approve", data={"csrf": lan_csrf}).status_code == 403

    hung, hung_csrf = logged_in(staff, "hung")
    queue = hung.get("/approvals")
    assert f"/announcements/{ann_id}" in queue.text
    detail = hung.get(f"/announcements/{ann_id}").text
    assert "Nội dung sẽ đăng trên từng kênh" in detail and "Chủ tịch UBND xã tiếp công dân." in detail
    answer = approve(hung, hung_csrf, ann_id)
    assert answer.status_code == 303 and "1+l%C6%B0%E1%BB%A3t" in answer.headers["location"]  # "1 lượt"

    dispatch(staff, clock, START + timedelta(hours=2))
    log = hung.get("/deliveries").text
    assert "ML-2025-0001.1" in log and "muong-la-website" in log and "Đã đăng/phát" in log
    with read_session(staff.engine) as session:
        actions = [(e.actor, e.action) for e in session.exec(select(AuditEvent).order_by(AuditEvent.id))]
    assert ("lan", "create") in actions and ("hung", "approve") in actions and ("hung", "login") in actions


def test_the_dashboard_shows_a_year_without_a_plan_instead_of_failing(staff, clock):
    clock.moment = START.replace(year=2026)  # the shipped plans are 2025's
    lan, _ = logged_in(staff, "lan")
    page = lan.get("/")
    assert page.status_code == 200 and "Cần chú ý" in page.text
    assert "chưa có kế hoạch năm 2026" in page.text
    assert "nhờ quản trị viên của đơn vị tạo kế hoạch năm 2026" in page.text
    assert "cchc" not in page.text  # no command for staff (an admin gets a button: tests/test_web_pages.py)
    assert "config/" not in page.text and ".toml" not in page.text  # no file paths for staff


def test_nobody_approves_their_own_text(staff):
    hung, csrf = logged_in(staff, "hung")
    ann_id = compose(hung, csrf, submit="1")
    answer = hung.post(f"/announcements/{ann_id}/approve",
                       data={"csrf": csrf, "content_hash": content_hash_of(hung.get(f"/announcements/{ann_id}").text)})
    assert answer.status_code == 409 and "không được tự" in answer.text


def test_a_form_without_its_csrf_token_changes_nothing(staff):
    lan, csrf = logged_in(staff, "lan")
    for token in (None, "forged"):
        data = {"title": "Giả mạo", "body": "x", "channels": "muong-la-website", "at": "2025-09-01T09:00"}
        if token:
            data["csrf"] = token
        answer = lan.post("/announcements", data=data)
        assert answer.status_code == 403 and "tải lại trang" in answer.text
    assert lan.get("/announcements").text.count("Giả mạo") == 0
    assert lan.post("/logout").status_code == 403  # logging out also needs the token


def test_markup_in_every_field_is_shown_as_text(staff):
    lan, csrf = logged_in(staff, "lan")
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    ann_id = compose(lan, csrf, title=f"Tiêu đề {attack}", body=f"Nội dung {attack}")
    for path in ("/announcements", f"/announcements/{ann_id}"):
        html = lan.get(path).text
        assert "<script>alert" not in html and "<img src=x" not in html
        assert "&lt;script&gt;" in html
    wrong = lan.post("/announcements", data={"csrf": csrf, "title": attack, "body": "x", "at": "ngày mai",
                                             "channels": "muong-la-website"})
    assert wrong.status_code == 400 and "<script>alert" not in wrong.text and "&lt;script&gt;" in wrong.text


def test_bad_input_keeps_what_was_typed_and_says_what_to_fix(staff):
    lan, csrf = logged_in(staff, "lan")
    answer = lan.post("/announcements", data={"csrf": csrf, "title": "Lịch trực Tết", "body": "Nội dung dài.",
                                              "channels": "muong-la-website", "at": "31/12/2025"})
    assert answer.status_code == 400 and "01/09/2025 06:00" in answer.text
    assert 'value="Lịch trực Tết"' in answer.text and "Nội dung dài." in answer.text
    assert "Traceback" not in answer.text
    assert "Địa chỉ không đúng" in lan.get("/announcements/abc").text
    assert "Từ ngày" in lan.get("/deliveries?since=hôm-qua").text and "01/09/2025" in lan.get(
        "/deliveries?since=hôm-qua").text


def test_sessions_expire_rotate_and_keep_only_a_hash(staff, clock):
    first, _ = logged_in(staff, "lan")
    second, _ = logged_in(staff, "lan")
    one, two = first.cookies["cchc_session"], second.cookies["cchc_session"]
    assert one != two
    fresh = client(staff)
    token = csrf_of(fresh.get("/login").text)
    header = fresh.post("/login", data={"csrf": token, "name": "lan", "password": PASSWORDS["lan"]}) \
        .headers["set-cookie"].lower()
    assert "cchc_session=" in header and "httponly" in header and "samesite=strict" in header
    with read_session(staff.engine) as session:
        stored = [row.id_hash for row in session.exec(select(WebSession))]
    assert one not in stored and len(stored[0]) == 64
    clock.advance(timedelta(hours=users.SESSION_HOURS, minutes=1))
    assert first.get("/").status_code == 303  # expired: back to the login page


def test_guessing_passwords_is_stopped_even_before_the_right_one(staff):
    browser = client(staff)
    for _ in range(users.MAX_FAILURES):
        token = csrf_of(browser.get("/login").text)
        answer = browser.post("/login", data={"csrf": token, "name": "lan", "password": "sai-mat-khau-123"})
        assert answer.status_code == 401 and "không đúng" in answer.text
    token = csrf_of(browser.get("/login").text)
    answer = browser.post("/login", data={"csrf": token, "name": "lan", "password": PASSWORDS["lan"]})
    assert answer.status_code == 401 and "thử lại sau 15 phút" in answer.text
    assert "cchc_session" not in browser.cookies


def test_the_delivery_log_pages_filters_and_exports_csv(repeating_website, staff, clock):
    approved(staff, channels=["muong-la-website"], at=START + timedelta(hours=1), repeat="daily",
             until=(START + timedelta(days=59)).date())
    for day in range(60):
        dispatch(staff, clock, START + timedelta(days=day, hours=1))
    hung, _ = logged_in(staff, "hung")
    first = hung.get("/deliveries").text
    assert "60 dòng · trang 1/2" in first and "page_no=2" in first
    assert "ML-2025-0001.60" in first  # newest first
    second = hung.get("/deliveries?page_no=2").text
    assert "ML-2025-0001.1<" in second and "Trang sau" not in second
    assert "0 dòng" in hung.get("/deliveries?state=failed").text
    assert "30 dòng" in hung.get("/deliveries?since=2025-10-01").text  # days in Vietnam time
    assert "10 dòng" in hung.get("/deliveries?since=2025-09-01&until=2025-09-10").text
    typed = hung.get("/deliveries?since=01/09/2025&until=10/09/2025").text  # as Vietnamese write dates
    assert "10 dòng" in typed and 'value="01/09/2025"' in typed and 'placeholder="dd/mm/yyyy"' in typed
    exported = hung.get("/deliveries.csv?channel=muong-la-website")
    assert exported.headers["content-type"].startswith("text/csv") and exported.text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert len(rows) == 60 and rows[0]["mã"] == "ML-2025-0001.1" and rows[0]["trạng thái"] == "Đã đăng/phát"
    assert rows[0]["việc"] == "gửi" and rows[0]["kết quả"] == "đã gửi"  # what staff read, in Excel too


def test_the_json_api_needs_the_csrf_header_and_is_described_by_openapi(staff):
    mai, _ = logged_in(staff, "mai")
    me = mai.get("/api/me").json()
    assert me["role"] == "admin"
    body = {"title": "Thông báo qua API", "body": "Nội dung.", "channels": ["muong-la-website"],
            "at": "2025-09-01 09:00", "submit": True}
    assert mai.post("/api/announcements", json=body).status_code == 403
    created = mai.post("/api/announcements", json=body, headers={"X-CSRF-Token": me["csrf"]})
    assert created.status_code == 201 and created.json()["status"] == "submitted"
    ann_id = created.json()["id"]
    shown = mai.get(f"/api/announcements/{ann_id}").json()["content_hash"]
    own = mai.post(f"/api/announcements/{ann_id}/approve", params={"content_hash": shown},
                   headers={"X-CSRF-Token": me["csrf"]})
    assert own.status_code == 409 and "không được tự" in own.json()["error"]
    bad = mai.post("/api/announcements", json={**body, "at": "mai"}, headers={"X-CSRF-Token": me["csrf"]})
    assert bad.status_code == 400 and "01/09/2025 06:00" in bad.json()["error"]
    schema = client(staff).get("/api/openapi.json").json()
    assert {"/api/announcements", "/api/deliveries", "/api/announcements/{announcement_id}/{action}"} <= set(
        schema["paths"])


def test_pages_use_local_fonts_for_vietnamese_and_tai_viet(staff):
    browser = client(staff)
    css = browser.get("/static/style.css").text
    assert "/fonts/NotoSansTaiViet-Regular.ttf" in css and "http" not in css.replace("https://", "")
    font = browser.get("/fonts/NotoSansTaiViet-Regular.ttf")
    assert font.status_code == 200 and font.content[:4] in (b"\x00\x01\x00\x00", b"OTTO")
    assert browser.get("/fonts/..%2Fetc%2Fpasswd").status_code == 404


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_user_add_from_the_command_line_keeps_only_an_argon2id_hash(settings, staff):
    refused = run(settings, "user", "add", "thu", "--role", "editor", "--password-stdin",
                  input_text="mot-mat-khau-dai-2025\n")
    assert refused.returncode == 2 and "tài khoản quản trị" in refused.stderr  # an admin exists: name them
    done = run(settings, "user", "add", "thu", "--role", "editor", "--password-stdin", "--user", "mai",
               input_text="mot-mat-khau-dai-2025\n")
    assert done.returncode == 0, done.stderr
    assert "Đã tạo tài khoản thu" in done.stdout
    engine = sa.create_engine(settings.url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT password_hash FROM user WHERE name = 'thu'")).scalar_one()
    engine.dispose()
    assert stored.startswith("$argon2id$") and "mot-mat-khau-dai-2025" not in stored
    short = run(settings, "user", "add", "tam", "--role", "editor", "--password-stdin", "--user", "mai",
                input_text="ngan\n")
    assert short.returncode == 2 and "ít nhất 10 ký tự" in short.stderr and "Traceback" not in short.stderr
    again = run(settings, "user", "add", "thu", "--role", "admin", "--password-stdin", "--user", "mai",
                input_text="x" * 12 + "\n")
    assert again.returncode == 1 and "đã có người dùng 'thu'" in again.stderr
    wrong = run(settings, "user", "add", "Nguyễn Văn A", "--role", "editor", "--password-stdin", "--user", "mai",
                input_text="x" * 12 + "\n")
    assert wrong.returncode == 2 and "tên đăng nhập" in wrong.stderr
    with read_session(staff.engine) as session:
        assert session.get(User, "thu").role == "editor"


def test_an_approver_who_edits_a_colleagues_text_is_one_of_its_writers(staff):
    lan, lan_csrf = logged_in(staff, "lan")
    ann_id = compose(lan, lan_csrf, submit="1")
    hung, hung_csrf = logged_in(staff, "hung")
    edited = hung.post(f"/announcements/{ann_id}/edit", data={
        "csrf": hung_csrf, "title": "Lịch tiếp công dân tháng 12",
        "body": "Chủ tịch UBND xã tiếp công dân sáng thứ Năm.",
        "channels": "muong-la-website", "languages": "vi", "at": "2025-09-01T09:00", "priority": "normal",
        "topics": "a", "submit": "1"})
    assert edited.status_code == 303
    refused = approve(hung, hung_csrf, ann_id)
    assert refused.status_code == 409 and "không được tự phê duyệt" in refused.text
    mai, mai_csrf = logged_in(staff, "mai")
    assert "hung" in mai.get(f"/announcements/{ann_id}").text
    assert approve(mai, mai_csrf, ann_id).status_code == 303


def test_an_approval_of_a_page_opened_before_an_edit_approves_nothing_and_shows_the_new_text(staff):
    from scheduler import announcements
    from scheduler.announcements import Draft
    from scheduler.record.db import write_session

    lan, lan_csrf = logged_in(staff, "lan")
    ann_id = compose(lan, lan_csrf, submit="1")
    hung, hung_csrf = logged_in(staff, "hung")
    read = content_hash_of(hung.get(f"/announcements/{ann_id}").text)
    with write_session(staff.engine) as session:  # lan changes the figures and sends it again meanwhile
        ann = announcements.get(session, ann_id)
        announcements.edit(session, config=staff.config, ann=ann, draft=Draft(body="Số liệu mới: 25 hồ sơ."),
                           actor="lan", now=staff.now())
        announcements.submit(session, ann=ann, actor="lan", now=staff.now())
    answer = hung.post(f"/announcements/{ann_id}/approve", data={"csrf": hung_csrf, "content_hash": read})
    assert answer.status_code == 303 and answer.headers["location"].startswith(f"/announcements/{ann_id}?note=")
    page = hung.get(answer.headers["location"]).text
    assert "đã thay đổi sau khi bạn xem" in page and "Số liệu mới: 25 hồ sơ." in page and "Chờ duyệt" in page
    assert content_hash_of(page) != read
    me = hung.get("/api/me").json()
    api = hung.post(f"/api/announcements/{ann_id}/approve", params={"content_hash": read},
                    headers={"X-CSRF-Token": me["csrf"]})
    assert api.status_code == 409 and api.json()["announcement"]["body"] == "Số liệu mới: 25 hồ sơ."
    assert api.json()["content_hash"] == content_hash_of(page)
    missing = hung.post(f"/api/announcements/{ann_id}/approve", headers={"X-CSRF-Token": me["csrf"]})
    assert missing.status_code == 400 and "content_hash" in missing.json()["error"]
    assert approve(hung, hung_csrf, ann_id).status_code == 303


def test_the_schema_is_checked_once_not_on_every_page(staff, monkeypatch):
    """Every page used to re-read the migration state; a running web app checks it at its first page."""
    from scheduler import app as app_module
    from tests.web import logged_in

    calls = []
    real = app_module.ensure_ready
    monkeypatch.setattr(app_module, "ensure_ready", lambda engine: calls.append(1) or real(engine))
    client, _ = logged_in(staff, "lan")
    for path in ("/", "/announcements", "/deliveries", "/calendar"):
        assert client.get(path).status_code == 200
    assert len(calls) <= 1


def test_healthz_says_without_a_login_whether_the_service_is_alive(app, clock, settings, tmp_path):
    """For Zabbix or Nagios: 503 until the service has a heartbeat, 200 while it beats, 503 again when
    the beat is older than three minutes or the database cannot be read; no session needed."""
    from scheduler.service import heartbeat

    browser = client(app)
    answer = browser.get("/healthz")
    assert answer.status_code == 503 and answer.json()["ok"] is False and "nhịp tim" in answer.json()["problem"]
    heartbeat(app)
    answer = browser.get("/healthz")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"ok": True, "database": True, "heartbeat_age_seconds": 0, "held_channels": [],
                             "missed_slots_today": 0}
    clock.advance(timedelta(minutes=4))
    answer = browser.get("/healthz")
    assert answer.status_code == 503 and answer.json()["heartbeat_age_seconds"] == 240
    from scheduler.service import mark_stopped

    heartbeat(app)
    mark_stopped(app)  # a clean stop: said at once, not three minutes later
    answer = browser.get("/healthz")
    assert answer.status_code == 503 and answer.json()["problem"] == "dịch vụ đã dừng lúc 01/09/2025 07:04"
    add_staff(app)
    mai, _ = logged_in(app, "mai")
    assert "Dịch vụ phát đã dừng lúc 01/09/2025 07:04" in mai.get("/").text

    from scheduler.app import App

    never_made = App(settings.model_copy(update={"database_url": f"sqlite:///{tmp_path / 'empty.db'}"}), clock)
    answer = client(never_made).get("/healthz")
    assert answer.status_code == 503 and answer.json()["database"] is False
