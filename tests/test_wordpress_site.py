"""The WordPress channel against a real WordPress: Debian's package on MariaDB and Apache, started
on loopback by tests/wordpress_site.py. An announcement in Vietnamese and Thái goes out with its
audio and is read back from the page a visitor sees; a post for tomorrow is sent ahead, stays
hidden, and goes to the trash when the announcement is cancelled; posts are found again by slug;
the health check tells the roles apart."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime, timedelta

import pytest
import requests
from pydub.generators import Sine
from sqlmodel import select

from channels import build_channel
from channels.base import Found, Outcome, Post
from scheduler import announcements
from scheduler.clock import FrozenClock
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Attempt
from tests.helpers import all_deliveries, approved, dispatch, make_app, set_channel
from tests.wordpress_site import WordPressSite

WP = ["muong-la-wordpress"]
TAI_VIET = "ꪁꪫꪱꪣ ꪼꪕ ꪹꪏꪉ ꪀꪱꪙ ꪒꪾ ꪄꪱꪉ"


@pytest.fixture
def site():
    """A new site per test (about 2 s): each test's database numbers its references from 1 again."""
    server = WordPressSite()
    server.start()
    yield server
    server.stop()


def channel(site, tmp_path, monkeypatch, user="bientap", password=None):
    monkeypatch.setenv("WP_PASSWORD", site.passwords[user] if password is None else password)
    return build_channel("wp", "wordpress", {"url": site.url, "user": user, "password_env": "WP_PASSWORD"},
                         data_dir=tmp_path)


def test_the_check_passes_for_an_author_and_says_what_is_wrong_otherwise(site, tmp_path, monkeypatch):
    assert channel(site, tmp_path, monkeypatch).check() == []
    [contributor] = channel(site, tmp_path, monkeypatch, user="congtacvien").check()
    assert "không có quyền đăng bài" in contributor
    [wrong] = channel(site, tmp_path, monkeypatch, password="aaaa bbbb cccc dddd eeee ffff").check()
    assert "mật khẩu ứng dụng (WP_PASSWORD) không đúng" in wrong and "rest_not_logged_in" in wrong
    receipt = channel(site, tmp_path, monkeypatch, user="congtacvien").send(Post(
        delivery_id=1, ref_code="ML-2025-0009.1", announcement_id=9, lang="vi", title="Thử", body="Thử.",
        priority="normal", topics=[], due_at=datetime.now(UTC), unit_name="Xã Mường La", sent_at=datetime.now(UTC)))
    assert receipt.outcome == Outcome.NEEDS_REAUTH and receipt.error_code == "rest_cannot_publish"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # the site is the subject here, not the database
def test_an_announcement_is_read_on_the_site_with_its_player_in_vietnamese_and_thai(
        site, config_dir, settings, tmp_path, monkeypatch):
    set_channel(config_dir, "muong-la-wordpress", mode="live", url=f'"{site.url}"')
    monkeypatch.setenv("CCHC_WP_MUONG_LA_PASSWORD", site.passwords["bientap"])
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1))  # the site's own time
    app = make_app(settings, clock)
    recording = tmp_path / "thai.wav"
    Sine(440).to_audio_segment(duration=3000, volume=-12).export(recording, format="wav")
    at = clock.now() + timedelta(minutes=10)
    approved(app, channels=WP, at=at, title='Lịch tiếp công dân tháng 12 <script>alert(1)</script>',
             body="Chủ tịch UBND xã tiếp công dân vào thứ Năm hằng tuần.\n\nĐịa điểm: trụ sở UBND xã.",
             translations={"blt": (TAI_VIET, recording)})
    dispatch(app, clock, at)
    done = {d.lang: d for d in all_deliveries(app)}
    assert {lang: d.state for lang, d in done.items()} == {"vi": "delivered", "blt": "delivered"}

    page = requests.get(done["vi"].remote_url, timeout=30)  # what a visitor sees, without logging in
    assert page.status_code == 200
    text = page.text
    assert "Lịch tiếp công dân tháng 12" in text and "tiếp công dân vào thứ Năm hằng tuần" in text
    assert "<script>alert(1)</script>" not in text and f"Mã tin: {done['vi'].ref_code}" in text
    [audio_url] = re.findall(r'<audio controls preload="none" src="([^"]+)"', text)
    assert audio_url.startswith(f"{site.url}/wp-content/uploads/") and audio_url.endswith(".mp3")
    clip = requests.get(audio_url, timeout=30)
    assert clip.status_code == 200 and clip.headers["Content-Type"] == "audio/mpeg"
    (tmp_path / "site.mp3").write_bytes(clip.content)
    seconds = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of",
                                    "default=nw=1:nk=1", str(tmp_path / "site.mp3")],
                                   capture_output=True, text=True, check=True).stdout)
    assert 2.0 < seconds < 30.0

    thai = requests.get(done["blt"].remote_url, timeout=30).text
    assert TAI_VIET in thai and '<audio controls preload="none"' in thai

    wp = app.channels["muong-la-wordpress"]
    for delivery in done.values():  # found again by slug, as reconcile does after a lost answer
        found = wp.reconcile(_post(delivery), None)
        assert found.found == Found.PRESENT and found.remote_id == delivery.remote_id
    app.engine.dispose()


