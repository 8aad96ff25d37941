"""The Zalo OA channel against a local fake of the OA Open API (tests/fakes/zalo.py), through the
real dispatcher on both databases: article create → verify (with Zalo still processing), the
follower broadcast and its night ban, each error class sent with HTTP 200, renewal of the 25-hour
token with single-use refresh tokens kept sealed, one renewal at a time across processes, a timeout
after Zalo stored the article, the field limits in Vietnamese and Tai Viet, markup in the title, and
tokens that never show."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import select

from channels.base import Outcome
from channels.tokens import TokenProblem, Tokens
from scheduler.record.credentials import KEY_ENV, CredentialStore, new_key
from scheduler.record.db import read_session, write_session
from scheduler.record.models import Attempt, AuditEvent, Credential, ServiceState
from scheduler.record.models import DeliveryState as S
from tests import contract
from tests.cli import invoke as run  # in process: these test the command, not the entry point
from tests.conftest import START
from tests.fakes.zalo import FakeZalo
from tests.helpers import all_deliveries, approved, dispatch, make_app, set_channel

APP_ID, APP_SECRET, FIRST_REFRESH = "1234567890123456789", "zalo-app-secret-77", "zref-0-FirstFromPortal"
ZA = ["muong-la-zalo"]
TAI_VIET = "ꪁꪫꪱꪣ ꪼꪕ ꪹꪏꪉ ꪀꪱꪙ"
KEY = new_key()



def zalo_for_contract() -> FakeZalo:
    fake = FakeZalo("1234567890123456789", "contract-zalo-secret-0001", contract.REFRESH)
    fake.access_tokens.add(contract.ACCESS)
    return fake


CONTRACT = contract.Contract(
    "zalo", lambda url: {"app_id": "1234567890123456789", "secret_key_env": "CONTRACT_ZALO_SECRET", "api_url": url,
                         "oauth_url": url, "cover_url": "https://example.org/bia.jpg", "verify_wait_seconds": 0,
                         "timeout_seconds": 1},
    zalo_for_contract, secrets={"CONTRACT_ZALO_SECRET": "contract-zalo-secret-0001"})
test_each_answer_of_the_platform_gets_its_outcome_and_no_secret_shows = contract.cases(CONTRACT)



@pytest.fixture
def zalo():
    fake = FakeZalo(APP_ID, APP_SECRET, FIRST_REFRESH)
    yield fake
    fake.close()


def live(config_dir, zalo, **settings) -> None:
    values = {"api_url": f'"{zalo.url}"', "oauth_url": f'"{zalo.url}"', "verify_wait_seconds": "0", **settings}
    set_channel(config_dir, "muong-la-zalo", mode="live", **values)


@pytest.fixture
def za(config_dir, settings, clock, zalo, monkeypatch):
    """The app with the Zalo channel live against the fake and the portal's first refresh token stored."""
    live(config_dir, zalo)
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("CCHC_ZALO_SECRET_KEY", APP_SECRET)
    app = make_app(settings, clock)
    app.channels["muong-la-zalo"].tokens.save(Tokens("", FIRST_REFRESH))
    yield app
    app.engine.dispose()


def test_an_item_becomes_an_oa_article_with_its_link_and_reference(za, clock, zalo):
    at = START + timedelta(hours=1)
    approved(za, channels=["muong-la-website", *ZA], at=at, title="Lịch tiếp công dân tháng 9/2025",
             body="UBND xã Mường La thông báo lịch tiếp công dân.\n\nNgười dân mang theo căn cước.")
    dispatch(za, clock, at)
    [website, article] = sorted(all_deliveries(za), key=lambda d: d.channel_id != "muong-la-website")
    assert website.state == article.state == S.DELIVERED
    [stored] = zalo.articles
    assert article.remote_id == stored["id"] and stored["verified"] and stored["status"] == "show"
    assert stored["title"] == "Lịch tiếp công dân tháng 9/2025" and stored["author"] == "UBND xã Mường La"
    assert stored["description"] == "UBND xã Mường La thông báo lịch tiếp công dân."
    texts = [block["content"] for block in stored["body"]]
    assert texts[1] == "Người dân mang theo căn cước." and website.remote_url in texts[2]
    assert texts[-1] == f"Mã tin: [{article.ref_code}]"
    calls = [r for r in zalo.requests if r["path"].startswith("/v2.0/")]
    assert all(r["headers"]["access_token"] == "zacc-1-Xy7pQ" and "zacc" not in r["path"] for r in calls)
    assert zalo.broadcasts == []  # broadcast is off in the sample configuration


