"""The WordPress channel against a local fake of the REST API (tests/fakes/wordpress.py): posts
with terms and slugs, the future rule, reconcile by slug after a timeout, each error class, markup
in the title, long Vietnamese and Tai Viet text, and an Application Password that never shows."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

import pytest
import requests
from pydub.utils import mediainfo
from sqlmodel import select

from channels import build_channel
from channels.base import Outcome, Post
from channels.files import slug
from scheduler import announcements, queries
from scheduler.announcements import Draft
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Attempt, Delivery, ServiceState
from scheduler.record.models import DeliveryState as S
from tests import contract
from tests.conftest import START
from tests.fakes.wordpress import FakeWordPress
from tests.helpers import all_deliveries, approved, dispatch, make_app, set_channel

USER, PASSWORD = "bientap", "abcd EFGH 1234 ijkl MNOP 5678"
WP = ["muong-la-wordpress"]
TAI_VIET = "ꪁꪫꪱꪣ ꪼꪕ ꪹꪏꪉ ꪀꪱꪙ"



def wordpress_for_contract() -> FakeWordPress:
    fake = FakeWordPress("bientap", "cont ract pass word 0001")
    fake.terms["categories"]["Cải cách hành chính"] = 2
    return fake


CONTRACT = contract.Contract(
    "wordpress", lambda url: {"url": url, "user": "bientap", "password_env": "CONTRACT_WP_PASSWORD", "audio": False,
                              "timeout_seconds": 1},
    wordpress_for_contract, secrets={"CONTRACT_WP_PASSWORD": "cont ract pass word 0001"})
test_each_answer_of_the_platform_gets_its_outcome_and_no_secret_shows = contract.cases(CONTRACT)



@pytest.fixture
def site():
    """A commune's site as usually set up: the posting account is an author, the category exists."""
    fake = FakeWordPress(USER, PASSWORD)
    fake.terms["categories"]["Cải cách hành chính"] = 2
    yield fake
    fake.close()


def channel(site, tmp_path, monkeypatch, password=PASSWORD, **settings):
    monkeypatch.setenv("WP_PASSWORD", password)
    return build_channel("wp", "wordpress", {"url": site.url, "user": USER, "password_env": "WP_PASSWORD",
                                             **settings}, data_dir=tmp_path)


def post(*, ref="ML-2025-0001.1", title="Lịch tiếp công dân", body="Đoạn một.\n\nĐoạn hai.", topics=("d",),
         due_in=timedelta(0)) -> Post:
    now = datetime.now(UTC)
    return Post(delivery_id=1, ref_code=ref, announcement_id=1, lang="vi", title=title, body=body,
                priority="normal", topics=list(topics), due_at=now + due_in, unit_name="Xã Mường La", sent_at=now)


def test_a_post_is_published_with_its_category_tags_slug_and_escaped_title(site, tmp_path, monkeypatch):
    wp = channel(site, tmp_path, monkeypatch)
    receipt = wp.send(post(title='Thông báo <script>alert("x")</script>', topics=("d", "g")))
    assert receipt.outcome == Outcome.SENT and receipt.remote_id == "10" and receipt.url.endswith("?p=10")
    [stored] = site.posts
    assert stored["status"] == "publish" and stored["slug"] == "ml-2025-0001-1"
    assert stored["title"]["raw"] == "Thông báo alert(&quot;x&quot;)"  # the tags dropped, the rest escaped
    assert stored["content"]["raw"] == ('<p>Đoạn một.</p><p>Đoạn hai.</p>'
                                        '<p class="cchc-ref">Mã tin: ML-2025-0001.1</p>')
    assert stored["categories"] == [site.terms["categories"]["Cải cách hành chính"]]
    assert stored["tags"] == [site.terms["tags"]["CCHC mục d"], site.terms["tags"]["CCHC mục g"]]
    again = channel(site, tmp_path, monkeypatch)  # a new process: the terms exist, their ids are reused
    assert again.send(post(ref="ML-2025-0002.1")).outcome == Outcome.SENT
    assert site.posts[1]["categories"] == stored["categories"] and len(site.terms["categories"]) == 2