def _post(delivery) -> Post:
    return Post(delivery_id=delivery.id, ref_code=delivery.ref_code, announcement_id=delivery.announcement_id,
                lang=delivery.lang, title="", body="", priority="normal", topics=[], due_at=delivery.due_at,
                unit_name="", sent_at=delivery.due_at)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_post_for_tomorrow_is_scheduled_hidden_until_then_found_by_slug_and_taken_back(
        site, config_dir, settings, monkeypatch):
    set_channel(config_dir, "muong-la-wordpress", mode="live", send_ahead_minutes=2 * 1440, url=f'"{site.url}"')
    monkeypatch.setenv("CCHC_WP_MUONG_LA_PASSWORD", site.passwords["bientap"])
    clock = FrozenClock(datetime.now(UTC).replace(microsecond=0))
    app = make_app(settings, clock)
    due = clock.now() + timedelta(days=1)
    ann = approved(app, channels=WP, at=due, title="Ngày mai: tập huấn dịch vụ công trực tuyến",
                   body="Mời bà con đến dự tại nhà văn hóa bản.")
    dispatch(app, clock, clock.now())
    [d] = all_deliveries(app)
    assert d.state == "scheduled" and "hẹn đăng" in _attempts(app)[0]
    auth = ("bientap", site.passwords["bientap"])
    stored = requests.get(f"{site.url}/wp-json/wp/v2/posts/{d.remote_id}", params={"context": "edit"}, auth=auth,
                          timeout=30).json()
    assert stored["status"] == "future" and stored["date_gmt"] == due.strftime("%Y-%m-%dT%H:%M:%S")
    site.run_cron()  # a visitor's request runs WordPress's due jobs: not this post's yet
    assert requests.get(f"{site.url}/?p={d.remote_id}", timeout=30).status_code == 404
    wp = app.channels["muong-la-wordpress"]
    found = wp.reconcile(_post(d), None)
    assert found.found == Found.PRESENT and found.remote_id == d.remote_id and found.scheduled

    with write_session(app.engine) as session:  # the plan changed: the office cancels it
        announcements.cancel(session, ann=announcements.get(session, ann.id), actor="hung", reason="hoãn",
                             now=clock.now())
    dispatch(app, clock, clock.now() + timedelta(seconds=1))
    [d] = all_deliveries(app)
    assert d.state == "cancelled"
    stored = requests.get(f"{site.url}/wp-json/wp/v2/posts/{d.remote_id}", params={"context": "edit"}, auth=auth,
                          timeout=30).json()
    assert stored["status"] == "trash"  # in the trash, where the site's editors can still see it
    assert wp.reconcile(_post(d), None).found == Found.ABSENT
    app.engine.dispose()


def _attempts(app) -> list[str]:
    with read_session(app.engine) as session:
        return [a.message for a in session.exec(select(Attempt).order_by(Attempt.id))]
