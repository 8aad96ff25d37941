"""The Facebook Page channel against a local fake of the Graph API (tests/fakes/facebook.py), through
the real dispatcher on both databases: success, each error class, rate limits from the usage
header, an expired token holding the channel, a timeout after Facebook stored the post, length
limits in Vietnamese and Tai Viet, markup in the title, and a token that never shows."""

from __future__ import annotations

import io
import json
import logging
import re
import time
from datetime import timedelta

import pytest
from PIL import Image
from sqlmodel import select

from channels import build_channel
from channels.base import Outcome
from scheduler import announcements
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Attempt, ServiceState
from scheduler.record.models import DeliveryState as S
from tests import contract
from tests.cli import invoke as run  # in process: these test the command, not the entry point
from tests.conftest import START
from tests.fakes.facebook import FakeGraph
from tests.helpers import all_deliveries, approved, dispatch, make_app, set_channel
from tests.posts import post

PAGE, TOKEN, SECRET = "100000000000001", "EAAGtokenVALUE0123456789abcdef", "app-secret-value-42"
FB = ["muong-la-facebook"]
TAI_VIET = "ꪁꪫꪱꪣ ꪼꪕ ꪹꪏꪉ ꪀꪱꪙ"  # Tai Viet script, as Thái is written in Sơn La


FB_TOKEN, FB_SECRET, FB_PAGE = "EAAGcontractPageToken0001", "contract-fb-secret-0001", "100000000000001"
CONTRACT = contract.Contract(
    "facebook", lambda url: {"page_id": FB_PAGE, "token_env": "CONTRACT_FB_TOKEN",
                             "app_secret_env": "CONTRACT_FB_SECRET", "graph_url": url, "timeout_seconds": 1},
    lambda: FakeGraph(FB_PAGE, FB_TOKEN, app_secret=FB_SECRET),
    secrets={"CONTRACT_FB_TOKEN": FB_TOKEN, "CONTRACT_FB_SECRET": FB_SECRET})
test_each_answer_of_the_platform_gets_its_outcome_and_no_secret_shows = contract.cases(CONTRACT)



@pytest.fixture
def graph():
    fake = FakeGraph(PAGE, TOKEN, app_secret=SECRET)
    yield fake
    fake.close()


@pytest.fixture
def fb(config_dir, settings, clock, graph, monkeypatch):
    """The app with the Facebook channel live against the fake, its secrets in the environment."""
    set_channel(config_dir, "muong-la-facebook", mode="live", graph_url=f'"{graph.url}"', max_chars="600")
    monkeypatch.setenv("CCHC_FB_MUONG_LA_TOKEN", TOKEN)
    monkeypatch.setenv("CCHC_FB_APP_SECRET", SECRET)
    app = make_app(settings, clock)
    yield app
    app.engine.dispose()


def page_channel(graph, tmp_path, monkeypatch, **settings):
    """The channel alone, with its token and app secret in the environment."""
    monkeypatch.setenv("FB_TOKEN", TOKEN)
    monkeypatch.setenv("FB_SECRET", SECRET)
    return build_channel("fb", "facebook", {"page_id": PAGE, "token_env": "FB_TOKEN", "app_secret_env": "FB_SECRET",
                                            "graph_url": graph.url, **settings}, data_dir=tmp_path)


def test_a_post_reaches_the_page_with_its_link_tags_and_reference(fb, clock, graph):
    at = START + timedelta(hours=1)
    ann = approved(fb, channels=["muong-la-website", *FB], at=at, title="Lịch tiếp công dân tháng 9/2025")
    dispatch(fb, clock, at + timedelta(minutes=1))
    [website, page] = sorted(all_deliveries(fb), key=lambda d: d.channel_id != "muong-la-website")
    assert website.state == page.state == S.DELIVERED
    [stored] = graph.posts
    assert page.remote_id == stored["id"] and page.remote_url == f"https://www.facebook.com/{PAGE}/posts/1000"
    assert stored["message"].startswith("Lịch tiếp công dân tháng 9/2025\n\nUBND xã Mường La")
    assert f"[{page.ref_code}]" in stored["message"] and "#CCHC #MuongLa" in stored["message"]
    assert stored["link"] == website.remote_url  # the website went first: the post links to the article
    request = [r for r in graph.requests if r["method"] == "POST"][0]
    assert TOKEN not in request["path"] and request["fields"]["access_token"] == TOKEN
    assert len(request["fields"]["appsecret_proof"]) == 64
    assert ann.ref_code in page.ref_code


