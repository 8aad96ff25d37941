"""A channel set up from the web: its unit's administrator changes what the office sets up (checked, written into
the installation's channels.toml with its comments, in the audit trail), anyone who approves checks its
connection, and the running service builds its dispatcher and its slots again without a restart."""

from __future__ import annotations

import threading
import tomllib

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlmodel import select

from scheduler import service
from scheduler.errors import InputError
from scheduler.outbox.holds import hold_channel, holds
from scheduler.record.db import read_session, write_session
from scheduler.record.models import AuditEvent
from tests.helpers import make_app, set_channel
from tests.web import logged_in


def channel_table(app, name: str) -> dict:
    with open(app.settings.config_dir / "channels.toml", "rb") as handle:
        return tomllib.load(handle)["channels"][name]


def public_site(browser, csrf, address: str = "https://muongla.sonla.gov.vn/"):
    """Give the commune's website its public address on its page."""
    return browser.post("/channels/muong-la-website", data={
        "csrf": csrf, "title": "Trang thông tin điện tử xã Mường La", "enabled": "on", "grace_minutes": "1440",
        "site_title": "Trang thông tin điện tử xã Mường La", "base_url": address})


def test_an_administrator_changes_a_channel_s_settings_on_its_page(staff):
    app = staff
    mai, csrf = logged_in(app, "mai")
    page = mai.get("/channels/muong-la-loa")
    assert page.status_code == 200 and "Khung giờ phát" in page.text and "06:00, 17:00" in page.text
    answer = mai.post("/channels/muong-la-loa", data={
        "csrf": csrf, "title": "Đài truyền thanh xã Mường La", "enabled": "on", "grace_minutes": "45",
        "slots": "06:30, 17:00", "max_minutes": "15", "station_id": "Đây là Đài truyền thanh xã Mường La.",
        "outro": "Hết chương trình."})
    assert answer.status_code == 303, answer.text
    note = mai.get(answer.headers["location"]).text
    assert "Đã lưu" in note and "Khung giờ phát: 06:00, 17:00 → 06:30, 17:00" in note
    table = channel_table(app, "muong-la-loa")
    assert table["title"] == "Đài truyền thanh xã Mường La" and table["grace_minutes"] == 45
    assert table["settings"]["slots"] == ["06:30", "17:00"] and table["settings"]["max_minutes"] == 15
    text = (app.settings.config_dir / "channels.toml").read_text(encoding="utf-8")
    assert "# Hệ thống truyền thanh của xã." in text  # the file's comments stay
    # in use at once by this process, and in the audit trail with the change in words
    assert app.config.channels["muong-la-loa"].settings["slots"] == ["06:30", "17:00"]
    with read_session(app.engine) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "channel-settings")).one()
    assert event.actor == "mai" and event.unit_id == "muong-la" and event.subject == "channel:muong-la-loa"
    assert "Tên kênh: Hệ thống truyền thanh xã Mường La → Đài truyền thanh xã Mường La" in event.detail["changed"]
    assert "sửa cài đặt kênh" in mai.get("/audit").text


def test_a_wrong_value_is_named_by_its_label_and_nothing_is_written(staff):
    app = staff
    before = (app.settings.config_dir / "channels.toml").read_bytes()
    mai, csrf = logged_in(app, "mai")
    cases = [("muong-la-facebook", {"page_id": "trang-xa"}, "Mã số Trang Facebook (Page ID): không đúng dạng"),
             ("muong-la-loa", {"slots": "25:00"}, "Khung giờ phát"),
             ("muong-la-loa", {"grace_minutes": "nửa giờ"}, "Trễ tối đa (phút): hãy nhập một số"),
             ("muong-la-loa", {"grace_minutes": "0"}, "Trễ tối đa (phút): phải từ 1 trở lên"),
             ("muong-la-website", {"title": "  "}, "Tên kênh"),
             ("muong-la-facebook", {"mode": "secret"}, "Chế độ: hãy chọn Xem trước hoặc Đăng thật")]
    for name, values, said in cases:
        current = {f: v for f, v in channel_table(app, name).items() if isinstance(v, str | int)}
        answer = mai.post(f"/channels/{name}", data={"csrf": csrf, "enabled": "on", **current, **values})
        assert answer.status_code == 400 and said in answer.text, (name, values, answer.text[-1500:])
        assert "Traceback" not in answer.text and "channels.toml" not in answer.text
        typed = next(iter(values.values()))
        assert typed in answer.text or typed.strip() == "" or "mode" in values  # what was typed stays
    assert (app.settings.config_dir / "channels.toml").read_bytes() == before