def test_an_article_zalo_is_still_processing_is_followed_up_not_created_again(za, clock, zalo):
    at = START + timedelta(hours=1)
    approved(za, channels=ZA, at=at)
    zalo.processing_polls = 4  # more than the three polls of one send
    dispatch(za, clock, at)
    [d] = all_deliveries(za)
    assert d.state == S.NEEDS_RECONCILE and d.remote_id == "token:tok-1"
    dispatch(za, clock, d.next_attempt_at)
    [d] = all_deliveries(za)
    assert d.state == S.DELIVERED and d.remote_id == zalo.articles[0]["id"] and len(zalo.articles) == 1


def test_the_create_token_is_kept_even_if_the_process_dies_before_verify(za, clock, zalo, monkeypatch):
    at = START + timedelta(hours=1)
    approved(za, channels=ZA, at=at)
    channel = za.channels["muong-la-zalo"]
    monkeypatch.setattr(channel, "_after_create", lambda post, token: (_ for _ in ()).throw(SystemExit(9)))
    clock.moment = at
    with pytest.raises(SystemExit):
        za.dispatcher().run_once()  # the process is killed between create and verify
    [d] = all_deliveries(za)
    assert d.state == S.SENDING and d.remote_id == "token:tok-1"


@pytest.mark.parametrize(("error", "outcome", "state", "words"), [
    ((-32, "Your OA reached limit call api"), Outcome.RATE_LIMITED, S.RETRY_WAIT, "giới hạn"),
    ((-211, "Out of quota"), Outcome.RATE_LIMITED, S.RETRY_WAIT, "hạn mức"),
    ((-223, "Your OA has reach the limit quota create article"), Outcome.RATE_LIMITED, S.RETRY_WAIT, "hạn mức"),
    ((-223, "OA has not authorized this API"), Outcome.NEEDS_REAUTH, S.RETRY_WAIT, "quyền"),
    ((-209, "Not supported this api"), Outcome.NEEDS_REAUTH, S.RETRY_WAIT, "gói dịch vụ"),
    ((-201, "title is invalid!"), Outcome.PERMANENT, S.FAILED, "bị từ chối"),
    ((-248, "Violates our platform standards"), Outcome.PERMANENT, S.FAILED, "vi phạm"),
])
def test_each_zalo_error_sent_with_http_200_gets_its_outcome(za, clock, zalo, error, outcome, state, words):
    at = START + timedelta(hours=1)
    approved(za, channels=ZA, at=at)
    zalo.script = [("error", *error)]
    dispatch(za, clock, at)
    [d] = all_deliveries(za)
    assert d.state == state and words in d.last_error and zalo.articles == []
    with read_session(za.engine) as session:
        attempt = session.exec(select(Attempt)).one()
        held = session.get(ServiceState, "reauth:muong-la-zalo")
    assert attempt.outcome == outcome and attempt.error_code == str(error[0]) and f"Zalo {error[0]}" in attempt.message
    assert (held is not None) == (outcome == Outcome.NEEDS_REAUTH)


def test_a_rate_limit_waits_a_minute_and_a_server_error_is_reconciled(za, clock, zalo):
    at = START + timedelta(hours=1)
    approved(za, channels=ZA, at=at)
    zalo.script = [("error", -32, "Your application reached limit call api")]
    dispatch(za, clock, at)
    [d] = all_deliveries(za)
    assert d.state == S.RETRY_WAIT and d.next_attempt_at == at + timedelta(seconds=60)
    zalo.script = [("http", 502, "<html>Bad Gateway</html>")]
    dispatch(za, clock, d.next_attempt_at)
    [d] = all_deliveries(za)
    assert d.state == S.NEEDS_RECONCILE  # a 502 may hide a stored article: look, do not create again
    dispatch(za, clock, d.next_attempt_at)  # Zalo has none: safe to send again, after a backoff
    [d] = all_deliveries(za)
    assert d.state == S.RETRY_WAIT and zalo.articles == []
    dispatch(za, clock, d.next_attempt_at)
    [d] = all_deliveries(za)
    assert d.state == S.DELIVERED and len(zalo.articles) == 1
    with read_session(za.engine) as session:
        outcomes = [a.outcome for a in session.exec(select(Attempt).order_by(Attempt.id))]
    assert outcomes == ["rate_limited", "unknown", "reconcile:absent", "sent"]


