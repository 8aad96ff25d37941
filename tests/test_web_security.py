"""The web app under abuse: bodies over their limit (also chunked, with the server's memory measured),
security headers, login CSRF, proxy headers, links from platforms, spreadsheet formulas."""

from __future__ import annotations

import csv
import io
import json
import re
import socket
import subprocess
import time
from datetime import timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import update
from sqlmodel import select

from scheduler.plans import report as reports
from scheduler.plans.periods import parse_period
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Attempt, Delivery, LoginAttempt
from tests.cli import CCHC, environment, invoke, run
from tests.conftest import START
from tests.helpers import approved, dispatch, make_app
from tests.pg import _free_port
from tests.web import PASSWORDS, client, csrf_of, logged_in

PAGES = ("/", "/announcements", "/announcements/new", "/approvals", "/deliveries", "/calendar", "/reports",
         "/channels")


def test_every_answer_carries_the_security_headers_and_pages_are_not_cached(staff):
    lan, _ = logged_in(staff, "lan")
    for path in (*PAGES, "/login", "/api/me", "/static/style.css"):
        answer = (client(staff) if path == "/login" else lan).get(path)
        assert answer.status_code == 200, path
        policy = answer.headers["content-security-policy"]
        script = re.search(r"script-src ([^;]+)", policy).group(1)
        assert script.strip() == "'self'" and "frame-ancestors 'none'" in policy, path
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.headers["referrer-policy"] == "same-origin"
        if path != "/static/style.css":
            assert answer.headers["cache-control"] == "no-store", path
        if answer.headers["content-type"].startswith("text/html"):  # nothing a CSP without 'unsafe-inline' blocks
            assert not re.search(r"<script(?![^>]*\bsrc=)", answer.text), path
            assert not re.search(r"\son[a-z]+=|\sstyle=", answer.text), path


def test_an_empty_login_token_never_matches_an_empty_cookie(staff):
    browser = client(staff)
    answer = browser.post("/login", data={"csrf": "", "name": "lan", "password": PASSWORDS["lan"]})
    assert answer.status_code == 403 and "cchc_session" not in browser.cookies
    browser.cookies.set("cchc_login", "")
    answer = browser.post("/login", data={"csrf": "", "name": "lan", "password": PASSWORDS["lan"]})
    assert answer.status_code == 403 and "cchc_session" not in browser.cookies


def guess(browser, name: str, forwarded: str) -> int:
    token = csrf_of(browser.get("/login").text)
    return browser.post("/login", headers={"X-Forwarded-For": forwarded},
                        data={"csrf": token, "name": name, "password": "sai-mat-khau-123"}).status_code


def test_forwarded_addresses_are_believed_only_from_a_trusted_proxy(staff, settings, clock, monkeypatch):
    browser = client(staff)  # not a proxy: X-Forwarded-For is ignored, the limit per address holds
    codes = [guess(browser, f"nguoi{n}", f"10.0.0.{n}") for n in range(6)]
    assert codes[:5] == [401] * 5 and codes[5] == 401
    token = csrf_of(browser.get("/login").text)
    refused = browser.post("/login", headers={"X-Forwarded-For": "10.9.9.9"},
                           data={"csrf": token, "name": "lan", "password": PASSWORDS["lan"]})
    assert "thử lại sau 15 phút" in refused.text  # six addresses claimed, one seen
    trusting = make_app(settings.model_copy(update={"trusted_proxies": "testclient"}), clock)
    clock.advance(timedelta(minutes=16))
    behind = client(trusting)
    assert [guess(behind, "lan", f"10.0.1.{n}") for n in range(3)] == [401] * 3
    with read_session(trusting.engine) as session:
        addresses = {row.address for row in session.exec(select(LoginAttempt))}
    assert {"10.0.1.0", "10.0.1.1", "10.0.1.2"} <= addresses and "10.0.0.3" not in addresses