@pytest.mark.parametrize(("step", "outcome", "state"), [
    # a refused token holds the channel; the delivery waits with the others for the new one
    (("error", 190, 463, "Error validating access token: Session has expired"), Outcome.NEEDS_REAUTH, S.RETRY_WAIT),
    (("error", 200, None, "(#200) Requires pages_manage_posts permission"), Outcome.NEEDS_REAUTH, S.RETRY_WAIT),
    (("error", 4, None, "(#4) Application request limit reached"), Outcome.RATE_LIMITED, S.RETRY_WAIT),
    (("error", 17, None, "(#17) User request limit reached"), Outcome.RATE_LIMITED, S.RETRY_WAIT),
    (("error", 32, None, "(#32) Page request limit reached"), Outcome.RATE_LIMITED, S.RETRY_WAIT),
    (("error", 613, 1996, "Calls to this api have exceeded the rate limit."), Outcome.RATE_LIMITED, S.RETRY_WAIT),
    (("error", 80001, None, "(#80001) There have been too many calls to this Page account."),
     Outcome.RATE_LIMITED, S.RETRY_WAIT),
    (("error", 368, None, "(#368) The action attempted has been deemed abusive"), Outcome.PERMANENT, S.FAILED),
    (("error", 1, None, "An unknown error occurred"), Outcome.RETRYABLE, S.RETRY_WAIT),
    (("error", 2, None, "Service temporarily unavailable"), Outcome.RETRYABLE, S.RETRY_WAIT),
    (("error", 100, None, "(#100) Invalid parameter"), Outcome.PERMANENT, S.FAILED),
    (("error", 506, None, "(#506) Duplicate status message"), Outcome.UNKNOWN, S.NEEDS_RECONCILE),
    (("http", 502, "<html>Bad Gateway</html>"), Outcome.UNKNOWN, S.NEEDS_RECONCILE),
])
def test_each_graph_error_gets_its_outcome(fb, clock, graph, step, outcome, state):
    at = START + timedelta(hours=1)
    approved(fb, channels=FB, at=at)
    graph.script = [step]
    dispatch(fb, clock, at)
    [d] = all_deliveries(fb)
    assert d.state == state
    with read_session(fb.engine) as session:
        attempt = session.exec(select(Attempt)).one()
    assert attempt.outcome == outcome
    if step[0] == "error":
        assert attempt.error_code == str(step[1]) and f"#{step[1]}" in attempt.message
    assert graph.posts == []


def test_a_rate_limit_waits_for_the_time_graph_gives_in_its_usage_header(fb, clock, graph):
    at = START + timedelta(hours=1)
    approved(fb, channels=FB, at=at)
    graph.usage = {"call_count": 100, "total_cputime": 20, "total_time": 30, "estimated_time_to_regain_access": 17}
    graph.script = [("error", 32, None, "(#32) Page request limit reached")]
    dispatch(fb, clock, at)
    [d] = all_deliveries(fb)
    assert d.state == S.RETRY_WAIT and d.next_attempt_at == at + timedelta(minutes=17)
    assert dispatch(fb, clock, at + timedelta(minutes=16)).sent == {}  # not before
    dispatch(fb, clock, at + timedelta(minutes=17))
    assert all_deliveries(fb)[0].state == S.DELIVERED and len(graph.posts) == 1


