"""Accounts belong to units: a commune account sees and acts on its commune only, a province account
reads every commune below it and acts on its own unit; on pages, the API, the commands and in the core."""

import json

import pytest
import sqlalchemy as sa

from scheduler import announcements
from scheduler.errors import RuleError
from scheduler.record import catalog, scope, users
from scheduler.record.db import read_session, write_session
from scheduler.record.models import User
from tests.cli import invoke, snapshot
from tests.helpers import add_commune, approved, make_app, queue
from tests.web import add_staff, logged_in

PASSWORD = "mat-khau-dung-chung-2025"


@pytest.fixture
def units(config_dir, settings, clock):
    """Mường La's three accounts (lan, hung, mai), Ít Ong's editor and approver, and the province's approver."""
    add_commune(config_dir)
    app = make_app(settings, clock)
    add_staff(app)
    with write_session(app.engine) as session:
        for name, role, unit in (("tuan", "editor", "it-ong"), ("hoa", "approver", "it-ong"),
                                 ("tinh", "approver", "son-la")):
            users.add_user(session, name=name, role=role, password=PASSWORD, unit=unit, actor="test", now=app.now())
    yield app
    app.engine.dispose()


def submitted(app, **fields):
    ann = queue(app, **fields)
    with write_session(app.engine) as session:
        announcements.submit(session, ann=announcements.get(session, ann.id), actor="lan", now=app.now())
    return ann


def test_a_province_reads_its_communes_and_a_commune_only_itself(units):
    config = units.config
    assert scope.below(config, "son-la") == ["son-la", "muong-la", "it-ong"]
    assert scope.of_unit(config, "it-ong").readable == ("it-ong",)
    province = scope.of_unit(config, "son-la")
    assert province.reads("muong-la") and not scope.of_unit(config, "muong-la").reads("it-ong")
    with pytest.raises(RuleError, match="chỉ xem, không sửa hay phê duyệt"):
        province.check_act(config, "muong-la", "thông báo ML-2025-0001")


def test_another_communes_approver_cannot_approve_in_the_core_and_nothing_changes(units):
    ann = submitted(units)
    before = snapshot(units.settings.url)
    with write_session(units.engine) as session, pytest.raises(RuleError) as refused:
        announcements.approve(session, config=units.config, ann=announcements.get(session, ann.id), approver="hoa",
                              now=units.now())
    assert "thuộc Xã Mường La" in str(refused.value) and "tài khoản hoa của Xã Ít Ong" in str(refused.value)
    with write_session(units.engine) as session, pytest.raises(RuleError):  # nor can the province approve it
        announcements.approve(session, config=units.config, ann=announcements.get(session, ann.id), approver="tinh",
                              now=units.now())
    assert snapshot(units.settings.url) == before
    with write_session(units.engine) as session:  # the commune's own approver can
        assert announcements.approve(session, config=units.config, ann=announcements.get(session, ann.id),
                                     approver="hung", now=units.now())


def test_a_commune_account_cannot_open_or_act_on_another_communes_item_by_address(units):
    ann = submitted(units)
    browser, csrf = logged_in(units, "hoa", PASSWORD)
    page = browser.get(f"/announcements/{ann.id}")
    assert page.status_code == 403 and "thuộc đơn vị khác" in page.text and "Xã Ít Ong" in page.text
    assert ann.title not in page.text
    for path in (f"/announcements/{ann.id}/edit", f"/announcements/{ann.id}/audio/vi"):
        assert browser.get(path).status_code == 403
    before = snapshot(units.settings.url)
    tried = browser.post(f"/announcements/{ann.id}/approve", data={"csrf": csrf, "content_hash": "0" * 64})
    assert tried.status_code == 403 and "thuộc đơn vị khác" in tried.text
    edited = browser.post(f"/announcements/{ann.id}/edit", data={"csrf": csrf, "title": "Sửa trộm"})
    assert edited.status_code == 403
    assert snapshot(units.settings.url) == before
    assert ann.ref_code not in browser.get("/announcements").text  # nor is it listed
    assert ann.ref_code not in browser.get("/approvals").text