def test_a_link_that_came_back_from_a_platform_is_shown_only_if_it_is_http(staff, clock):
    ann = approved(staff, channels=["muong-la-website", "muong-la-webhook"], at=START + timedelta(hours=1))
    dispatch(staff, clock, START + timedelta(hours=2))
    with write_session(staff.engine) as session:
        session.execute(update(Delivery).where(Delivery.channel_id == "muong-la-website")
                        .values(remote_url="javascript:alert(document.cookie)"))
    lan, _ = logged_in(staff, "lan")
    for path in (f"/announcements/{ann.id}", "/deliveries"):
        page = lan.get(path).text
        assert 'href="javascript:' not in page and "javascript:alert" not in page.split("<body")[0]
        assert "<a href=\"javascript" not in page
    with write_session(staff.engine) as session:
        session.execute(update(Delivery).where(Delivery.channel_id == "muong-la-website")
                        .values(remote_url="https://muongla.sonla.gov.vn/tin/1"))
    assert 'href="https://muongla.sonla.gov.vn/tin/1"' in lan.get("/deliveries").text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_text_a_spreadsheet_would_run_is_written_as_text_everywhere(staff, clock, tmp_path):
    approved(staff, channels=["muong-la-website"], at=START + timedelta(hours=1), title="=1+1 tiêu đề lạ")
    dispatch(staff, clock, START + timedelta(hours=2))
    attacks = ["=HYPERLINK(\"http://x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]
    with write_session(staff.engine) as session:
        session.execute(update(Attempt).values(message=attacks[0]))
    from scheduler.text import spreadsheet_cell

    assert [spreadsheet_cell(a) for a in attacks] == [f"'{a}" for a in attacks] and spreadsheet_cell(5) == 5
    lan, _ = logged_in(staff, "lan")
    web = list(csv.DictReader(io.StringIO(lan.get("/deliveries.csv").text.lstrip("\ufeff"))))
    cli = list(csv.DictReader(io.StringIO(invoke(staff.settings, "logs", "--format", "csv").stdout)))
    assert web[0]["ghi chú"] == cli[0]["ghi chú"] == f"'{attacks[0]}"
    clock.moment = START + timedelta(days=31)
    with read_session(staff.engine) as session:
        data = reports.gather(session, staff.config, unit="muong-la", span=parse_period("2025-09"), now=clock.now())
    book = load_workbook(reports.write(data, "xlsx", tmp_path / "bc.xlsx"))
    titles = [row[2] for row in book["6. Danh sách tin, bài"].iter_rows(min_row=3, values_only=True)]
    assert titles == ["'=1+1 tiêu đề lạ"]


def test_a_declared_body_over_its_limit_is_refused_before_it_is_read(staff):
    anonymous = client(staff)
    answer = anonymous.post("/login", content=b"x" * (17 * 1024),
                            headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 413 and "Yêu cầu quá lớn: tối đa 16 KB" in answer.text
    lan, csrf = logged_in(staff, "lan")
    api = lan.post("/api/announcements", content=b"{" + b" " * (2 * 2**20) + b"}",
                   headers={"X-CSRF-Token": csrf, "Content-Type": "application/json"})
    assert api.status_code == 413 and "tối đa 1 MB" in api.json()["error"]
    form = lan.post("/logout", data={"csrf": csrf, "pad": "x" * (300 * 1024)})
    assert form.status_code == 413 and lan.get("/").status_code == 200  # still logged in


def _rss_kib(pid: int) -> int:
    status = open(f"/proc/{pid}/status").read()  # noqa: SIM115
    return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))


