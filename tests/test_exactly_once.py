"""Exactly once under every timing: two services whose clocks differ and whose sends are slow, a
Retry-After of 0, a ten-minute outage, a Page at its rate limit, reconcile past the first page, and
deliveries only a person can settle."""

from __future__ import annotations

import subprocess
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from channels.base import Found, Outcome, Receipt, Reconciled
from scheduler.clock import Clock, show
from scheduler.outbox.dispatch import Dispatcher
from scheduler.outbox.holds import holds
from scheduler.outbox.states import RetryPolicy
from scheduler.record.db import read_session
from scheduler.record.models import Attempt, AuditEvent
from scheduler.record.models import DeliveryState as S
from tests.cli import CCHC, environment, invoke, run
from tests.conftest import START
from tests.fakes.webhook import FakeReceiver
from tests.helpers import ScriptedChannel, all_deliveries, approved, make_app, set_channel

HOOK = "muong-la-webhook"


class Platform(ScriptedChannel):
    """A scripted platform whose answers follow a function of time, counting every request."""

    def __init__(self, send, reconcile=lambda post: Reconciled(Found.UNKNOWN)):
        super().__init__(HOOK)
        self.on_send, self.on_reconcile = send, reconcile

    def send(self, post):
        self.sent.append(post)
        return self.on_send(post)

    def reconcile(self, post, remote_id):
        self.asked.append(post)
        return self.on_reconcile(post)


def worker(app, channel, policy=None):
    return Dispatcher(app.engine, {HOOK: channel}, {}, now=app.now, policy=policy or RetryPolicy())


def test_a_retry_after_of_zero_never_makes_a_storm(app, clock):
    for n in range(3):
        approved(app, channels=[HOOK], at=START + timedelta(minutes=10 + n), title=f"Tin {n}")
    clock.moment = START + timedelta(minutes=15)
    limited = Platform(lambda post: Receipt(Outcome.RATE_LIMITED, retry_after=0, http_status=429, message="429"))
    policy = RetryPolicy(max_attempts=4)
    report = worker(app, limited, policy).run_once()
    assert len(limited.sent) == 1 and report.sent == {S.RETRY_WAIT: 1}  # the channel then waits: 1 call, not 3
    assert {d.state for d in all_deliveries(app)} == {S.RETRY_WAIT, S.PENDING}
    first = all_deliveries(app)[0]
    assert first.next_attempt_at - clock.now() >= timedelta(seconds=policy.min_retry_seconds)
    worker(app, limited, policy).run_once()  # the same moment: nothing is due, the channel waits
    assert len(limited.sent) == 1
    for _ in range(20):
        clock.advance(timedelta(seconds=31))
        worker(app, limited, policy).run_once()
    per_delivery = {}
    for post in limited.sent:
        per_delivery[post.ref_code] = per_delivery.get(post.ref_code, 0) + 1
    assert max(per_delivery.values()) <= policy.max_attempts  # each retry counted toward the limit
    assert S.FAILED in {d.state for d in all_deliveries(app)}


def test_a_node_whose_clock_runs_ahead_still_waits_the_floor_before_sending_again(app, clock):
    """A retry's wait is written on the deciding node's clock; a node five minutes ahead would find it
    already due and send at once. The wait also holds the row on the database's clock."""
    approved(app, channels=[HOOK], at=START + timedelta(minutes=10))
    clock.moment = START + timedelta(minutes=10)
    failing = Platform(lambda post: Receipt(Outcome.RETRYABLE, http_status=503, message="503"))
    on_time = Dispatcher(app.engine, {HOOK: failing}, {}, now=app.now, cool_down=True)
    assert on_time.run_once().sent == {S.RETRY_WAIT: 1}
    ahead = Platform(lambda post: Receipt(Outcome.SENT, remote_id="x"))
    skewed = Dispatcher(app.engine, {HOOK: ahead}, {}, now=lambda: app.now() + timedelta(minutes=5))
    skewed.run_once()
    assert ahead.sent == []  # its clock says the retry is due; the database's says not yet
    with app.engine.begin() as conn:  # the database's clock passes the wait
        conn.execute(sa.text("UPDATE delivery SET lease_until = :t"), {"t": datetime(2000, 1, 1)})
    skewed.run_once()
    assert len(ahead.sent) == 1 and {d.state for d in all_deliveries(app)} == {S.DELIVERED}