def test_the_api_answers_another_communes_item_with_403_and_lists_only_the_own_unit(units):
    ann = submitted(units)
    browser, _ = logged_in(units, "hoa", PASSWORD)
    me = browser.get("/api/me").json()
    assert me["unit"] == "it-ong" and me["units"] == ["it-ong"]
    answer = browser.get(f"/api/announcements/{ann.id}")
    assert answer.status_code == 403 and "thuộc đơn vị khác" in answer.json()["error"]
    approve = browser.post(f"/api/announcements/{ann.id}/approve", params={"content_hash": "0" * 64},
                           headers={"X-CSRF-Token": me["csrf"]})
    assert approve.status_code == 403
    assert browser.get("/api/announcements").json() == []
    other = browser.get("/api/announcements", params={"unit": "muong-la"})
    assert other.status_code == 400 and "không xem được Xã Mường La" in other.json()["error"]
    created = browser.post("/api/announcements", headers={"X-CSRF-Token": me["csrf"]},
                           json={"title": "Lịch tiếp dân xã Ít Ong", "body": "Chủ tịch UBND xã tiếp công dân.",
                                 "channels": ["it-ong-website"], "at": "2025-09-02 08:00"})
    assert created.status_code == 201 and created.json()["ref"].startswith("IO-2025-")
    stolen = browser.post("/api/announcements", headers={"X-CSRF-Token": me["csrf"]},
                          json={"title": "Tin", "body": "Tin.", "channels": ["muong-la-website"],
                                "at": "2025-09-02 08:00"})
    assert stolen.status_code == 400 and "muong-la-website" in stolen.json()["error"]


def test_a_province_user_switches_to_a_commune_reads_it_and_cannot_approve_there(units):
    ann = submitted(units, title="Thông báo tiếp công dân tháng 9 của xã")
    browser, csrf = logged_in(units, "tinh", PASSWORD)
    home = browser.get("/")
    assert "Tỉnh Sơn La" in home.text and 'name="unit"' in home.text and "Xã Ít Ong" in home.text
    assert ann.ref_code not in browser.get("/approvals").text  # the province's own queue
    switched = browser.post("/unit", data={"csrf": csrf, "unit": "muong-la", "next": "/approvals"})
    assert switched.status_code == 303 and switched.headers["location"] == "/approvals"
    queue_page = browser.get("/approvals")
    assert ann.ref_code in queue_page.text and "chỉ xem, không soạn hay phê duyệt" in queue_page.text
    item = browser.get(f"/announcements/{ann.id}")
    assert item.status_code == 200 and "Phê duyệt</button>" not in item.text
    tried = browser.post(f"/announcements/{ann.id}/approve",
                         data={"csrf": csrf, "content_hash": content_hash_of_page(browser, ann.id)})
    assert tried.status_code == 403 and "chỉ soạn, sửa, gửi duyệt và phê duyệt việc của Tỉnh Sơn La" in tried.text
    commune, commune_csrf = logged_in(units, "hoa", PASSWORD)
    refused = commune.post("/unit", data={"csrf": commune_csrf, "unit": "muong-la"})
    assert refused.status_code == 400 and "không xem được Xã Mường La" in refused.text


def content_hash_of_page(browser, ann_id: int) -> str:
    """The content hash an approver of the item's own unit would send (the province's page has no form)."""
    return json.loads(browser.get(f"/api/announcements/{ann_id}").text)["content_hash"]