def _send_chunked(port: int, path: str, total: int, headers: str = "") -> tuple[int, int]:
    """POST ``total`` bytes in 64 KiB chunks; (the HTTP status, how many bytes went before the answer)."""
    chunk = b"a" * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                     f"Transfer-Encoding: chunked\r\n{headers}\r\n".encode())
        sock.settimeout(0.0)
        reply = b""
        while sent < total:
            try:
                sock.sendall(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            except (BlockingIOError, BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
            try:
                reply += sock.recv(65536)
            except BlockingIOError:
                pass
            if b"\r\n" in reply:
                break
        sock.settimeout(10)
        while b"\r\n" not in reply:
            received = sock.recv(65536)
            if not received:
                break
            reply += received
    return int(reply.split(b" ", 2)[1]), sent


@pytest.mark.slow
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_two_hundred_megabytes_sent_in_chunks_leave_the_servers_memory_flat(settings):
    assert run(settings, "init").returncode == 0
    port = _free_port()
    server = subprocess.Popen([CCHC, "web", "--port", str(port)], env=environment(settings),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        before = _rss_kib(server.pid)
        status, sent = _send_chunked(port, "/login", 200 * 2**20)
        after = _rss_kib(server.pid)
        assert status == 413 and sent < 50 * 2**20  # stopped early, not read to the end
        assert after - before < 20 * 1024, (before, after)  # KiB: flat, nothing spooled
        status, _ = _send_chunked(port, "/api/announcements", 200 * 2**20)  # refused before its body is read
        assert status == 401 and _rss_kib(server.pid) - before < 20 * 1024
    finally:
        server.terminate()
        server.wait(10)


def test_out_of_range_and_poisoned_input_gets_a_vietnamese_answer_never_a_500(staff):
    lan, csrf = logged_in(staff, "lan")
    for path, words in [("/announcements/99999999999999999999", "Giá trị không hợp lệ"),
                        ("/announcements/0", "Giá trị không hợp lệ"),
                        ("/reports/download?period=9999&fmt=docx", "năm 9999 nằm ngoài khoảng"),
                        ("/reports/download?period=0000&fmt=xlsx", "năm 0 nằm ngoài khoảng"),
                        ("/calendar?day=9999-12-31", "năm 9999"), ("/calendar?view=month&day=0001-01-01", "năm 1"),
                        ("/deliveries?since=0001-01-01", "năm 1"), ("/deliveries?page_no=99999999999999999999", ""),
                        ("/deliveries?channel=%00", "không có kênh"), ("/announcements?status=%00x", "Trạng thái"),
                        ("/khong-co-trang-nay", "Không có trang này")]:
        answer = lan.get(path)
        assert 400 <= answer.status_code < 500 and words in answer.text, (path, answer.status_code, answer.text[:300])
        assert "Traceback" not in answer.text and '"detail"' not in answer.text
    api = lan.get("/api/announcements/99999999999999999999")
    assert api.status_code == 422 and "error" in api.json()
    for body in ({"title": "Tin\x00độc", "body": "x", "channels": ["muong-la-website"], "at": "2025-09-02 09:00"},
                 {"title": "Tin", "body": "x", "channels": ["muong-la-website"], "at": "9999-12-31 09:00"},
                 {"title": "Tin", "body": "x", "channels": ["muong\x00"], "at": "2025-09-02 09:00"}):
        made = lan.post("/api/announcements", json=body, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 400 and "error" in made.json(), made.text
    form = lan.post("/announcements", data={"csrf": csrf, "title": "Tin\x00", "body": "Nội dung",
                                             "at": "2025-09-02T09:00", "channels": "muong-la-website"})
    assert form.status_code == 400 and "ký tự NUL" in form.text
    token = csrf_of(client(staff).get("/login").text)
    fresh = client(staff)
    fresh.cookies.set("cchc_login", token)
    answer = fresh.post("/login", data={"csrf": token, "name": "lan\x00", "password": "x\x00y"})
    assert answer.status_code == 401 and "không đúng" in answer.text
    with read_session(staff.engine) as session:
        assert session.exec(select(Delivery)).all() == []


def test_an_admin_manages_accounts_from_the_command_line_and_a_disabled_user_is_out_at_once(staff):
    lan, _ = logged_in(staff, "lan")
    settings = staff.settings
    listed = invoke(settings, "user", "list")
    assert "lan" in listed.stdout and "Biên tập" in listed.stdout and "hoạt động" in listed.stdout
    assert invoke(settings, "user", "sessions", "lan", "--now", "2025-09-01 08:00").stdout.count("từ ") == 1
    refused = invoke(settings, "user", "disable", "lan", "--user", "hung")  # an approver is not an admin
    assert refused.returncode == 2 and "tài khoản quản trị" in refused.stderr
    done = invoke(settings, "user", "disable", "lan", "--user", "mai")
    assert done.returncode == 0, done.stderr
    assert lan.get("/").status_code == 303  # the open session ended at once
    again = client(staff)
    token = csrf_of(again.get("/login").text)
    assert again.post("/login", data={"csrf": token, "name": "lan", "password": PASSWORDS["lan"]}).status_code == 401
    assert invoke(settings, "user", "enable", "lan", "--user", "mai").returncode == 0
    new = "mat-khau-moi-cua-Lan-2026"
    changed = invoke(settings, "user", "passwd", "lan", "--password-stdin", "--user", "mai", input_text=new + "\n")
    assert changed.returncode == 0 and "phiên đăng nhập cũ đã kết thúc" in changed.stdout
    token = csrf_of(again.get("/login").text)
    assert again.post("/login", data={"csrf": token, "name": "lan", "password": new}).status_code == 303
    revoked = invoke(settings, "user", "sessions", "lan", "--revoke", "--user", "mai")
    assert revoked.returncode == 0 and "Đã kết thúc 1 phiên" in revoked.stdout and again.get("/").status_code == 303
    last = invoke(settings, "user", "disable", "mai", "--user", "mai")
    assert last.returncode == 1 and "quản trị viên cuối cùng" in last.stderr


def test_an_admin_manages_accounts_on_the_users_page_and_nobody_else_sees_it(staff):
    lan, lan_csrf = logged_in(staff, "lan")
    assert lan.get("/users").status_code == 403 and 'href="/users"' not in lan.get("/").text
    assert lan.post("/users", data={"csrf": lan_csrf, "name": "x1", "role": "admin",
                                    "password": "mot-mat-khau-dai"}).status_code == 403
    mai, mai_csrf = logged_in(staff, "mai")
    assert 'href="/users"' in mai.get("/").text
    made = mai.post("/users", data={"csrf": mai_csrf, "name": "thu", "role": "editor",
                                    "password": "mat-khau-cua-Thu-1"})
    assert made.status_code == 303 and "thu" in mai.get("/users").text
    assert mai.post("/users/lan/disable", data={"csrf": mai_csrf}).status_code == 303
    assert lan.get("/").status_code == 303
    page = mai.get("/users").text
    assert "đã khóa" in page
    assert mai.post("/users/lan/enable", data={"csrf": mai_csrf}).status_code == 303
    assert mai.post("/users/lan/passwd", data={"csrf": mai_csrf, "password": "ngan"}).status_code == 400
    assert mai.post("/users/ai-do/disable", data={"csrf": mai_csrf}).status_code == 400
    assert mai.post("/users/lan/disable", data={}).status_code == 403  # no CSRF token, no change
    assert "đã khóa" not in mai.get("/users").text


def test_the_audit_trail_is_readable_on_its_page_and_from_the_command_line(staff, clock):
    from scheduler.outbox.holds import hold_channel
    from scheduler.plans.compliance import evaluate, warn
    from scheduler.plans.periods import span_at

    approved(staff, channels=["muong-la-website"], at=START + timedelta(hours=1), author="lan", approver="hung")
    client(staff).post("/login", data={"csrf": "", "name": "lan", "password": "sai"})  # refused: no token
    token = csrf_of(client(staff).get("/login").text)
    guesser = client(staff)
    guesser.cookies.set("cchc_login", token)
    guesser.post("/login", data={"csrf": token, "name": "lan", "password": "sai-mat-khau-99"})
    with write_session(staff.engine) as session:
        hold_channel(session, "muong-la-zalo", "mã truy cập hết hạn", clock.now())
        clock.moment = START + timedelta(days=20)
        warn(session, evaluate(session, staff.config, unit="muong-la", span=span_at("month", clock.now()),
                               now=clock.now()), at=clock.now())
    hung, _ = logged_in(staff, "hung")
    page = hung.get("/audit").text
    for words in ("phê duyệt", "tạo thông báo", "đăng nhập sai", "tạm dừng kênh", "cảnh báo chỉ tiêu",
                  "kênh muong-la-zalo", 'href="/announcements/1"'):
        assert words in page, words
    only = hung.get("/audit?action=approve").text
    assert "phê duyệt" in only and "đăng nhập sai" not in only.split("<tbody>")[1]
    lan, _ = logged_in(staff, "lan")
    assert lan.get("/audit").status_code == 403
    approvals = json.loads(invoke(staff.settings, "audit", "--actor", "hung", "--action", "approve", "--json").stdout)
    assert [(e["actor"], e["action"], e["subject"]) for e in approvals] == [("hung", "approve", "announcement:1")]
    table = invoke(staff.settings, "audit", "--since", "2025-09-01").stdout
    assert "hệ thống (gửi tin)" in table and "đăng nhập sai" in table


def test_the_first_administrator_is_made_on_the_web_at_the_server_once(app):
    """A new install has no account: the login page offers the first administrator, to a browser on the
    server itself only, once; a second try is refused plainly and changes nothing."""
    from fastapi.testclient import TestClient

    from scheduler.web.app import create_web
    from scheduler.web.deps import LOGIN_COOKIE
    from tests.cli import snapshot

    here = TestClient(create_web(app), follow_redirects=False, client=("127.0.0.1", 50000))
    away = TestClient(create_web(app), follow_redirects=False, client=("192.168.1.20", 50000))
    offered = here.get("/login").text
    assert "Tạo tài khoản quản trị đầu tiên" in offered and 'action="/setup"' in offered
    assert 'action="/setup"' not in away.get("/login").text and "trên chính máy chủ" in away.get("/login").text
    fields = {"csrf": csrf_of(offered), "name": "quantri", "password": "Mat-khau-dau-tien-2026", "again":
              "Mat-khau-dau-tien-2026", "unit": "son-la"}
    assert away.post("/setup", data={**fields, "csrf": away.cookies.get(LOGIN_COOKIE)}).status_code == 403
    mismatch = here.post("/setup", data={**fields, "again": "khac-hoan-toan-2026"})
    assert mismatch.status_code == 400 and "hai lần nhập mật khẩu không giống nhau" in mismatch.text
    short = here.post("/setup", data={**fields, "csrf": csrf_of(mismatch.text), "password": "ngan", "again": "ngan"})
    assert short.status_code == 400 and "Mật khẩu: mật khẩu cần ít nhất" in short.text and "password:" not in short.text
    made = here.post("/setup", data={**fields, "csrf": csrf_of(here.get("/login").text)})
    assert made.status_code == 303 and made.headers["location"] == "/"
    assert "Tổng quan" in here.get("/").text or here.get("/").status_code == 200  # signed in as quantri
    before = snapshot(app.settings.url)
    again = TestClient(create_web(app), follow_redirects=False, client=("127.0.0.1", 50001))
    token = csrf_of(again.get("/login").text)
    second = again.post("/setup", data={**fields, "csrf": token, "name": "keokhac"})
    assert second.status_code == 409 and "đã có tài khoản" in second.text
    assert snapshot(app.settings.url) == before
    assert 'action="/setup"' not in again.get("/login").text