def test_an_author_uses_the_sites_category_and_is_told_when_it_is_missing(site, tmp_path, monkeypatch):
    wp = channel(site, tmp_path, monkeypatch)
    assert wp.send(post()).outcome == Outcome.SENT
    assert site.posts[0]["categories"] == [2]
    assert not [r for r in site.requests if r["method"] == "POST" and r["route"] == "/wp/v2/categories"]
    del site.terms["categories"]["Cải cách hành chính"]  # an administrator deleted it
    fresh = channel(site, tmp_path, monkeypatch)
    receipt = fresh.send(post(ref="ML-2025-0002.1"))
    assert receipt.outcome == Outcome.NEEDS_REAUTH and receipt.error_code == "rest_cannot_create"
    assert "chuyên mục 'Cải cách hành chính' chưa có" in receipt.message and "quản trị" in receipt.message
    [problem] = fresh.check()
    assert "chuyên mục 'Cải cách hành chính' chưa có" in problem
    site.role = "editor"  # an editor may create it
    assert fresh.check() == [] and fresh.send(post(ref="ML-2025-0003.1")).outcome == Outcome.SENT
    assert len(site.posts) == 2 and "Cải cách hành chính" in site.terms["categories"]


def test_a_post_due_a_day_ahead_is_scheduled_on_the_site(site, tmp_path, monkeypatch):
    wp = channel(site, tmp_path, monkeypatch)
    wp.send(post(due_in=timedelta(days=1)))
    wp.send(post(ref="ML-2025-0002.1", due_in=timedelta(seconds=30)))  # under 60 s: WordPress publishes now
    assert [p["status"] for p in site.posts] == ["future", "publish"]


def test_the_rest_route_form_works_where_permalinks_are_off(site, tmp_path, monkeypatch):
    wp = channel(site, tmp_path, monkeypatch, rest_route=True)
    assert wp.send(post()).outcome == Outcome.SENT
    assert all(r["route"].startswith("/wp/v2/") for r in site.requests)
    assert wp.check() == []


def test_long_vietnamese_and_tai_viet_text_goes_through_whole(site, tmp_path, monkeypatch):
    wp = channel(site, tmp_path, monkeypatch)
    body = ("Thủ tục hành chính trực tuyến. " * 300) + "\n\n" + (TAI_VIET + " ") * 500
    assert wp.send(post(body=body)).outcome == Outcome.SENT
    content = site.posts[0]["content"]["raw"]
    assert content.count("Thủ tục hành chính") == 300 and content.count(TAI_VIET) == 500


@pytest.mark.parametrize(("setup", "outcome", "words"), [
    ("wrong-password", Outcome.NEEDS_REAUTH, "mật khẩu ứng dụng (WP_PASSWORD) không đúng"),
    ("cannot-publish", Outcome.NEEDS_REAUTH, "Tác giả hoặc Biên tập viên"),
    ("bad-gateway", Outcome.UNKNOWN, "502"),
])
def test_each_error_class_gets_its_outcome(site, tmp_path, monkeypatch, setup, outcome, words):
    wp = channel(site, tmp_path, monkeypatch, password="wrong" if setup == "wrong-password" else PASSWORD)
    site.role = "contributor" if setup == "cannot-publish" else "editor"
    if setup == "bad-gateway":
        site.script = [("http", 502, "<html>Bad Gateway</html>")]
    receipt = wp.send(post())
    assert receipt.outcome == outcome and words in receipt.message
    assert site.posts == []


def test_check_says_what_is_wrong(site, tmp_path, monkeypatch):
    assert channel(site, tmp_path, monkeypatch).check() == []
    [wrong] = channel(site, tmp_path, monkeypatch, password="wrong").check()
    assert "không đúng" in wrong and "https" in wrong  # plain http: WordPress wants https or 'local'
    site.role = "contributor"
    [role] = channel(site, tmp_path, monkeypatch).check()
    assert "publish_posts" in role
    monkeypatch.delenv("WP_PASSWORD")
    unset = build_channel("wp", "wordpress", {"url": site.url, "user": USER, "password_env": "WP_PASSWORD"},
                          data_dir=tmp_path)
    [missing] = unset.check()
    assert "WP_PASSWORD" in missing and "Application Passwords" in missing


@pytest.fixture
def wp_app(config_dir, settings, clock, site, monkeypatch):
    set_channel(config_dir, "muong-la-wordpress", mode="live", url=f'"{site.url}"')
    monkeypatch.setenv("CCHC_WP_MUONG_LA_PASSWORD", PASSWORD)
    app = make_app(settings, clock)
    yield app
    app.engine.dispose()


def test_a_timeout_after_the_site_stored_the_post_is_settled_by_slug(wp_app, clock, site):
    at = START + timedelta(hours=1)
    approved(wp_app, channels=WP, at=at)
    site.script = [("store-then-drop",)]
    clock.moment = at
    wp_app.dispatcher().run_once()
    with read_session(wp_app.engine) as session:
        [d] = session.exec(select(Delivery)).all()
    assert d.state == S.NEEDS_RECONCILE and len(site.posts) == 1
    clock.moment = d.next_attempt_at
    wp_app.dispatcher().run_once()
    with read_session(wp_app.engine) as session:
        [d] = session.exec(select(Delivery)).all()
    assert d.state == S.DELIVERED and d.remote_id == "10" and len(site.posts) == 1


