"""Dispatch against a scripted channel that fails in each way, on both databases."""

import socket
from datetime import timedelta

from sqlmodel import col, select

from channels.base import Found, Outcome, Receipt, Reconciled
from scheduler import announcements
from scheduler.announcements import Draft
from scheduler.outbox.dispatch import Dispatcher
from scheduler.outbox.states import RetryPolicy
from scheduler.record.db import database_now, read_session, write_session
from scheduler.record.models import Attempt, Delivery
from scheduler.record.models import DeliveryState as S
from tests.helpers import ScriptedChannel, approved

POLICY = RetryPolicy(base_seconds=60, cap_seconds=600, max_attempts=3, reconcile_delay_seconds=30)


def dispatcher(app, channel, **kw):
    return Dispatcher(app.engine, {channel.name: channel}, {}, now=app.now, policy=POLICY, **kw)


def lease_ran_out(app) -> None:
    """Every lease ended a day ago on the database's clock (as if a worker had been stuck that long)."""
    from sqlalchemy import update

    with write_session(app.engine) as session:
        session.execute(update(Delivery).values(lease_until=database_now(session) - timedelta(days=1)))


def only_delivery(app):
    with read_session(app.engine) as session:
        return session.exec(select(Delivery)).one()


def attempts(app):
    with read_session(app.engine) as session:
        return session.exec(select(Attempt).order_by(Attempt.id)).all()


def test_nothing_is_sent_before_it_is_due(app, clock):
    approved(app)
    channel = ScriptedChannel()
    dispatcher(app, channel).run_once()
    assert channel.sent == [] and only_delivery(app).state == S.PENDING
    clock.advance(timedelta(hours=1))
    dispatcher(app, channel).run_once()
    d = only_delivery(app)
    assert (d.state, d.remote_id, len(channel.sent)) == (S.DELIVERED, f"r-{d.ref_code}", 1)
    assert channel.sent[0].body.startswith("UBND xã Mường La")


def test_retryable_failures_back_off_then_fail_with_every_attempt_recorded(app, clock):
    approved(app)
    clock.advance(timedelta(hours=1))
    channel = ScriptedChannel(receipts=[Receipt(Outcome.RETRYABLE, message="không kết nối được")] * 3)
    worker = dispatcher(app, channel)
    worker.run_once()
    d = only_delivery(app)
    assert d.state == S.RETRY_WAIT and timedelta(seconds=30) <= d.next_attempt_at - app.now() <= timedelta(seconds=60)
    worker.run_once()  # not due yet
    assert len(channel.sent) == 1
    for _ in range(2):
        clock.advance(timedelta(minutes=10))
        worker.run_once()
    d = only_delivery(app)
    assert d.state == S.FAILED and "3 lần" in d.last_error and len(channel.sent) == 3
    assert [a.outcome for a in attempts(app)] == ["retryable"] * 3


def test_rate_limit_honours_retry_after(app, clock):
    approved(app)
    clock.advance(timedelta(hours=1))
    channel = ScriptedChannel(receipts=[Receipt(Outcome.RATE_LIMITED, retry_after=900, http_status=429)])
    worker = dispatcher(app, channel)
    worker.run_once()
    clock.advance(timedelta(seconds=899))
    worker.run_once()
    assert len(channel.sent) == 1
    clock.advance(timedelta(seconds=1))
    worker.run_once()
    assert len(channel.sent) == 2 and only_delivery(app).state == S.DELIVERED
    assert attempts(app)[0].http_status == 429


def test_permanent_failures_stop_with_the_platform_message(app, clock):
    outcome, words = Outcome.PERMANENT, "nội dung bị từ chối"
    approved(app)
    clock.advance(timedelta(hours=1))
    channel = ScriptedChannel(receipts=[Receipt(outcome, message="nội dung bị từ chối", http_status=400)])
    dispatcher(app, channel).run_once()
    clock.advance(timedelta(hours=5))
    dispatcher(app, channel).run_once()
    d = only_delivery(app)
    assert d.state == S.FAILED and words in d.last_error and len(channel.sent) == 1


def test_unknown_outcome_is_reconciled_not_resent(app, clock):
    approved(app)
    clock.advance(timedelta(hours=1))
    channel = ScriptedChannel(receipts=[Receipt(Outcome.UNKNOWN, message="read timeout")],
                              reconciles=[Reconciled(Found.UNKNOWN), Reconciled(Found.PRESENT, "fb-9", "u")])
    worker = dispatcher(app, channel)
    worker.run_once()
    assert only_delivery(app).state == S.NEEDS_RECONCILE
    for _ in range(3):
        clock.advance(timedelta(minutes=10))
        worker.run_once()
    d = only_delivery(app)
    assert (d.state, d.remote_id, len(channel.sent), len(channel.asked)) == (S.DELIVERED, "fb-9", 1, 2)
    assert [a.kind for a in attempts(app)] == ["send", "reconcile", "reconcile"]