def test_an_expired_token_holds_the_channel_until_a_check_passes(fb, clock, graph, settings, monkeypatch):
    at = START + timedelta(hours=1)
    approved(fb, channels=FB, at=at, title="Tin thứ nhất")
    approved(fb, channels=FB, at=at + timedelta(minutes=5), title="Tin thứ hai")
    graph.token = "a-new-token-the-office-has-not-set-yet"  # the old one expired on Facebook's side
    dispatcher = fb.dispatcher()  # one instance for every pass, as a long-running worker keeps it
    clock.moment = at + timedelta(minutes=10)
    dispatcher.run_once()
    first, second = all_deliveries(fb)
    assert first.state == S.RETRY_WAIT and "đặt lại biến CCHC_FB_MUONG_LA_TOKEN" in first.last_error  # it waits
    assert second.state == S.PENDING  # held, not tried on the same token
    assert sum(r["method"] == "POST" for r in graph.requests) == 1
    with read_session(fb.engine) as session:
        assert session.get(ServiceState, "reauth:muong-la-facebook") is not None
    env = {"CCHC_FB_MUONG_LA_TOKEN": TOKEN, "CCHC_FB_APP_SECRET": SECRET}
    still = run(settings, "channel", "check", "muong-la-facebook", extra_env=env)
    assert still.returncode == 1 and "không còn hiệu lực" in still.stdout and "tạm dừng" in still.stdout
    graph.token = TOKEN  # the office sets the new token
    fixed = run(settings, "channel", "check", "muong-la-facebook", extra_env=env)
    assert fixed.returncode == 0 and "mở lại" in fixed.stdout
    clock.moment = at + timedelta(minutes=20)
    dispatcher.run_once()
    assert [d.state for d in all_deliveries(fb)] == [S.DELIVERED, S.DELIVERED] and len(graph.posts) == 2


def test_a_timeout_after_facebook_stored_the_post_never_makes_a_second(fb, clock, graph):
    at = START + timedelta(hours=1)
    approved(fb, channels=FB, at=at)
    graph.script = [("store-then-drop",)]
    dispatch(fb, clock, at)
    [d] = all_deliveries(fb)
    assert d.state == S.NEEDS_RECONCILE and len(graph.posts) == 1
    dispatch(fb, clock, d.next_attempt_at)
    [d] = all_deliveries(fb)
    assert d.state == S.DELIVERED and d.remote_id == graph.posts[0]["id"]
    assert len(graph.posts) == 1 and sum(r["method"] == "POST" for r in graph.requests) == 1


@pytest.mark.parametrize("script", ["vi", "blt"])
def test_long_text_is_cut_to_the_limit_with_the_reference_kept(graph, tmp_path, script, monkeypatch):
    channel = page_channel(graph, tmp_path, monkeypatch, max_chars=300)
    word = "Thủ tục hành chính" if script == "vi" else TAI_VIET
    exact = post(title="Tiêu đề", body=(word + " ") * 3)
    assert channel.send(exact).outcome == Outcome.SENT
    assert graph.posts[-1]["message"].count(word) == 3  # short enough: nothing cut
    long = post(title="Tiêu đề dài", body=(word + " ") * 200, ref="ML-2025-0002.1")
    assert channel.send(long).outcome == Outcome.SENT
    message = graph.posts[-1]["message"]
    assert len(message) <= 300 and "…" in message and message.endswith("[ML-2025-0002.1]")


def test_markup_in_the_title_is_dropped_not_posted(graph, tmp_path, monkeypatch):
    channel = page_channel(graph, tmp_path, monkeypatch)
    channel.send(post(title='Thông báo <script>alert("x")</script><b>mới</b>', body="Nội dung <img src=x>"))
    message = graph.posts[-1]["message"]
    assert "<" not in message and message.startswith('Thông báo alert("x")mới')