def test_the_application_password_never_shows(wp_app, clock, site, caplog, monkeypatch):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("CCHC_WP_MUONG_LA_PASSWORD", PASSWORD.replace("abcd", "zzzz"))  # rejected
    at = START + timedelta(hours=1)
    approved(wp_app, channels=WP, at=at)
    clock.moment = at
    wp_app.dispatcher().run_once()
    secret = PASSWORD.replace("abcd", "zzzz")
    assert all(secret not in r.getMessage() and secret.replace(" ", "") not in r.getMessage() for r in caplog.records)
    with read_session(wp_app.engine) as session:
        stored = [a.message for a in session.exec(select(Attempt))]
        stored += [row.value for row in session.exec(select(ServiceState))]
        [d] = session.exec(select(Delivery)).all()
    assert d.state == S.RETRY_WAIT and "không đúng" in d.last_error  # it waits for the right password
    assert all(secret.replace(" ", "") not in (text or "") and secret not in (text or "") for text in stored)


def test_the_items_voice_goes_up_as_mp3_and_the_post_opens_with_a_player(wp_app, clock, site, tmp_path):
    at = START + timedelta(hours=1)
    approved(wp_app, channels=WP, at=at, title="Lịch tiếp công dân tháng 9/2025",
             body="Chủ tịch UBND xã tiếp công dân vào thứ Năm hằng tuần.",
             translations={"blt": "ꪁꪫꪱꪣ ꪼꪕ ꪹꪏꪉ ꪀꪱꪙ"})
    site.script = [("http", 503, "<html>busy</html>")]  # the first post fails after its audio went up
    clock.moment = at
    wp_app.dispatcher().run_once()
    with read_session(wp_app.engine) as session:
        first = {d.lang: d for d in session.exec(select(Delivery)).all()}
    assert first["vi"].state == S.RETRY_WAIT and len(site.media) == 1
    clock.moment = first["vi"].next_attempt_at
    wp_app.dispatcher().run_once()
    with read_session(wp_app.engine) as session:
        done = {d.lang: d for d in session.exec(select(Delivery)).all()}
        notes = {a.delivery_id: a.message for a in session.exec(select(Attempt)) if a.outcome == "sent"}
    assert done["vi"].state == done["blt"].state == S.DELIVERED
    [media] = site.media  # the retry found the earlier upload by its name
    assert media["mime_type"] == "audio/mpeg" and media["slug"] == f"{slug(done['vi'].ref_code)}-audio"
    clip = tmp_path / "voice.mp3"
    clip.write_bytes(media["data"])
    seconds = float(mediainfo(str(clip))["duration"])
    assert 2.0 < seconds < 30.0
    vi_post = next(p for p in site.posts if p["slug"] == slug(done["vi"].ref_code))
    content = vi_post["content"]["raw"]
    assert content.startswith('<!-- wp:audio --><figure class="wp-block-audio"><audio controls')
    assert f'src="{media["source_url"]}"' in content
    blt_post = next(p for p in site.posts if p["slug"] == slug(done["blt"].ref_code))
    assert "<audio" not in blt_post["content"]["raw"]  # no recording from the translator: no player
    assert "không kèm âm thanh" in notes[done["blt"].id] and "ghi âm" in notes[done["blt"].id]


@pytest.fixture
def ahead_app(config_dir, settings, clock, site, monkeypatch):
    """The WordPress channel live, handing posts to the site an hour ahead; the site keeps test time."""
    set_channel(config_dir, "muong-la-wordpress", mode="live", send_ahead_minutes=60, url=f'"{site.url}"')
    monkeypatch.setenv("CCHC_WP_MUONG_LA_PASSWORD", PASSWORD)
    site.now = lambda: clock.now().timestamp()
    app = make_app(settings, clock)
    yield app
    app.engine.dispose()