def test_reconcile_absent_sends_exactly_once_more(app, clock):
    approved(app)
    clock.advance(timedelta(hours=1))
    channel = ScriptedChannel(receipts=[Receipt(Outcome.UNKNOWN)], reconciles=[Reconciled(Found.ABSENT)])
    worker = dispatcher(app, channel)
    worker.run_once()
    clock.advance(timedelta(minutes=1))
    worker.run_once()  # the platform has nothing: sent again after a backoff, not at once
    assert len(channel.sent) == 1 and only_delivery(app).state == S.RETRY_WAIT
    clock.advance(timedelta(minutes=2))
    worker.run_once()
    assert len(channel.sent) == 2 and only_delivery(app).state == S.DELIVERED


def test_due_items_past_expiry_are_expired_never_sent_late(app, clock):
    approved(app)
    clock.advance(timedelta(hours=1, minutes=1441))  # past the website's 24 h grace
    channel = ScriptedChannel()
    report = dispatcher(app, channel).run_once()
    d = only_delivery(app)
    assert (report.expired, d.state, channel.sent) == (1, S.EXPIRED, [])
    assert "không gửi muộn" in d.last_error


def test_content_changed_after_approval_is_never_sent(app, clock):
    ann = approved(app)
    clock.advance(timedelta(hours=1))
    with write_session(app.engine) as session:
        # Simulate a bug that changed the text without voiding the approval.
        row = announcements.get(session, ann.id)
        row.body = "Nội dung bị thay đổi lén."
    channel = ScriptedChannel()
    dispatcher(app, channel).run_once()
    d = only_delivery(app)
    assert channel.sent == [] and d.state == S.CANCELLED and "thay đổi" in d.last_error


def test_edit_after_approval_means_nothing_goes_out(app, clock):
    ann = approved(app)
    with write_session(app.engine) as session:
        announcements.edit(session, config=app.config, ann=announcements.get(session, ann.id),
                           draft=Draft(title="Tiêu đề mới"), actor="lan", now=app.now())
    clock.advance(timedelta(hours=1))
    channel = ScriptedChannel()
    dispatcher(app, channel).run_once()
    assert channel.sent == [] and only_delivery(app).state == S.CANCELLED


def test_stale_worker_cannot_overwrite_a_newer_attempt(app, clock):
    """Fencing: a result is written only by the holder of the current attempt id."""
    approved(app)
    clock.advance(timedelta(hours=1))
    slow = dispatcher(app, ScriptedChannel(), worker="elsewhere:2")
    claim = slow._claim_sends()[0]
    lease_ran_out(app)  # by the database's clock, and its margin too
    rescuer = dispatcher(app, ScriptedChannel(reconciles=[Reconciled(Found.PRESENT, "x-1", "u")]),
                         worker="elsewhere:1")
    assert rescuer.rescue_abandoned() == 1
    rescuer.run_once()
    slow._send_one(claim)  # the slow worker finally reports, with its old attempt id
    d = only_delivery(app)
    assert (d.state, d.remote_id) == (S.DELIVERED, "x-1")
    assert any("đến muộn" in (a.message or "") for a in attempts(app))


def test_abandoned_send_of_a_dead_local_process_is_reconciled_at_once(app, clock):
    approved(app)
    clock.advance(timedelta(hours=1))
    dead = dispatcher(app, ScriptedChannel(), worker=f"{socket.gethostname()}:999999")
    dead._claim_sends()
    channel = ScriptedChannel(reconciles=[Reconciled(Found.PRESENT, "w-1", "u")])
    report = dispatcher(app, channel).run_once()
    assert report.rescued == 1 and channel.sent == [] and only_delivery(app).state == S.DELIVERED
    interrupted = [a for a in attempts(app) if a.outcome == "interrupted"]
    assert len(interrupted) == 1


def test_a_channel_that_raises_does_not_stop_the_others_and_is_reconciled(app, clock):
    approved(app, channels=["muong-la-website", "muong-la-webhook"])
    clock.advance(timedelta(hours=1))

    def explode(post):
        raise RuntimeError("bug")

    broken = ScriptedChannel("muong-la-webhook", receipts=[explode])
    fine = ScriptedChannel("muong-la-website")
    Dispatcher(app.engine, {"muong-la-website": fine, "muong-la-webhook": broken}, {}, now=app.now,
               policy=POLICY).run_once()
    with read_session(app.engine) as session:
        states = {d.channel_id: d.state for d in session.exec(select(Delivery))}
    assert states == {"muong-la-website": S.DELIVERED, "muong-la-webhook": S.NEEDS_RECONCILE}


def test_emergency_items_are_sent_before_older_normal_ones(app, clock):
    approved(app, at=app.now() + timedelta(minutes=5), title="Tin thường")
    approved(app, next_slot=True, priority="emergency", title="Tin khẩn")
    clock.advance(timedelta(minutes=10))
    channel = ScriptedChannel()
    dispatcher(app, channel).run_once()
    assert [p.title for p in channel.sent] == ["Tin khẩn", "Tin thường"]