def test_a_timeout_after_zalo_stored_the_article_never_makes_a_second(za, clock, zalo):
    at = START + timedelta(hours=1)
    approved(za, channels=ZA, at=at)
    zalo.script = [("store-then-drop",)]
    dispatch(za, clock, at)
    [d] = all_deliveries(za)
    assert d.state == S.NEEDS_RECONCILE and d.remote_id is None and len(zalo.articles) == 1
    dispatch(za, clock, d.next_attempt_at)
    [d] = all_deliveries(za)
    assert d.state == S.DELIVERED and d.remote_id == zalo.articles[0]["id"] and len(zalo.articles) == 1
    assert sum(r["path"] == "/v2.0/article/create" for r in zalo.requests) == 1


def test_the_token_is_renewed_when_due_and_when_zalo_refuses_it(za, clock, zalo):
    at = START + timedelta(hours=1)
    approved(za, channels=ZA, at=at, title="Tin thứ nhất")
    dispatch(za, clock, at)
    assert zalo.issued == 1 and FIRST_REFRESH not in zalo.refresh_tokens  # used once, then dead
    approved(za, channels=ZA, at=at + timedelta(hours=1), title="Tin thứ hai")
    zalo.expire_access()  # Zalo drops the token before its time: -216, renew, ask once more
    dispatch(za, clock, at + timedelta(hours=1))
    approved(za, channels=ZA, at=at + timedelta(hours=26), title="Tin thứ ba")
    dispatch(za, clock, at + timedelta(hours=26))  # 25 hours on: due, renewed before the call
    assert [d.state for d in all_deliveries(za)] == [S.DELIVERED] * 3 and len(zalo.articles) == 3
    creates = sum(r["path"] == "/v2.0/article/create" for r in zalo.requests)
    assert zalo.issued == 3 and creates == 4  # the one refused with -216 was asked once more
    with read_session(za.engine) as session:
        row = session.get(Credential, "muong-la-zalo")
    assert row.version == 4 and row.access_expires_at == at + timedelta(hours=26, seconds=90000)
    assert "zacc" not in row.sealed and "zref" not in row.sealed  # sealed, never clear text


def test_a_dead_refresh_token_holds_the_channel_and_says_how_to_fix_it(za, clock, zalo, settings):
    at = START + timedelta(hours=1)
    approved(za, channels=ZA, at=at)
    zalo.refresh_tokens = set()  # e.g. unused for three months
    dispatch(za, clock, at)
    [d] = all_deliveries(za)
    assert d.state == S.RETRY_WAIT and "cchc channel token muong-la-zalo" in d.last_error  # waits for a person
    with read_session(za.engine) as session:
        assert session.get(ServiceState, "reauth:muong-la-zalo") is not None