def test_a_post_sent_ahead_is_scheduled_on_the_site_and_counts_once_due(ahead_app, clock, site):
    due = START + timedelta(hours=3)
    approved(ahead_app, channels=WP, at=due)
    dispatch(ahead_app, clock, due - timedelta(minutes=61))  # not within the hour yet
    assert site.posts == []
    dispatch(ahead_app, clock, due - timedelta(minutes=59))
    [d] = all_deliveries(ahead_app)
    [stored] = site.posts
    assert d.state == S.SCHEDULED and d.remote_id == str(stored["id"]) and d.finished_at is None
    assert stored["status"] == "future" and stored["date_gmt"] == due.strftime("%Y-%m-%dT%H:%M:%S")
    with read_session(ahead_app.engine) as session:
        [row] = queries.schedule(session, since=START, until=due)
    assert row["state"] == "scheduled" and row["next_attempt"] == ""  # WordPress publishes it, not us
    dispatch(ahead_app, clock, due - timedelta(minutes=1))
    assert all_deliveries(ahead_app)[0].state == S.SCHEDULED and len(site.posts) == 1  # sent once
    report = dispatch(ahead_app, clock, due)
    [d] = all_deliveries(ahead_app)
    assert report.published == 1 and d.state == S.DELIVERED and d.finished_at.replace(tzinfo=UTC) == due


def test_a_post_found_too_close_to_its_time_goes_out_at_the_time_instead(ahead_app, clock, site):
    due = START + timedelta(hours=3)
    approved(ahead_app, channels=WP, at=due)
    dispatch(ahead_app, clock, due - timedelta(minutes=3))  # the server was off until now: too late to schedule
    assert site.posts == []
    dispatch(ahead_app, clock, due)
    [d] = all_deliveries(ahead_app)
    assert d.state == S.DELIVERED and [p["status"] for p in site.posts] == ["publish"]


def test_a_scheduled_post_is_taken_back_when_the_announcement_is_cancelled(ahead_app, clock, site):
    due = START + timedelta(hours=3)
    ann = approved(ahead_app, channels=WP, at=due)
    dispatch(ahead_app, clock, due - timedelta(minutes=50))
    with write_session(ahead_app.engine) as session:
        count = announcements.cancel(session, ann=announcements.get(session, ann.id), actor="hung",
                                     reason="sai ngày", now=clock.now())
    [d] = all_deliveries(ahead_app)
    assert count == 1 and d.state == S.RETRACTING
    real_delete = requests.Session.delete
    answers = iter([503])

    def flaky(self, url, **kw):  # the site is busy the first time
        status = next(answers, None)
        if status is not None:
            response = requests.Response()
            response.status_code, response._content = status, b"<html>busy</html>"
            return response
        return real_delete(self, url, **kw)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(requests.Session, "delete", flaky)
        dispatch(ahead_app, clock, due - timedelta(minutes=49))
        [d] = all_deliveries(ahead_app)
        assert d.state == S.RETRACTING and site.posts[0]["status"] == "future"
        report = dispatch(ahead_app, clock, d.next_attempt_at)
    [d] = all_deliveries(ahead_app)
    assert report.retracted == {S.CANCELLED: 1} and d.state == S.CANCELLED
    assert site.posts[0]["status"] == "trash" and len(site.posts) == 1
    dispatch(ahead_app, clock, due + timedelta(minutes=5))  # its time passes: nothing goes out
    assert all_deliveries(ahead_app)[0].state == S.CANCELLED and site.posts[0]["status"] == "trash"
    with read_session(ahead_app.engine) as session:
        kinds = [(a.kind, a.outcome) for a in session.exec(select(Attempt).order_by(Attempt.id))]
    assert kinds == [("send", "sent"), ("retract", "retract:retryable"), ("retract", "retract:sent")]
    assert d.last_error and "đã gỡ bài hẹn giờ" in d.last_error


def test_an_approval_voided_while_the_post_was_being_scheduled_takes_it_back(ahead_app, clock, site):
    due = START + timedelta(hours=3)
    ann = approved(ahead_app, channels=WP, at=due)
    wp = ahead_app.channels["muong-la-wordpress"]
    real_post = wp._post

    def edited_meanwhile(route, body, auth):  # staff edit the text while the request is on its way
        response = real_post(route, body, auth)
        if route == "posts":
            with write_session(ahead_app.engine) as session:
                announcements.edit(session, config=ahead_app.config, ann=announcements.get(session, ann.id),
                                   draft=Draft(body="Nội dung đã sửa.", changed=["body"]), actor="lan", now=clock.now())
        return response

    wp._post = edited_meanwhile
    dispatch(ahead_app, clock, due - timedelta(minutes=30))
    [d] = all_deliveries(ahead_app)
    assert d.state == S.RETRACTING and "không còn được phê duyệt" in d.last_error
    dispatch(ahead_app, clock, due - timedelta(minutes=29))
    assert all_deliveries(ahead_app)[0].state == S.CANCELLED and site.posts[0]["status"] == "trash"