def test_only_the_unit_s_administrator_sees_the_settings_form(staff):
    app = staff
    lan, _ = logged_in(app, "lan")
    page = lan.get("/channels/muong-la-facebook")
    assert page.status_code == 200 and "Lưu cài đặt" not in page.text and "Kiểm tra kết nối" not in page.text
    assert "Mã số Trang Facebook (Page ID)" in page.text  # read, not changed
    hung, _ = logged_in(app, "hung")
    assert "Kiểm tra kết nối" in hung.get("/channels/muong-la-facebook").text


def test_the_connection_check_on_the_web_names_what_is_missing_and_releases_a_held_channel(staff, monkeypatch):
    app = staff
    monkeypatch.delenv("CCHC_FB_MUONG_LA_TOKEN", raising=False)
    with write_session(app.engine) as session:
        hold_channel(session, "muong-la-website", "thư mục trang web không ghi được", now=app.now())
    hung, csrf = logged_in(app, "hung")
    missing = hung.post("/channels/muong-la-facebook/check", data={"csrf": csrf})
    assert missing.status_code == 200 and 'class="error" role="alert">Kết nối chưa được' in missing.text
    assert "CCHC_FB_MUONG_LA_TOKEN" in missing.text
    fine = hung.get(hung.post("/channels/muong-la-website/check", data={"csrf": csrf}).headers["location"])
    assert "Kết nối tốt" in fine.text and "Kênh đã được mở lại" in fine.text
    with read_session(app.engine) as session:
        assert [h for h in holds(session, app.now()) if h.channel == "muong-la-website"] == []


def test_the_running_service_builds_its_dispatcher_and_slots_again_when_a_channel_changes(staff):
    app = staff
    scheduler = BackgroundScheduler()
    scheduler.add_job(service.tick, "interval", args=[app.dispatcher()], id="tick", seconds=60)
    slots = service.Slots(app, scheduler, threading.Event())
    slots.build()
    reload = service.Reload(app, scheduler, slots)
    assert scheduler.get_job("play:muong-la-loa:06:00") is not None
    reload()  # nothing changed: nothing built again
    first = scheduler.get_job("tick").args[0]
    mai, csrf = logged_in(app, "mai")  # the page of this process reads the change first
    facebook = channel_table(app, "muong-la-facebook")
    public_site(mai, csrf)
    mai.post("/channels/muong-la-facebook", data={"csrf": csrf, "title": facebook["title"], "mode": "live",
                                                  "enabled": "on", "grace_minutes": "720",
                                                  "page_id": facebook["settings"]["page_id"], "hashtags": "CCHC"})
    mai.post("/channels/muong-la-loa", data={"csrf": csrf, "title": "Loa xã", "enabled": "on",
                                             "grace_minutes": "30", "slots": "06:30, 17:00", "max_minutes": "20",
                                             "station_id": "Đài xã.", "outro": "Hết."})
    reload()
    dispatcher = scheduler.get_job("tick").args[0]
    assert dispatcher is not first and dispatcher.modes["muong-la-facebook"] == "live"
    assert scheduler.get_job("play:muong-la-loa:06:00") is None
    assert scheduler.get_job("play:muong-la-loa:06:30") is not None
    assert slots.owner is not None and slots.owner.held
    slots.close()


def test_a_social_channel_does_not_go_live_while_its_website_has_this_machine_s_address(staff):
    """Its posts link to the article on the website: with 127.0.0.1 in them, nobody could open the link."""
    app = staff
    mai, csrf = logged_in(app, "mai")
    facebook = channel_table(app, "muong-la-facebook")
    live = {"csrf": csrf, "title": facebook["title"], "mode": "live", "enabled": "on", "grace_minutes": "720",
            "page_id": facebook["settings"]["page_id"], "hashtags": "CCHC"}
    refused = mai.post("/channels/muong-la-facebook", data=live)
    assert refused.status_code == 400 and "http://127.0.0.1:8080/muong-la-website/" in refused.text
    assert "Địa chỉ trang" in refused.text and channel_table(app, "muong-la-facebook")["mode"] == "preview"
    assert public_site(mai, csrf).status_code == 303
    assert mai.post("/channels/muong-la-facebook", data=live).status_code == 303
    assert channel_table(app, "muong-la-facebook")["mode"] == "live"
    back = public_site(mai, csrf, "http://localhost:8080/muong-la-website/")  # not while the Page is live
    assert back.status_code == 400 and channel_table(app, "muong-la-website")["settings"]["base_url"] == \
        "https://muongla.sonla.gov.vn/"


def test_the_service_does_not_start_while_live_posts_would_link_to_this_machine(config_dir, settings, clock):
    set_channel(config_dir, "muong-la-zalo", mode="live")
    app = make_app(settings, clock)
    with pytest.raises(InputError) as refused:
        service.run(app, threading.Event())
    assert "127.0.0.1" in str(refused.value) and "Zalo" in str(refused.value)
    app.engine.dispose()