def test_one_renewal_at_a_time_between_two_workers(za, zalo):
    """Two workers find the token due at once: Zalo is asked once, both end with the new pair."""
    channel = za.channels["muong-la-zalo"]
    stores = [CredentialStore(za.engine, "muong-la-zalo", now=za.now) for _ in range(2)]
    seen = stores[0].load()
    zalo.refresh_delay = 0.5
    results: list = []

    def renew(store):
        try:
            results.append(store.renew(seen, channel.exchange))
        except TokenProblem as exc:
            results.append(exc.receipt.outcome)

    threads = [threading.Thread(target=renew, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert zalo.issued == 1
    tokens = [r for r in results if isinstance(r, Tokens)]
    assert tokens and all(t.access_token == "zacc-1-Xy7pQ" and t.version == seen.version + 1 for t in tokens)
    assert all(isinstance(r, Tokens) or r == Outcome.RETRYABLE for r in results)


def test_a_renewal_in_another_process_is_waited_for_not_repeated(za, clock, zalo):
    store = za.channels["muong-la-zalo"].tokens
    seen = store.load()
    with write_session(za.engine) as session:  # another process holds the lease
        session.get(Credential, "muong-la-zalo").refreshing_until = clock.moment + timedelta(seconds=60)
    with pytest.raises(TokenProblem) as caught:
        store.renew(seen, za.channels["muong-la-zalo"].exchange)
    assert caught.value.receipt.outcome == Outcome.RETRYABLE and zalo.issued == 0
    clock.moment += timedelta(seconds=61)  # that process died: its lease runs out
    assert store.renew(seen, za.channels["muong-la-zalo"].exchange).access_token == "zacc-1-Xy7pQ"


def test_a_lease_left_by_a_crashed_renewal_runs_out(za, clock, zalo):
    store = za.channels["muong-la-zalo"].tokens
    seen = store.load()
    with pytest.raises(RuntimeError):
        store.renew(seen, lambda current: (_ for _ in ()).throw(RuntimeError("killed")))
    fresh = store.renew(seen, za.channels["muong-la-zalo"].exchange)  # the lease was given back
    assert fresh.access_token == "zacc-1-Xy7pQ"


def test_the_follower_broadcast_waits_for_morning_and_goes_out_once(config_dir, settings, clock, zalo, monkeypatch):
    live(config_dir, zalo, broadcast="true")
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("CCHC_ZALO_SECRET_KEY", APP_SECRET)
    app = make_app(settings, clock)
    app.channels["muong-la-zalo"].tokens.save(Tokens("", FIRST_REFRESH))
    at = START + timedelta(hours=16)  # 23:00 in Vietnam, on the service's clock and on Zalo's
    approved(app, channels=ZA, at=at)
    zalo.now = lambda: datetime(2025, 9, 1, 23, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    dispatch(app, clock, at)
    [d] = all_deliveries(app)
    assert d.state == S.NEEDS_RECONCILE and d.remote_id == f"article:{zalo.articles[0]['id']}"
    assert "22 giờ" in d.last_error and zalo.broadcasts == []
    morning = datetime(2025, 9, 2, 6, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert d.next_attempt_at == morning  # the night's end on the service's clock, not the machine's
    zalo.now = lambda: datetime(2025, 9, 2, 7, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    dispatch(app, clock, d.next_attempt_at)
    [d] = all_deliveries(app)
    assert d.state == S.DELIVERED and d.remote_id == zalo.articles[0]["id"] and len(zalo.broadcasts) == 1
    [element] = zalo.broadcasts[0]["message"]["attachment"]["payload"]["elements"]
    assert element == {"media_type": "article", "attachment_id": zalo.articles[0]["id"]}
    assert len(zalo.articles) == 1
    app.engine.dispose()


@pytest.mark.parametrize("script", ["vi", "blt"])
def test_title_and_description_are_cut_to_zalos_limits(za, clock, zalo, script):
    word = "Thủ tục hành chính" if script == "vi" else TAI_VIET
    at = START + timedelta(hours=1)
    exact = word * (150 // len(word))
    approved(za, channels=ZA, at=at, title=exact, body=(word + " ") * 5)
    approved(za, channels=ZA, at=at, title=(word + " ") * 12, body=(word + " ") * 100)
    dispatch(za, clock, at)
    assert [d.state for d in all_deliveries(za)] == [S.DELIVERED, S.DELIVERED]
    first, second = zalo.articles
    assert first["title"] == exact and "…" not in first["description"]
    assert len(second["title"]) <= 150 and second["title"].endswith("…") and len(second["description"]) <= 300
    assert second["body"][0]["content"].count(word) == 100  # the article body itself is whole


def test_markup_in_the_title_is_dropped(za, clock, zalo):
    at = START + timedelta(hours=1)
    approved(za, channels=ZA, at=at, title='Thông báo <script>alert("x")</script><b>mới</b>',
             body="Nội dung <img src=x onerror=alert(1)> tin.")
    dispatch(za, clock, at)
    [article] = zalo.articles
    assert article["title"] == 'Thông báo alert("x")mới' and "<" not in str(article["body"])


def test_tokens_appear_in_no_log_or_stored_text_even_at_debug(za, clock, zalo, caplog):
    caplog.set_level(logging.DEBUG)
    for name in ("urllib3", "requests"):
        logging.getLogger(name).setLevel(logging.DEBUG)
    at = START + timedelta(hours=1)
    approved(za, channels=ZA, at=at)
    dispatch(za, clock, at)
    zalo.refresh_tokens = set()
    zalo.expire_access()
    approved(za, channels=ZA, at=at + timedelta(hours=1), title="Tin thứ hai")
    dispatch(za, clock, at + timedelta(hours=1))  # refused, renewal refused: every error path logs
    secrets = ["zacc-1-Xy7pQ", "zref-1-Lm3kW", FIRST_REFRESH, APP_SECRET, KEY]
    assert all(secret not in r.getMessage() for r in caplog.records for secret in secrets)
    with read_session(za.engine) as session:
        stored = [a.message for a in session.exec(select(Attempt))] + [d.last_error for d in all_deliveries(za)]
        stored += [s.value for s in session.exec(select(ServiceState))]
        stored += [c.sealed for c in session.exec(select(Credential))]
    assert all(secret not in (text or "") for text in stored for secret in secrets)


def test_channel_check_and_token_entry_from_the_command_line(za, settings, zalo, clock):
    env = {KEY_ENV: KEY, "CCHC_ZALO_SECRET_KEY": APP_SECRET}
    entered = run(settings, "channel", "token", "muong-la-zalo", "--refresh-token-stdin",
                  input_text=FIRST_REFRESH + "\n", extra_env=env)
    assert entered.returncode == 0, entered.stderr
    assert "Đã lưu mã (mã hoá)" in entered.stdout and FIRST_REFRESH not in entered.stdout + entered.stderr
    checked = run(settings, "channel", "check", "muong-la-zalo", extra_env=env)
    assert checked.returncode == 0 and "đều ổn" in checked.stdout, checked.stdout
    again = run(settings, "channel", "token", "muong-la-zalo", "--refresh-token-stdin",
                input_text=FIRST_REFRESH + "\n", extra_env=env)  # already used: Zalo refuses it
    assert again.returncode == 2 and "Invalid refresh token" in again.stderr  # input the platform refused
    no_key = run(settings, "channel", "token", "muong-la-zalo", "--refresh-token-stdin", input_text="x\n",
                 extra_env={"CCHC_ZALO_SECRET_KEY": APP_SECRET})
    assert no_key.returncode == 2 and "cchc channel key" in no_key.stderr
    website = run(settings, "channel", "token", "muong-la-website", "--refresh-token-stdin", input_text="x\n")
    assert website.returncode == 2 and "không dùng mã làm mới" in website.stderr
    key = run(settings, "channel", "key")
    assert key.returncode == 0 and len(key.stdout.strip()) == 44


def test_token_entry_and_connection_check_from_the_channel_s_page(za, zalo):
    from tests.web import add_staff, logged_in

    add_staff(za)
    hung, _ = logged_in(za, "hung")
    assert "Mã làm mới" not in hung.get("/channels/muong-la-zalo").text  # the unit's administrator enters it
    mai, csrf = logged_in(za, "mai")
    entered = mai.post("/channels/muong-la-zalo/token", data={"csrf": csrf, "token": FIRST_REFRESH})
    assert entered.status_code == 303, entered.text
    page = mai.get(entered.headers["location"]).text
    assert "Đã lưu mã (mã hoá)" in page and FIRST_REFRESH not in page
    checked = mai.get(mai.post("/channels/muong-la-zalo/check", data={"csrf": csrf}).headers["location"]).text
    assert "Kết nối tốt" in checked
    again = mai.post("/channels/muong-la-zalo/token", data={"csrf": csrf, "token": FIRST_REFRESH})  # used: refused
    assert again.status_code == 400 and "nền tảng không nhận" in again.text and FIRST_REFRESH not in again.text
    with read_session(za.engine) as session:
        events = [e for e in session.exec(select(AuditEvent)) if e.action == "channel-token"]
    assert [e.actor for e in events] == ["mai"] and FIRST_REFRESH not in str(events[0].detail)


def test_check_flags_a_refresh_token_near_the_end_of_its_three_months(za, clock, zalo):
    channel = za.channels["muong-la-zalo"]
    assert channel.check() == []
    clock.moment = START + timedelta(days=80)
    stored = channel.tokens.load()
    channel.tokens.save(Tokens(stored.access_token, stored.refresh_token, clock.moment + timedelta(hours=20),
                               START + timedelta(days=90)))
    [problem] = channel.check()
    assert "hết hạn sau 10 ngày" in problem and "cchc channel token muong-la-zalo" in problem


def test_the_service_keeps_the_token_fresh_between_posts(za, clock, zalo):
    from scheduler.service import refresh_tokens

    clock.moment = START
    assert refresh_tokens(za) == [] and zalo.issued == 1  # only the portal's refresh token: renewed
    assert refresh_tokens(za) == [] and zalo.issued == 1  # fresh: left alone
    clock.moment = START + timedelta(hours=24, minutes=30)  # within an hour of the 25-hour expiry
    assert refresh_tokens(za) == [] and zalo.issued == 2
    zalo.refresh_tokens = set()
    clock.moment += timedelta(hours=25)
    [problem] = refresh_tokens(za)
    assert problem.startswith("muong-la-zalo: Zalo không làm mới mã")


def test_a_reconcile_opens_only_the_articles_that_carry_the_posts_title(za, clock, zalo):
    """Zalo's list gives each article's title but not its text: opening every one to look for the
    reference costs one request per article (an OA with 600 articles spent 600 calls of its 4,000 a
    minute on one lost answer). Only articles with the post's title are opened; the title as Zalo
    shows it (escaped, spaced differently) still counts."""
    from channels.base import Found, Post

    channel = za.channels["muong-la-zalo"]
    for n in range(40):
        approved(za, channels=ZA, at=START + timedelta(minutes=n + 1), title=f"Tin khác số {n}")
    approved(za, channels=ZA, at=START + timedelta(minutes=50), title="Lịch tiếp dân & hỏi đáp",
             body="Bản trùng tên nhưng là tin khác.")
    dispatch(za, clock, START + timedelta(hours=1))
    assert len(zalo.articles) == 41
    [same] = [a for a in zalo.articles if a["title"].startswith("Lịch")]
    same["title"] = "Lịch  tiếp dân &amp; hỏi đáp"  # as Zalo may show it

    def post(ref: str) -> Post:
        return Post(delivery_id=999, ref_code=ref, announcement_id=999, lang="vi", title="Lịch tiếp dân & hỏi đáp",
                    body="Nội dung.", priority="normal", topics=[], due_at=clock.now(), unit_name="UBND xã Mường La",
                    sent_at=clock.now())

    def details() -> int:
        return sum(1 for r in zalo.requests if r["path"].endswith("/article/getdetail"))

    before = details()
    assert channel.reconcile(post("ML-2099-0001.1"), None).found == Found.ABSENT
    assert details() - before == 1  # the one article of that title, whose reference is another
    [lost] = [d for d in all_deliveries(za) if d.remote_id == same["id"]]
    found = channel.reconcile(post(lost.ref_code), None)
    assert found.found == Found.PRESENT and found.remote_id == same["id"]
    assert details() - before == 2


def test_a_reconcile_on_a_big_oa_stops_at_the_channels_own_article_from_before_the_send(za, clock, zalo):
    """Zalo lists no dates, so an OA of thousands of articles could never be read to its end: a lost
    create stayed "unknown" until a person settled it. The channel's own articles delivered before
    the first send mark how far back to look: the search stops at the first one it meets."""
    def foreign(n: int) -> dict:
        return {"id": f"f{n:05d}", "token": f"ftok-{n}", "polls": 0, "verified": True, "title": f"Bài khác {n}",
                "author": "Người khác", "description": "Tin khác.", "body": [], "status": "show", "cover": {},
                "link": f"https://zalo.me/article/f{n:05d}"}

    zalo.articles.extend(foreign(n) for n in range(2500))  # years of the OA's posts, older than ours
    for n in range(3):
        approved(za, channels=ZA, at=START + timedelta(minutes=n + 1), title=f"Tin cũ {n}")
    dispatch(za, clock, START + timedelta(minutes=5))
    assert {d.state for d in all_deliveries(za)} == {S.DELIVERED}
    later = START + timedelta(hours=2)
    zalo.articles.extend(foreign(3000 + n) for n in range(30))  # posted on Zalo by hand meanwhile
    approved(za, channels=ZA, at=later, title="Tin bị mất câu trả lời")
    zalo.script = [("http", 502, "<html>Bad Gateway</html>")]
    dispatch(za, clock, later)
    [lost] = [d for d in all_deliveries(za) if d.state != S.DELIVERED]
    assert lost.state == S.NEEDS_RECONCILE
    before = sum(1 for r in zalo.requests if r["path"].endswith("/article/getslice"))
    dispatch(za, clock, lost.next_attempt_at)
    [lost] = [d for d in all_deliveries(za) if d.ref_code == lost.ref_code]
    assert lost.state == S.RETRY_WAIT  # not there: safe to create, after a backoff
    assert sum(1 for r in zalo.requests if r["path"].endswith("/article/getslice")) - before == 4