def test_a_slow_platform_gets_its_sends_in_flight_at_once_and_one_complaint_narrows_them(app, clock):
    """Waves: one send, then two, then up to ``in_flight`` at once while the platform answers well;
    a 429 brings the channel back to one (and holds it), so a limited platform never gets a volley."""
    import threading
    import time

    for n in range(12):
        approved(app, at=app.now() + timedelta(minutes=30 + n), title=f"Tin {n}")
    clock.advance(timedelta(hours=1))
    lock, flying, peaks = threading.Lock(), [0], []

    def slow(post):
        with lock:
            flying[0] += 1
            peaks.append(flying[0])
        time.sleep(0.05)
        with lock:
            flying[0] -= 1
        return Receipt(Outcome.SENT, remote_id=f"r-{post.ref_code}")

    channel = ScriptedChannel(receipts=[slow] * 12)
    report = dispatcher(app, channel, in_flight={channel.name: 4}).run_once()
    assert report.sent == {S.DELIVERED: 12} and len(channel.sent) == 12
    assert peaks[0] == 1 and max(peaks) == 4  # started alone, then four at once, never more

    for n in range(6):
        approved(app, at=app.now() + timedelta(minutes=30 + n), title=f"Tin sau {n}")
    clock.advance(timedelta(hours=1))
    limited = Receipt(Outcome.RATE_LIMITED, retry_after=600, http_status=429, message="429")
    channel = ScriptedChannel(receipts=[Receipt(Outcome.SENT, remote_id="a"), limited,
                                        Receipt(Outcome.SENT, remote_id="b")])
    report = dispatcher(app, channel, in_flight={channel.name: 4}).run_once()
    # a wave of 1, then of 2 that meets the limit: the channel waits, the other 3 are not tried
    assert len(channel.sent) == 3 and report.sent == {S.DELIVERED: 2, S.RETRY_WAIT: 1}
    with read_session(app.engine) as session:
        left = session.exec(select(Delivery).where(Delivery.state == S.PENDING)).all()
        opened = session.exec(select(Attempt).where(col(Attempt.delivery_id).in_([d.id for d in left]))).all()
    # claimed with the others, but their request never left: back to pending, no attempt on record
    assert len(left) == 3 and {d.attempt_count for d in left} == {0} and opened == []
    assert {d.lease_until for d in left} == {None}


def test_a_claim_sends_nothing_after_half_its_lease(app, clock):
    """A claim holds several waves; a wave that would start after half the lease does not, and its
    rows go back to pending untried (another worker may rescue them after the lease, so a request
    leaving then could be the second)."""
    import time

    for n in range(4):
        approved(app, at=app.now() + timedelta(minutes=30 + n), title=f"Tin {n}")
    clock.advance(timedelta(hours=1))
    started = []

    def slow(post):  # longer than half the lease: a claim's second wave would start too late
        started.append(time.monotonic())
        time.sleep(1.7)
        return Receipt(Outcome.SENT, remote_id=f"r-{post.ref_code}")

    channel = ScriptedChannel(receipts=[slow] * 4)
    # 1.5 s for the first wave to start after the claim: room on a loaded machine (0.5 s failed once in CI)
    short = Dispatcher(app.engine, {channel.name: channel}, {}, now=app.now, in_flight={channel.name: 1},
                       policy=RetryPolicy(lease_seconds=3.0))
    report = short.run_once()
    assert report.sent == {S.DELIVERED: 1} and len(started) == 1
    with read_session(app.engine) as session:
        states = sorted((d.state, d.attempt_count, d.lease_until) for d in session.exec(select(Delivery)))
    assert [(state, count) for state, count, _ in states] == [(S.DELIVERED, 1)] + [(S.PENDING, 0)] * 3
    assert {lease for _, _, lease in states[1:]} == {None} and len(attempts(app)) == 1
    short.run_once()  # the next pass goes on where it stopped
    assert len(started) == 2


def test_one_after_the_other_no_send_starts_after_half_the_lease(app, clock):
    """A platform that answers in a millisecond gets its wave one request after the other; when it
    turns slow within the wave, the wave stops at the claim's time limit like the claim does, and the
    rest is released untried."""
    import time

    for n in range(8):
        approved(app, at=app.now() + timedelta(minutes=30 + n), title=f"Tin {n}")
    clock.advance(timedelta(hours=1))
    started = []

    def quick(post):
        started.append(time.monotonic())
        return Receipt(Outcome.SENT, remote_id=f"r-{post.ref_code}")

    def slow(post):
        started.append(time.monotonic())
        time.sleep(0.6)
        return Receipt(Outcome.SENT, remote_id=f"r-{post.ref_code}")

    channel = ScriptedChannel(receipts=[quick] * 3 + [slow] * 5)
    worker = Dispatcher(app.engine, {channel.name: channel}, {}, now=app.now, in_flight={channel.name: 4},
                        policy=RetryPolicy(lease_seconds=2.0))
    began = time.monotonic()
    report = worker.run_once()
    # waves of 1, 2 (quick), then 4 one after the other: two start before the limit (1 s), two do not
    assert len(started) == 5 and report.sent == {S.DELIVERED: 5}, [round(t - began, 2) for t in started]
    assert all(at - began < 1.1 for at in started)
    with read_session(app.engine) as session:
        left = session.exec(select(Delivery).where(Delivery.state == S.PENDING)).all()
    assert len(left) == 3 and {d.attempt_count for d in left} == {0}