def test_the_token_appears_in_no_log_or_stored_message_even_at_debug(fb, clock, graph, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "requests"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    at = START + timedelta(hours=1)
    approved(fb, channels=FB, at=at)
    graph.script = [("error", 190, 467, f"Malformed access token {TOKEN}")]  # Graph echoing the token
    dispatch(fb, clock, at)
    for record in caplog.records:
        assert TOKEN not in record.getMessage()
    with read_session(fb.engine) as session:
        stored = [a.message for a in session.exec(select(Attempt))] + [d.last_error for d in all_deliveries(fb)]
        stored += [s.value for s in session.exec(select(ServiceState))]
    assert stored and all(TOKEN not in (text or "") for text in stored)
    assert any("[REDACTED]" in (text or "") for text in stored)


def test_channel_check_says_what_is_wrong_with_the_token(graph, tmp_path, monkeypatch):
    channel = page_channel(graph, tmp_path, monkeypatch, expiry_warning_days=7)
    assert channel.check() == []
    graph.token_info.update(scopes=["pages_show_list"], expires_at=int(time.time()) + 2 * 86400)
    problems = channel.check()
    assert any("pages_manage_posts" in p for p in problems) and any("còn 2.0 ngày" in p for p in problems)
    graph.token_info.update(type="USER")
    assert any("không phải mã truy cập Trang" in p for p in channel.check())
    graph.token_info.update(type="PAGE", profile_id="999")
    assert any("Trang 999" in p for p in channel.check())
    monkeypatch.delenv("FB_TOKEN")
    assert channel.check() == ["chưa đặt biến môi trường FB_TOKEN: hãy đặt mã truy cập Trang "
                               "(Page access token) vào biến đó"]


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_preview_shows_the_exact_request_with_the_token_masked(settings, monkeypatch):
    assert run(settings, "init").returncode == 0
    made = run(settings, "queue", "--user", "lan", "--title", "Tin <b>mới</b>", "--body", "Nội dung tin.",
               "--channel", "mxh", "--at", "2030-01-01 08:00")
    shown = run(settings, "preview", made.stdout.strip(), "--channel", "muong-la-facebook",
                extra_env={"CCHC_FB_MUONG_LA_TOKEN": TOKEN})
    assert shown.returncode == 0, shown.stderr
    request = json.loads(shown.stdout)
    assert request["url"].endswith(f"/{PAGE}/feed") and request["body"]["message"].startswith("Tin mới")
    assert TOKEN not in shown.stdout and request["body"]["access_token"] == "E***f"
    assert "Độ dài:" in shown.stderr


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_preview_file_is_the_request_a_live_send_would_make_link_included(app, clock, settings, monkeypatch):
    """The Page is in preview mode (config/channels.toml); its item is on the website first. The file the
    dispatcher writes carries the article's link and the "Xem đầy đủ" line, as cchc preview shows it."""
    monkeypatch.setenv("CCHC_FB_MUONG_LA_TOKEN", TOKEN)
    at = START + timedelta(hours=1)
    ann = approved(app, channels=["muong-la-website", *FB], at=at, title="Lịch tiếp công dân tháng 9")
    dispatch(app, clock, at)
    dispatch(app, clock, at + timedelta(minutes=1))  # the social post waits for its article, then goes
    [written] = (settings.data_dir / "outbox" / "muong-la-facebook").glob("*.json")
    request = json.loads(written.read_text(encoding="utf-8"))
    assert request["body"]["link"].startswith("http") and "Xem đầy đủ: http" in request["body"]["message"]
    shown = run(settings, "preview", str(ann.id), "--channel", "muong-la-facebook",
                extra_env={"CCHC_FB_MUONG_LA_TOKEN": TOKEN})
    assert shown.returncode == 0, shown.stderr
    previewed = json.loads(shown.stdout)  # the same request but for the reference: the delivery's is numbered
    for body in (previewed["body"], request["body"]):
        body["message"] = re.sub(r"\[ML-2025-\d+(\.\d+)?\]", "[mã]", body["message"])
    assert previewed == request


def test_a_photo_post_carries_the_title_card_and_the_text_as_caption(fb, clock, graph, config_dir, settings):
    set_channel(config_dir, "muong-la-facebook", photo="true")
    app = make_app(settings, clock)
    at = START + timedelta(hours=1)
    approved(app, channels=FB, at=at, title='Lịch tiếp công dân <b>tháng 9</b>')
    dispatch(app, clock, at)
    [d] = all_deliveries(app)
    [stored] = graph.posts
    assert d.state == S.DELIVERED and d.remote_id == stored["id"]  # the post id, not the photo's own id
    assert stored["message"].startswith("Lịch tiếp công dân tháng 9\n\n") and f"[{d.ref_code}]" in stored["message"]
    assert stored["photo"][:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(stored["photo"])) as card:
        assert card.size == (1080, 1080)
    request = [r for r in graph.requests if r["method"] == "POST"][0]
    assert request["path"].endswith(f"/{PAGE}/photos") and request["fields"]["access_token"] == TOKEN
    graph.script = [("store-then-drop",)]
    approved(app, channels=FB, at=at + timedelta(hours=1), title="Tin thứ hai")
    dispatch(app, clock, at + timedelta(hours=1))
    second = all_deliveries(app)[-1]
    dispatch(app, clock, second.next_attempt_at)  # found among the Page's posts by its reference
    assert all_deliveries(app)[-1].state == S.DELIVERED and len(graph.posts) == 2
    app.engine.dispose()


@pytest.fixture
def fb_ahead(config_dir, settings, clock, graph, monkeypatch):
    """The Facebook channel live, handing posts to Facebook two hours ahead; Facebook keeps test time."""
    set_channel(config_dir, "muong-la-facebook", mode="live", send_ahead_minutes=120, graph_url=f'"{graph.url}"')
    monkeypatch.setenv("CCHC_FB_MUONG_LA_TOKEN", TOKEN)
    monkeypatch.setenv("CCHC_FB_APP_SECRET", SECRET)
    graph.now = lambda: clock.now().timestamp()
    app = make_app(settings, clock)
    yield app
    app.engine.dispose()


def test_a_post_sent_ahead_waits_in_scheduled_posts_and_is_deleted_when_cancelled(
        fb_ahead, clock, graph, tmp_path, monkeypatch):
    due = START + timedelta(hours=3)
    ann = approved(fb_ahead, channels=FB, at=due)
    dispatch(fb_ahead, clock, due - timedelta(minutes=110))
    [sent] = [r["fields"] for r in graph.requests if r["method"] == "POST"]
    assert sent["published"] == "false" and sent["scheduled_publish_time"] == str(int(due.timestamp()))
    [d] = all_deliveries(fb_ahead)
    assert d.state == S.SCHEDULED and d.remote_id == graph.posts[0]["id"]
    channel = page_channel(graph, tmp_path, monkeypatch)
    for edge, shown in (("feed", []), ("scheduled_posts", [d.remote_id])):  # not on the Page yet
        answer = channel._session.get(f"{graph.url}/v21.0/{PAGE}/{edge}", params=channel._proof(TOKEN),
                                      headers={"Authorization": f"Bearer {TOKEN}"}).json()
        assert [item["id"] for item in answer["data"]] == shown
    with write_session(fb_ahead.engine) as session:
        announcements.cancel(session, ann=announcements.get(session, ann.id), actor="hung", reason="đổi lịch",
                             now=clock.now())
    report = dispatch(fb_ahead, clock, due - timedelta(minutes=100))
    assert report.retracted == {S.CANCELLED: 1} and all_deliveries(fb_ahead)[0].state == S.CANCELLED
    assert graph.posts == [] and [r["method"] for r in graph.requests][-1] == "DELETE"
    assert channel.retract(post(), d.remote_id).outcome == Outcome.SENT  # already gone: nothing to do


def test_a_timeout_while_scheduling_is_settled_from_the_scheduled_posts(fb_ahead, clock, graph):
    due = START + timedelta(hours=3)
    approved(fb_ahead, channels=FB, at=due)
    graph.script = [("store-then-drop",)]
    dispatch(fb_ahead, clock, due - timedelta(minutes=110))
    [d] = all_deliveries(fb_ahead)
    assert d.state == S.NEEDS_RECONCILE
    dispatch(fb_ahead, clock, d.next_attempt_at)
    [d] = all_deliveries(fb_ahead)
    assert d.state == S.SCHEDULED and d.remote_id == graph.posts[0]["id"]
    assert any(r["path"].endswith("/scheduled_posts") for r in graph.requests)
    dispatch(fb_ahead, clock, due)
    [d] = all_deliveries(fb_ahead)
    assert d.state == S.DELIVERED and len(graph.posts) == 1
    assert sum(r["method"] == "POST" for r in graph.requests) == 1