def test_a_ten_minute_outage_is_ridden_out_without_failing_or_hammering(app, clock):
    for n in range(5):
        approved(app, channels=[HOOK], at=START + timedelta(minutes=5), title=f"Tin {n}")
    outage_ends = START + timedelta(minutes=15)
    stored: list[str] = []

    def send(post):
        if clock.now() < outage_ends:
            return Receipt(Outcome.UNKNOWN, http_status=500, message="lỗi máy chủ (500)")
        stored.append(post.ref_code)
        return Receipt(Outcome.SENT, remote_id=f"r-{post.ref_code}")

    def reconcile(post):
        if clock.now() < outage_ends:
            return Reconciled(Found.UNKNOWN, message="lỗi máy chủ (500)")
        return Reconciled(Found.PRESENT, f"r-{post.ref_code}") if post.ref_code in stored else Reconciled(Found.ABSENT)

    platform = Platform(send, reconcile)
    service = worker(app, platform)
    clock.moment = START + timedelta(minutes=5)
    seen_hold = False
    while clock.now() < START + timedelta(hours=2) and len(stored) < 5:
        service.run_once()
        with read_session(app.engine) as session:
            seen_hold = seen_hold or any("nền tảng đang lỗi" in h.reason for h in holds(session, clock.now()))
        clock.advance(timedelta(seconds=15))
    sends_in_outage = len(platform.sent) - len(stored)
    assert seen_hold  # staff see "nền tảng đang lỗi"
    assert sends_in_outage <= 5  # the breaker held the channel: not one try a minute per item (50 before)
    assert sorted(stored) == sorted({d.ref_code for d in all_deliveries(app)})  # each went out once, after
    assert {d.state for d in all_deliveries(app)} == {S.DELIVERED}


def test_a_page_at_its_rate_limit_makes_no_calls_until_it_may(fb, clock, graph):
    at = START + timedelta(hours=1)
    for n in range(3):
        approved(fb, channels=["muong-la-facebook"], at=at, title=f"Tin {n}")
    graph.usage = {"call_count": 100, "total_cputime": 20, "total_time": 30, "estimated_time_to_regain_access": 5}
    clock.moment = at
    fb.dispatcher().run_once()
    posts = [r for r in graph.requests if r["method"] == "POST"]
    assert len(posts) == 1 and len(graph.posts) == 1  # the answer said: stop calling
    graph.usage = {"call_count": 40, "total_cputime": 20, "total_time": 30, "estimated_time_to_regain_access": 0}
    clock.moment = at + timedelta(minutes=4)
    fb.dispatcher().run_once()
    assert len([r for r in graph.requests if r["method"] == "POST"]) == 1  # not even once a pass
    clock.moment = at + timedelta(minutes=5, seconds=1)
    fb.dispatcher().run_once()
    assert len(graph.posts) == 3 and {d.state for d in all_deliveries(fb)} == {S.DELIVERED}


def test_reconcile_looks_back_past_the_first_page_on_facebook(fb, clock, graph, config_dir):
    at = START + timedelta(hours=1)
    for n in range(12):
        approved(fb, channels=["muong-la-facebook"], at=at, title=f"Tin số {n}", body=f"Nội dung riêng của tin {n}.")
    graph.script = [("store-then-drop",)]  # the first post is stored, its answer lost
    service = fb.dispatcher()
    clock.moment = at
    service.run_once()
    assert len(graph.posts) == 12
    fb.channels["muong-la-facebook"].settings.reconcile_posts = 5  # a page of five: the lost one is on page 3
    clock.advance(timedelta(minutes=1))
    service.run_once()
    assert len(graph.posts) == 12 and {d.state for d in all_deliveries(fb)} == {S.DELIVERED}


def test_reconcile_looks_back_past_the_first_page_on_zalo(za, clock, zalo):
    from tests.test_zalo import ZA

    at = START + timedelta(hours=1)
    for n in range(12):
        approved(za, channels=ZA, at=at, title=f"Tin số {n}", body=f"Nội dung riêng của tin {n}.")
    zalo.script = [("store-then-drop",)]
    clock.moment = at
    za.dispatcher().run_once()
    assert len(zalo.articles) == 12
    clock.advance(timedelta(minutes=1))
    za.dispatcher().run_once()  # the lost one is the oldest: past the ten newest of getslice
    assert len(zalo.articles) == 12 and {d.state for d in all_deliveries(za)} == {S.DELIVERED}