def test_pages_show_only_the_chosen_units_log_and_channels(units, clock):
    from datetime import timedelta

    from tests.helpers import dispatch

    approved(units, title="Tin của Mường La", at=units.now() + timedelta(minutes=5))
    dispatch(units, clock, units.now() + timedelta(minutes=6))
    commune, _ = logged_in(units, "hoa", PASSWORD)
    log = commune.get("/deliveries")
    assert log.status_code == 200 and "muong-la-website" not in log.text
    assert commune.get("/deliveries", params={"channel": "muong-la-website"}).status_code == 400
    assert "Hệ thống truyền thanh xã mường la" not in commune.get("/channels").text.lower()
    assert commune.get("/api/deliveries").json()["total"] == 0
    own, _ = logged_in(units, "hung")
    assert own.get("/api/deliveries").json()["total"] == 1


def test_the_audit_trail_shows_the_chosen_units_events_only(units):
    ann = submitted(units, title="Tin riêng của Mường La")  # lan's create and submit, both of Mường La
    commune, _ = logged_in(units, "hoa", PASSWORD)
    trail = commune.get("/audit")
    assert trail.status_code == 200 and f"thông báo số {ann.id}" not in trail.text and "tài khoản lan" not in trail.text
    assert "tài khoản hoa" in trail.text  # its own login is there
    assert commune.get("/audit", params={"actor": "lan"}).text.count("<tr>") == 1  # the header row only
    own, _ = logged_in(units, "hung")
    assert f"thông báo số {ann.id}" in own.get("/audit").text and "tài khoản hoa" not in own.get("/audit").text
    province, csrf = logged_in(units, "tinh", PASSWORD)
    assert f"thông báo số {ann.id}" not in province.get("/audit").text  # the unit shown: the province's own
    province.post("/unit", data={"csrf": csrf, "unit": "muong-la", "next": "/audit"})
    assert f"thông báo số {ann.id}" in province.get("/audit").text
    listed = invoke(units.settings, "audit", "--unit", "it-ong", "--json")
    assert listed.returncode == 0 and {row["unit"] for row in json.loads(listed.stdout)} == {"it-ong"}
    refused = invoke(units.settings, "audit", "--unit", "ha-noi")
    assert refused.returncode == 2 and "không có đơn vị 'ha-noi'" in refused.stderr


def test_commands_run_as_an_account_read_only_its_units(units):
    ann = submitted(units)
    settings = units.settings
    listed = invoke(settings, "list", "--user", "hoa", "--json")
    assert listed.returncode == 0 and json.loads(listed.stdout) == []
    refused = invoke(settings, "list", "--unit", "muong-la", "--user", "hoa")
    assert refused.returncode == 2 and "không xem được Xã Mường La" in refused.stderr
    shown = invoke(settings, "show", str(ann.id), "--user", "hoa")
    assert shown.returncode == 1 and ann.title not in shown.stdout and "thuộc đơn vị khác" in shown.stderr
    approve = invoke(settings, "approve", str(ann.id), "--user", "hoa")
    assert approve.returncode == 1 and "thuộc Xã Mường La" in approve.stderr
    province = invoke(settings, "list", "--unit", "muong-la", "--user", "tinh", "--json")
    assert [row["ref"] for row in json.loads(province.stdout)] == [ann.ref_code]
    made = invoke(settings, "queue", "--user", "tuan", "--title", "Lịch tiếp dân", "--body", "Tiếp công dân.",
                  "--channel", "it-ong-website", "--at", "2030-09-02 08:00")  # the command's real clock
    assert made.returncode == 0 and "(IO-20" in made.stderr, made.stderr
    added = invoke(settings, "user", "add", "an", "--role", "editor", "--unit", "it-ong", "--password-stdin",
                   "--user", "mai", input_text=PASSWORD + "\n")
    assert added.returncode == 2 and "không xem được Xã Ít Ong" in added.stderr  # a commune admin, another commune


def test_accounts_made_before_units_join_the_default_unit_at_init(units):
    with units.engine.begin() as connection:
        connection.execute(sa.text("UPDATE \"user\" SET unit_id = NULL WHERE name = 'lan'"))
    with write_session(units.engine) as session:
        changes = catalog.sync(session, units.config)
    assert "user lan: unit muong-la" in changes
    with read_session(units.engine) as session:
        assert session.get(User, "lan").unit_id == "muong-la"