@pytest.fixture
def za(config_dir, settings, clock, monkeypatch):
    from channels.tokens import Tokens
    from scheduler.record.credentials import KEY_ENV
    from tests.fakes.zalo import FakeZalo
    from tests.test_zalo import APP_ID, APP_SECRET, FIRST_REFRESH, KEY, live

    fake = FakeZalo(APP_ID, APP_SECRET, FIRST_REFRESH)
    live(config_dir, fake)
    monkeypatch.setenv(KEY_ENV, KEY)
    monkeypatch.setenv("CCHC_ZALO_SECRET_KEY", APP_SECRET)
    app = make_app(settings, clock)
    app.channels["muong-la-zalo"].tokens.save(Tokens("", FIRST_REFRESH))
    app.zalo = fake
    yield app
    app.engine.dispose()
    fake.close()


@pytest.fixture
def zalo(za):
    return za.zalo


@pytest.fixture
def fb(config_dir, settings, clock, monkeypatch):
    from tests.fakes.facebook import FakeGraph
    from tests.test_facebook import PAGE, SECRET, TOKEN

    fake = FakeGraph(PAGE, TOKEN, app_secret=SECRET)
    set_channel(config_dir, "muong-la-facebook", mode="live", graph_url=f'"{fake.url}"')
    monkeypatch.setenv("CCHC_FB_MUONG_LA_TOKEN", TOKEN)
    monkeypatch.setenv("CCHC_FB_APP_SECRET", SECRET)
    app = make_app(settings, clock)
    app.graph = fake
    yield app
    app.engine.dispose()
    fake.close()


@pytest.fixture
def graph(fb):
    return fb.graph


def test_what_no_platform_can_answer_is_settled_by_a_person_from_the_web_or_the_cli(staff, clock):
    from tests.web import logged_in

    first = approved(staff, channels=[HOOK], at=START + timedelta(hours=1), title="Tin một")
    second = approved(staff, channels=[HOOK], at=START + timedelta(hours=1), title="Tin hai")
    mute = Platform(lambda post: Receipt(Outcome.UNKNOWN, message="mất kết nối sau khi gửi"))
    clock.moment = START + timedelta(hours=1)
    service = worker(staff, mute)
    service.run_once()
    clock.moment = START + timedelta(hours=1, minutes=721)  # past the webhook's 12-hour grace
    service.run_once()
    assert {d.state for d in all_deliveries(staff)} == {S.NEEDS_PERSON}
    hung, csrf = logged_in(staff, "hung")
    page = hung.get("/").text
    assert "Cần người xác nhận" in page and "Xác nhận đã đăng" in page
    one, two = all_deliveries(staff)
    answer = hung.post(f"/deliveries/{one.id}/settle", data={"csrf": csrf, "posted": "1",
                                                             "url": "https://hook.example/tin-mot"})
    assert answer.status_code == 303
    done = invoke(staff.settings, "settle", two.ref_code, "--not-posted", "--user", "hung")
    assert done.returncode == 0 and "quá hạn" in done.stdout
    one, two = all_deliveries(staff)
    assert (one.state, one.remote_url, two.state) == (S.DELIVERED, "https://hook.example/tin-mot", S.EXPIRED)
    refused = invoke(staff.settings, "settle", str(one.id), "--not-posted", "--user", "hung")
    assert refused.returncode == 1 and "chỉ xác nhận được" in refused.stderr
    editor = invoke(staff.settings, "settle", str(two.id), "--posted", "https://x.vn/a", "--user", "lan")
    assert editor.returncode == 2
    with read_session(staff.engine) as session:
        settled = session.exec(select(AuditEvent).where(AuditEvent.action == "settle")).all()
    assert [(e.actor, e.detail["posted"]) for e in settled] == [("hung", True), ("hung", False)]
    assert (first.id, second.id) == (1, 2)


def test_a_reconcile_killed_half_way_does_not_park_its_delivery_for_the_whole_lease(app, clock):
    import socket

    approved(app, channels=[HOOK], at=START + timedelta(hours=1))
    clock.moment = START + timedelta(hours=1)
    worker(app, Platform(lambda post: Receipt(Outcome.UNKNOWN))).run_once()
    clock.advance(timedelta(minutes=1))
    dead = Dispatcher(app.engine, {HOOK: Platform(lambda post: None)}, {}, now=app.now,
                      worker=f"{socket.gethostname()}:999999")
    assert dead._claim("reconcile")  # then the process was killed
    found = Platform(lambda post: Receipt(Outcome.SENT), lambda post: Reconciled(Found.PRESENT, "r-1"))
    clock.advance(timedelta(seconds=5))
    worker(app, found).run_once()  # at once, not a lease later
    assert [d.state for d in all_deliveries(app)] == [S.DELIVERED] and len(found.asked) == 1


@pytest.mark.slow
def test_two_services_with_clocks_six_minutes_apart_and_slow_sends_post_each_item_once(settings, config_dir,
                                                                                        tmp_path):
    """The fault: a service whose clock ran ahead took the other's claimed rows for abandoned while they
    were still being sent, and both sent them. Leases now run on the database's clock."""
    receiver = FakeReceiver()
    receiver.delay = 1.5  # every post takes a second and a half before the platform stores it
    receiver.token = "ma-webhook-hai-dich-vu"
    set_channel(config_dir, HOOK, mode="live", url=f'"{receiver.url}"', reconcile_url=f'"{receiver.url}"',
                timeout_seconds="30")
    assert run(settings, "init", "--practice").returncode == 0
    app = make_app(settings, Clock())
    due = datetime.now(UTC) + timedelta(seconds=4)
    for n in range(12):
        approved(app, channels=[HOOK], at=due, title=f"Tin {n}", body=f"Nội dung {n}.")
    env = environment(settings) | {"CCHC_TICK_SECONDS": "0.5", "CCHC_WEBHOOK_TOKEN": receiver.token}
    logs = [(tmp_path / f"service-{n}.log").open("w+") for n in (1, 2)]  # a pipe nobody reads fills, and stops it
    services = [subprocess.Popen([CCHC, "run"], env=env, stdout=subprocess.DEVNULL, stderr=logs[0])]
    engine = sa.create_engine(settings.url)
    try:
        started = time.monotonic() + 30
        while not receiver.requests and time.monotonic() < started:  # the first service is sending
            time.sleep(0.1)
        ahead = show(datetime.now(UTC) + timedelta(minutes=6))  # the second's clock runs six minutes ahead
        services.append(subprocess.Popen([CCHC, "run", "--now", ahead], env=env, stdout=subprocess.DEVNULL,
                                         stderr=logs[1]))
        deadline = time.monotonic() + 60
        states: list[str] = []
        while time.monotonic() < deadline:
            time.sleep(1)
            with engine.connect() as conn:
                states = [row[0] for row in conn.execute(sa.text("SELECT state FROM delivery"))]
            if states and all(state == "delivered" for state in states):
                break
    finally:
        for service in services:
            service.terminate()
        for service, written in zip(services, logs, strict=False):
            service.wait(30)
            written.seek(0)
            assert service.returncode == 0, written.read()[-3000:]
        for written in logs:
            written.close()
        engine.dispose()
        receiver.close()
    posts = {}
    for request in receiver.requests:
        posts[request["json"]["ref"]] = posts.get(request["json"]["ref"], 0) + 1
    assert states == ["delivered"] * 12, states
    assert sorted(posts.values()) == [1] * 12, posts  # not one item posted twice
    with read_session(app.engine) as session:
        workers = {a.attempt_id for a in session.exec(select(Attempt))}
    assert len(workers) >= 12
    app.engine.dispose()


class Shared(Platform):
    """The platform both nodes post to: it keeps every post, and reconcile finds a post by its reference."""

    def __init__(self, store: list[str]):
        self.store = store
        super().__init__(self._keep, lambda post: Reconciled(Found.PRESENT, f"r-{post.ref_code}")
                         if post.ref_code in self.store else Reconciled(Found.ABSENT))

    def _keep(self, post):
        self.store.append(post.ref_code)
        return Receipt(Outcome.SENT, remote_id=f"r-{post.ref_code}")


class Sleep:
    """The database's clock as the nodes read it. ``sleep()`` moves it past the lease and the rescue margin:
    what the database sees while a node is suspended, whose own monotonic clock stands still meanwhile."""

    def __init__(self, monkeypatch, app, policy: RetryPolicy):
        from scheduler.outbox import dispatch
        from scheduler.record.db import database_clock

        self.gone, self.policy, self.real = timedelta(0), policy, database_clock(app.engine)
        real_now = dispatch.database_now
        monkeypatch.setattr(dispatch, "database_now", lambda session: real_now(session) + self.gone)

    def clock(self):
        return self.real() + self.gone

    def sleep(self) -> None:
        self.gone += timedelta(seconds=self.policy.lease_seconds + self.policy.rescue_margin_seconds + 600)

    def node(self, app, channel, name: str) -> Dispatcher:
        node = Dispatcher(app.engine, {HOOK: channel}, {}, now=app.now, worker=f"{name}:1", policy=self.policy)
        node.database_clock = self.clock
        return node


def due_posts(app, clock, monkeypatch, count: int) -> tuple[list[str], Sleep]:
    """``count`` posts due now on the shared platform (empty), and the database's clock to sleep with."""
    for n in range(count):
        approved(app, channels=[HOOK], at=START + timedelta(minutes=10), title=f"Tin {n}")
    clock.moment = START + timedelta(minutes=10)
    return [], Sleep(monkeypatch, app, RetryPolicy())


def until_all_stored(app, clock, node, store, count) -> None:
    for _ in range(40):
        if len(set(store)) == count:
            return
        node.run_once()
        clock.advance(timedelta(minutes=1))


def test_a_node_that_sleeps_right_after_its_claim_posts_nothing_twice(app, clock, monkeypatch):
    """Node A claims 8 due posts and is suspended before any request leaves; node B rescues them (after the
    lease and the margin, on the database's clock), finds them absent and posts them; A wakes believing its
    claim is a moment old. It must send none of them (a monotonic clock does not count a suspend)."""
    store, database = due_posts(app, clock, monkeypatch, 8)
    node_a = database.node(app, Shared(store), "node-a")
    node_a.window = {HOOK: 4}
    node_a.took = {HOOK: 1.0}  # a platform answering slowly: the waves go out in parallel
    claims = node_a._claim_sends()
    assert len(claims) == 8
    database.sleep()  # A is suspended here
    until_all_stored(app, clock, database.node(app, Shared(store), "node-b"), store, 8)
    assert sorted(store) == sorted({d.ref_code for d in all_deliveries(app)})
    node_a._send_claimed(claims)  # A wakes up
    assert len(store) == 8, f"{len(store) - 8} posts stored twice"
    assert {d.state for d in all_deliveries(app)} == {S.DELIVERED}


def test_a_node_that_sleeps_between_two_requests_of_a_wave_sends_no_more_of_it(app, clock, monkeypatch):
    """Requests sent one after the other (a platform answering in milliseconds): A is suspended right after
    its third post left; B takes the claim over meanwhile. A, awake, must not send the fourth."""
    store, database = due_posts(app, clock, monkeypatch, 8)
    node_b = database.node(app, Shared(store), "node-b")

    def keep_then_sleep(post):
        store.append(post.ref_code)
        if len(store) == 3:  # A is suspended as this request returns; B works meanwhile
            database.sleep()
            until_all_stored(app, clock, node_b, store, 8)
        return Receipt(Outcome.SENT, remote_id=f"r-{post.ref_code}")

    node_a = database.node(app, Platform(keep_then_sleep), "node-a")
    node_a.window = {HOOK: 8}
    node_a.took = {HOOK: 0.001}  # a quick platform: one request after the other
    node_a._send_claimed(node_a._claim_sends())
    assert sorted(store) == sorted({d.ref_code for d in all_deliveries(app)}), "a post stored twice or never"
    assert {d.state for d in all_deliveries(app)} == {S.DELIVERED}


def test_a_node_that_slept_with_nobody_to_take_over_releases_its_claim_and_sends_it_later(app, clock, monkeypatch):
    """Alone, A sleeps past its lease: it sends nothing of the stale claim but gives the rows back at once,
    and its next pass sends each once."""
    store, database = due_posts(app, clock, monkeypatch, 3)
    node_a = database.node(app, Shared(store), "node-a")
    claims = node_a._claim_sends()
    database.sleep()
    node_a._send_claimed(claims)
    assert store == [] and {d.state for d in all_deliveries(app)} == {S.PENDING}
    node_a.run_once()
    assert sorted(store) == sorted({d.ref_code for d in all_deliveries(app)})
