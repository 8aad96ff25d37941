"""Dispatch: the only code that calls ``Channel.send``.

One pass (``Dispatcher.run_once``) does, in order:

1. **expire** deliveries not yet started whose time is past: they are never sent late;
2. **rescue** deliveries left in ``sending`` by a worker that is gone: they go to ``needs_reconcile``,
   never back to ``pending``, because the post may already be out;
3. **reconcile** deliveries whose outcome is unknown, by asking the channel;
4. **publish** what platforms have published at its due time (``scheduled`` → ``delivered``), and
   **retract** posts scheduled on a platform whose approval was voided;
5. **claim** due deliveries and send each once. Channels with ``send_ahead_minutes`` get theirs that
   much ahead of the due time, for the platform to publish then.

The rules that keep a post from going out twice, whatever the timing:

- **Leases run on the database's clock** (``database_now``): the one clock every node shares, so a
  node whose own clock runs minutes ahead never reads another node's lease as over.
- **A claim is a start, and its sends leave within the lease or not at all.** One transaction takes
  the due rows no other worker holds (``SKIP LOCKED``; a few waves' worth a channel), marks them
  ``sending`` with this worker's attempt id and a fresh lease, and commits. Then they go out in
  *waves* of at most ``in_flight`` a channel, each wave's requests in parallel. A wave starts only
  within half the lease after the claim, and a channel that complains (anything but a plain
  success) sends nothing more from the claim: the rows whose request never left are *released*,
  back to the state they were claimed in, their attempt unwritten. So no request leaves after its
  lease, and a platform at its limit sees one wave, not the whole claim. All results of a claim
  are written together, in one transaction.
- **Held, on the database's clock, before every request leaves.** The machine's monotonic clock
  does not count a suspend (a desktop PC that sleeps, a paused VM), so it cannot say how old a
  claim is. Before each wave, and before each request of a wave sent one after the other, the
  database's clock must still be inside the claim's lease (``_still_held``; while the lease runs no
  other worker may take the row); a request whose lease is over is never sent. The rescue margin,
  longer than any request, is the room a request that starts within the lease has to finish.
- **Rescue waits for the lease plus a margin.** Another worker takes a ``sending`` row only once
  ``lease_until`` plus the rescue margin has passed on the database's clock (the margin is longer
  than any single request a channel makes; channels that make many, like uploads, renew the lease
  as they go), or at once when the owner is a dead process on this machine.
- **Fencing.** A result is written only while the row still carries the writer's attempt id.
- **One pass handles a delivery once**: every retry waits at least the policy's floor, and what a
  pass reconciled or retracted is not sent in the same pass.
- **A wait holds on the database's clock too.** A service on the machine's own clock writes each
  deferred result (a retry's backoff, a reconcile's delay) with a lease as long as the wait, so a
  node whose clock runs ahead cannot send it again early (``cool_down``; off for ``--now`` and test
  clocks, whose time is not the database's).

A channel that fails for every delivery (a platform outage) is held for a while instead of each
delivery burning its attempts (a circuit breaker); a platform that says the account is at its limit
(429, Facebook's usage headers) makes the whole channel wait; a refused token holds the channel
until a person renews it (``cchc channel check``). Staff see each hold and why (``holds``).

Beside this module: ``posts`` builds what a claim sends (and re-checks its approval), ``progress`` is what a
channel tells the outbox while a send runs, ``workers`` names this worker and asks whether another is alive.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, insert, or_
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from channels.base import Channel, Found, Outcome, Post, Receipt, Reconciled
from channels.http import describe
from channels.preview import preview_reconcile, preview_send
from channels.secrets import redact
from scheduler.clock import show_vn
from scheduler.outbox.deliveries import BulkUpdate, free, move, release_unsent, start_claims, write_results
from scheduler.outbox.holds import FAILURES_KEY, clear_failures, count_failure, held_channels, hold_channel, set_wait
from scheduler.outbox.posts import approval_problem, load_posts, website_links
from scheduler.outbox.states import (
    CLAIMABLE,
    Decision,
    RetryPolicy,
    after_reconcile,
    after_retract,
    after_send,
)
from scheduler.outbox.workers import owner_alive, worker_name
from scheduler.record.db import database_clock, database_now, read_session, write_session
from scheduler.record.models import Attempt, Delivery, ServiceState
from scheduler.record.models import DeliveryState as S

log = logging.getLogger("cchc.dispatch")


@dataclass
class PassReport:
    """What one pass did, for logs and ``cchc dispatch --once``."""

    expired: int = 0
    rescued: int = 0
    published: int = 0
    retracted: dict[str, int] = field(default_factory=dict)
    reconciled: dict[str, int] = field(default_factory=dict)
    sent: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        sent = ", ".join(f"{k}={v}" for k, v in sorted(self.sent.items())) or "0"
        rec = ", ".join(f"{k}={v}" for k, v in sorted(self.reconciled.items())) or "0"
        summary = f"sent: {sent}; reconciled: {rec}; expired: {self.expired}; rescued: {self.rescued}"
        if self.published or self.retracted:
            summary += f"; published by the platform: {self.published}; retracted: " + (
                ", ".join(f"{k}={v}" for k, v in sorted(self.retracted.items())) or "0")
        return summary

    def text(self) -> str:
        """The pass in Vietnamese, for staff at the command line (``summary`` is the log's)."""
        from scheduler.labels import DELIVERY_STATE

        def counted(found: dict[str, int]) -> str:
            return ", ".join(f"{DELIVERY_STATE[S(state)].lower()} {n}" for state, n in sorted(found.items())) or "0"

        text = (f"đã gửi: {counted(self.sent)}; kiểm tra lại trên nền tảng: {counted(self.reconciled)}; "
                f"quá hạn: {self.expired}; lấy lại từ tiến trình đã dừng: {self.rescued}")
        if self.published or self.retracted:
            text += f"; nền tảng tự đăng theo giờ hẹn: {self.published}; gỡ khỏi nền tảng: {counted(self.retracted)}"
        return text


@dataclass
class Claim:
    delivery_id: int
    attempt_id: str
    channel_id: str
    post: Post
    attempts: int
    reconciles: int
    expires_at: datetime
    remote_id: str | None
    was: str = S.PENDING  # the state it was claimed in: a send released unsent goes back to it
    lease_until: datetime | None = None  # the lease the claim took (database clock)
    started: float = 0.0  # monotonic time the send or reconcile began, for the attempt's duration
    claimed: float = 0.0  # monotonic time just before the claim's transaction began


@dataclass(frozen=True)
class Result:
    """What one claim came to, to be written by ``Dispatcher._write`` (with others of its wave)."""

    claim: Claim
    decision: Decision
    outcome: str
    message: str = ""
    http_status: int | None = None
    error_code: str | None = None
    preview: bool = False
    receipt: Receipt | None = None  # a send's receipt, for the channel's health


DEFAULT_IN_FLIGHT = 4
QUICK_SECONDS = 0.01  # a platform answering within this is sent to one request at a time
WAVES_A_CLAIM = 32  # a claim takes this many waves' worth of a quick channel's due rows, to spread its cost
WAVES_A_SLOW_CLAIM = 8  # and of a channel whose requests take longer than QUICK_SECONDS


class Dispatcher:
    """Moves due deliveries through the state machine. ``now`` comes from the injected clock (due
    times, retries, holds); leases come from the database's clock."""

    def __init__(
        self,
        engine: Engine,
        channels: dict[str, Channel],
        modes: dict[str, str],
        *,
        now: Callable[[], datetime],
        policy: RetryPolicy | None = None,
        rng: random.Random | None = None,
        worker: str | None = None,
        batch: int = 20,
        ahead: dict[str, timedelta] | None = None,
        in_flight: dict[str, int] | None = None,
        cool_down: bool = False,
    ):
        self.engine = engine
        # A wait this worker decides also holds the row on the database's clock (see the rules above).
        # Only on the machine's own clock: a --now or test clock is not the database's time.
        self.cool_down = cool_down
        self.channels = channels
        self.websites = [name for name, channel in channels.items() if channel.category == "website"]
        self.clean: set[str] = set()
        self.unit_names: dict[str, str] = {}  # units change only with the configuration: read once
        self.modes = modes
        self.now = now
        self.policy = policy or RetryPolicy()
        self.rng = rng or random.Random()
        self.worker = worker or worker_name()
        self.batch = batch
        self.ahead = ahead or {}  # channel -> how long before the due time its posts are sent
        # channel -> sends in flight at once (the wave's share of the channel)
        self.in_flight = {name: (in_flight or {}).get(name, DEFAULT_IN_FLIGHT) for name in channels}
        # Loudspeaker deliveries go out in slot programmes (scheduler.loudspeaker.broadcast), not one by one.
        self.slotted = sorted(name for name, channel in channels.items() if channel.slotted)
        self.lease = timedelta(seconds=self.policy.lease_seconds)
        # Longer than any single request of any channel: a live worker's send is never rescued.
        self.margin = timedelta(seconds=max([self.policy.rescue_margin_seconds,
                                             *(c.longest_request() + 60 for c in channels.values())]))
        self.held: set[str] = set()  # channels put on hold during the current pass
        self.checked: set[int] = set()  # deliveries this pass reconciled or retracted: not sent in it too
        self.window: dict[str, int] = {}  # sends a channel may have in flight now (see _send_wave)
        self.took: dict[str, float] = {}  # channel -> seconds its last requests took (see _send_wave)
        self._pool: ThreadPoolExecutor | None = None  # the wave's threads; they end with the dispatcher
        self.database_clock = database_clock(engine)  # read before every request (_still_held)

    def run_once(self) -> PassReport:
        report = PassReport()
        self.held, self.checked = set(), set()  # holds live in the database; these cover this pass only
        self.clean: set[str] = set()  # channels seen without a failure count this pass (no need to look again)
        self.window = dict.fromkeys(self.channels, 1)
        report.expired = self.expire_overdue()
        report.rescued = self.rescue_abandoned()
        for claim in self._claim("reconcile"):
            state = self._reconcile_one(claim)
            report.reconciled[state] = report.reconciled.get(state, 0) + 1
        report.published = self.publish_scheduled()
        for claim in self._claim("retract"):
            state = self._retract_one(claim)
            report.retracted[state] = report.retracted.get(state, 0) + 1
        while claims := self._claim_sends():
            for state in self._send_claimed(claims):
                report.sent[state] = report.sent.get(state, 0) + 1
        return report

    # -- sweeps -------------------------------------------------------------------------------

    def expire_overdue(self) -> int:
        now = self.now()
        with write_session(self.engine) as session:
            rows = session.exec(select(Delivery).where(
                col(Delivery.state).in_(CLAIMABLE), Delivery.expires_at <= now)
                .with_for_update(skip_locked=True)).all()
            for d in rows:
                move(d, S.EXPIRED, now, finished_at=now,
                     last_error=f"quá hạn lúc {show_vn(d.expires_at)} trước khi gửi được; không gửi muộn")
                log.warning("delivery %s expired unsent (%s)", d.ref_code, d.channel_id)
        return len(rows)

    def rescue_abandoned(self) -> int:
        """Send deliveries stranded in ``sending`` by a gone worker to reconcile (see the rules above),
        and free the leases of reconcile claims held by a dead process on this machine at once."""
        now = self.now()
        with write_session(self.engine) as session:
            db_now = database_now(session)
            rows = session.exec(select(Delivery).where(Delivery.state == S.SENDING,
                                                       col(Delivery.channel_id).notin_(self.slotted))
                                .with_for_update(skip_locked=True)).all()
            rescued = 0
            for d in rows:
                over = d.lease_until is None or d.lease_until + self.margin <= db_now
                if not over and owner_alive(d.claimed_by):
                    continue
                attempt = session.exec(select(Attempt).where(Attempt.attempt_id == d.attempt_id)).first()
                if attempt is not None and attempt.outcome is None:
                    attempt.outcome, attempt.finished_at = "interrupted", now
                    attempt.message = f"tiến trình {d.claimed_by} dừng giữa chừng; sẽ kiểm tra lại trên nền tảng"
                move(d, S.NEEDS_RECONCILE, now, next_attempt_at=now, lease_until=None,
                     last_error="lần gửi trước bị gián đoạn; đang kiểm tra trên nền tảng trước khi gửi lại")
                log.warning("delivery %s was left in sending by %s: reconciling", d.ref_code, d.claimed_by)
                rescued += 1
            held = session.exec(select(Delivery).where(
                col(Delivery.state).in_([S.NEEDS_RECONCILE, S.RETRACTING]),  # a send's cool-down stays
                col(Delivery.channel_id).notin_(self.slotted), col(Delivery.lease_until) > db_now)
                .with_for_update(skip_locked=True)).all()
            for d in held:
                if not owner_alive(d.claimed_by):
                    free(d, now)
        return rescued

    def publish_scheduled(self) -> int:
        """Posts scheduled on a platform whose due time has come are out: the platform published them."""
        now = self.now()
        with write_session(self.engine) as session:
            rows = session.exec(select(Delivery).where(Delivery.state == S.SCHEDULED, Delivery.due_at <= now)
                                .with_for_update(skip_locked=True)).all()
            for d in rows:
                move(d, S.DELIVERED, now, finished_at=d.due_at)
        return len(rows)

    # -- claims -------------------------------------------------------------------------------

    def _due_to_send(self, now: datetime):
        """Deliveries to send now: those due, and for channels that send ahead, pending ones due
        within their lead (but not so close to the due time that the platform would publish at once)."""
        due = Delivery.next_attempt_at <= now
        early = [and_(Delivery.channel_id == name, Delivery.state == S.PENDING,
                      Delivery.next_attempt_at <= now + lead,
                      Delivery.next_attempt_at >= now + self.channels[name].least_send_ahead())
                 for name, lead in self.ahead.items() if name in self.channels]
        return or_(due, *early) if early else due

    def _free(self, db_now: datetime):
        """Rows no other worker holds: never claimed, or their lease is over (database clock)."""
        return or_(col(Delivery.lease_until).is_(None), col(Delivery.lease_until) <= db_now)

    def _claim_sends(self) -> list[Claim]:
        """The next claim: due deliveries no one holds, a few waves' worth a channel at its current
        window (``_claim_size``), marked as being sent by this worker in one transaction. Their requests leave
        only after it commits (``_send_claimed``)."""
        began = time.monotonic()
        now = self.now()
        with write_session(self.engine) as session:
            db_now = database_now(session)
            rows = session.exec(
                select(Delivery)
                .where(col(Delivery.state).in_(CLAIMABLE), self._due_to_send(now), Delivery.expires_at > now,
                       col(Delivery.channel_id).notin_([*self.slotted, *self.held, *held_channels(session, now)]),
                       col(Delivery.id).notin_(self.checked), self._free(db_now))
                .order_by(col(Delivery.priority_rank), col(Delivery.due_at), col(Delivery.id))
                .limit(sum(self._claim_size(name) for name in self.window) or 1)
                .with_for_update(skip_locked=True)
            ).all()
            share: Counter[str] = Counter()
            taken = []
            for d in rows:
                if share[d.channel_id] < self._claim_size(d.channel_id):
                    share[d.channel_id] += 1
                    taken.append(d)
            # A social post links to the article: it waits for a claim after its website's.
            articles = {d.announcement_id for d in taken if d.channel_id in self.websites}
            taken = [d for d in taken if d.announcement_id not in articles or not self._links(d.channel_id)]
            claims = self._start(session, taken, "send", db_now, now)
        for claim in claims:
            claim.claimed = began
        return claims

    def _claim_size(self, name: str) -> int:
        """How many of a channel's due rows one claim takes: a few waves at its window, more for a
        platform that answers in milliseconds (the claim's cost is then what counts), fewer for a
        slow one (fewer rows to check on the platform after a crash)."""
        quick = self.took.get(name, 1.0) < QUICK_SECONDS
        return self.window.get(name, 1) * (WAVES_A_CLAIM if quick else WAVES_A_SLOW_CLAIM)

    def _links(self, name: str) -> bool:
        channel = self.channels.get(name)
        return channel is not None and channel.links_to_website

    def _claim(self, kind: str) -> list[Claim]:
        """Deliveries to ask the platform about (``reconcile``) or to take back (``retract``), held for
        this worker by a lease like a send."""
        now = self.now()
        state = S.NEEDS_RECONCILE if kind == "reconcile" else S.RETRACTING
        with write_session(self.engine) as session:
            db_now = database_now(session)
            rows = session.exec(
                select(Delivery)
                .where(Delivery.state == state, Delivery.next_attempt_at <= now, self._free(db_now),
                       col(Delivery.channel_id).notin_([*self.slotted, *held_channels(session, now)]),
                       col(Delivery.id).notin_(self.checked))
                .order_by(col(Delivery.priority_rank), col(Delivery.due_at), col(Delivery.id))
                .limit(self.batch)
                .with_for_update(skip_locked=True)
            ).all()
            self.checked.update(d.id for d in rows)
            return self._start(session, rows, kind, db_now, now)

    def _start(self, session: Session, rows: list[Delivery], kind: str, db_now: datetime,
               now: datetime) -> list[Claim]:
        """Give each row (locked by the caller) this worker's attempt id and a lease, and open its
        attempt; rows whose approval went are cancelled instead."""
        posts = load_posts(session, rows, now, self.unit_names)
        session.flush()  # the cancellations, if any
        claims = []
        for d in rows:
            post = posts.get(d.id)
            if post is None:
                continue
            reconciles = d.reconcile_count + (kind == "reconcile")
            attempts = d.attempt_count + (kind != "reconcile")
            claims.append(Claim(d.id, str(uuid.uuid4()), d.channel_id, post, attempts, reconciles, d.expires_at,
                                d.remote_id, d.state))
        until = db_now + self.lease
        for claim in claims:  # the channel's hooks find the row by the attempt while the send runs (Progress)
            claim.lease_until = until
            claim.post = replace(claim.post, attempt_id=claim.attempt_id, lease_seconds=self.lease.total_seconds())
        start_claims(session, [
            {"b_id": c.delivery_id, "b_state": S.SENDING if kind == "send" else c.was, "b_attempts": c.attempts,
             "b_reconciles": c.reconciles, "b_attempt": c.attempt_id, "b_worker": self.worker, "b_updated": now,
             "b_lease": until} for c in claims], {c.delivery_id: c.was for c in claims})
        if claims:  # the attempts opened, in one statement; results find them by attempt_id
            session.execute(insert(Attempt.__table__), [
                {"delivery_id": c.delivery_id, "attempt_id": c.attempt_id, "started_at": now, "kind": kind}
                for c in claims])
        return claims

    # -- sends --------------------------------------------------------------------------------

    def _send_claimed(self, claims: list[Claim]) -> list[str]:
        """Send a claim's rows in waves, then write all their results in one transaction (see the rules
        above: a wave starts within half the lease; a channel that complained sends no more of it).

        A channel starts each pass with one send in flight and doubles it (up to its ``in_flight``)
        after each wave its platform took without complaint; any other answer brings it back to one.
        So a platform at its limit, or down, sees one request, not a volley, before the channel waits.
        """
        queues: dict[str, deque[Claim]] = {}
        for claim in claims:
            queues.setdefault(claim.channel_id, deque()).append(claim)
        results: list[Result] = []
        unsent: list[Claim] = []  # their request never left: released
        until = min(claim.claimed for claim in claims) + self.lease.total_seconds() / 2
        while queues and time.monotonic() < until:
            wave = [queue.popleft() for name, queue in queues.items()
                    for _ in range(min(self.window.get(name, 1), len(queue)))]
            if not self._serial(wave):  # requests in parallel: the wave is checked once, before any leaves
                held = set(self._still_held(wave))
                unsent.extend(claim for claim in wave if claim.delivery_id not in held)
                wave = [claim for claim in wave if claim.delivery_id in held]
                if not wave:
                    break
            began = time.monotonic()
            receipts = self._send_wave(wave, until)
            unsent.extend(wave[len(receipts):])  # a serial wave stopped at the time limit
            wave = wave[:len(receipts)]
            now = self.now()
            for name in {claim.channel_id for claim in wave}:  # a request's time, as its wave saw it
                self.took[name] = (time.monotonic() - began) / (len(wave) if self._serial(wave) else 1)
            calm = dict.fromkeys(queues, True)
            for claim, receipt in zip(wave, receipts, strict=True):
                calm[claim.channel_id] &= receipt.outcome in (Outcome.SENT, Outcome.PENDING) \
                    and not receipt.channel_wait
                decision = after_send(receipt, attempts=claim.attempts, now=now, policy=self.policy, rng=self.rng)
                results.append(Result(claim, decision, receipt.outcome, receipt.message, receipt.http_status,
                                      receipt.error_code, preview=self.modes.get(claim.channel_id) == "preview",
                                      receipt=receipt))
            for name, fine in calm.items():
                self.window[name] = min(self.in_flight.get(name, DEFAULT_IN_FLIGHT), self.window.get(name, 1) * 2) \
                    if fine else 1
            for name in [name for name, queue in queues.items() if not queue or not calm[name]]:
                unsent.extend(queues.pop(name))  # a channel that complained sends no more of this claim
        unsent.extend(claim for queue in queues.values() for claim in queue)  # out of time
        if unsent and time.monotonic() >= until:
            self.checked.update(c.delivery_id for c in unsent)  # a claim that outlived its time: next pass
        return self._write(results, release=unsent)

    def _send_wave(self, wave: list[Claim], until: float) -> list[Receipt]:
        """One wave's requests, in parallel (the wave's threads end with the dispatcher); one after
        the other on this thread while its platforms answer in a few milliseconds, where a request's
        time is the client's own work, which threads cannot share out. One after the other, none
        starts after ``until``: the receipts are then fewer than the wave (the rest never left)."""
        if self._serial(wave):
            receipts = []
            for claim in wave:
                if (receipts and time.monotonic() >= until) or not self._still_held([claim]):
                    break
                receipts.append(self._send(claim))
            return receipts
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=max(sum(self.in_flight.values()), 1),
                                            thread_name_prefix="cchc-send")
        return list(self._pool.map(self._send, wave))

    def _still_held(self, claims: list[Claim]) -> list[int]:
        """The ids of ``claims`` whose lease is not over on the database's clock: only those may send now.
        While its lease runs, a row is this worker's alone (another takes it only after the lease and the
        margin, or when this process is dead), so the database's clock is all there is to read: no query
        on SQLite, one short one on PostgreSQL. A node that slept since its claim (a monotonic clock does
        not count a suspend) finds the lease over and sends nothing of it; a clock that cannot be read
        sends nothing either. (A lease renewed while a send runs, ``Progress``, is that send's own: each
        delivery is checked once, before its own request, so the lease the claim took is the one to read.)"""
        now = self.database_clock()
        held = [c.delivery_id for c in claims if now is not None and c.lease_until is not None and now < c.lease_until]
        if len(held) < len(claims):
            log.warning("%d claimed deliveries are no longer held by %s (lease over or taken over while it was "
                        "stopped): not sent", len(claims) - len(held), self.worker)
        return held

    def _serial(self, wave: list[Claim]) -> bool:
        """A wave of one, or of channels whose last requests took only milliseconds: nothing to
        overlap, threads would only take turns."""
        return len(wave) == 1 or all(self.took.get(claim.channel_id, 1.0) < QUICK_SECONDS for claim in wave)

    def _send(self, claim: Claim) -> Receipt:
        """The one call to ``Channel.send`` (in a wave's thread): never raises."""
        claim.started = time.monotonic()
        channel = self.channels.get(claim.channel_id)
        if channel is None:
            return Receipt(Outcome.PERMANENT, message=f"kênh '{claim.channel_id}' không còn trong cấu hình")
        post = claim.post
        try:
            if channel.links_to_website:  # looked up now: the website may have published it in this pass
                with read_session(self.engine) as session:
                    post = replace(post, extra={**post.extra,
                                                **website_links(session, self.websites, post.announcement_id,
                                                                  post.lang)})
            if self.modes.get(claim.channel_id) == "preview":  # the request a live send would make, link and all
                return preview_send(channel, post)
            return channel.send(post)
        except Exception as exc:  # a channel bug: the post may or may not be out
            log.exception("channel %s raised while sending %s", claim.channel_id, claim.post.ref_code)
            return Receipt(Outcome.UNKNOWN, message=f"lỗi trong kênh: {describe(exc)}")

    def _send_one(self, claim: Claim) -> str:
        """Send one claimed delivery and write its result (a claim of one)."""
        return self._send_claimed([claim])[0]

    def _reconcile_one(self, claim: Claim) -> str:
        claim.started = time.monotonic()
        channel = self.channels.get(claim.channel_id)
        if channel is None:
            result = Reconciled(Found.UNKNOWN, message=f"kênh '{claim.channel_id}' không còn trong cấu hình")
        elif self.modes.get(claim.channel_id) == "preview":
            result = preview_reconcile(channel, claim.post)
        else:
            try:
                result = channel.reconcile(claim.post, claim.remote_id)
            except Exception as exc:
                log.exception("channel %s raised while reconciling %s", claim.channel_id, claim.post.ref_code)
                result = Reconciled(Found.UNKNOWN, message=f"lỗi trong kênh: {type(exc).__name__}")
        decision = after_reconcile(result, attempts=claim.attempts, reconciles=claim.reconciles,
                                   now=self.now(), expires_at=claim.expires_at, policy=self.policy, rng=self.rng)
        return self._write([Result(claim, decision, f"reconcile:{result.found}", result.message,
                                   preview=self.modes.get(claim.channel_id) == "preview")])[0]

    def _retract_one(self, claim: Claim) -> str:
        claim.started = time.monotonic()
        channel = self.channels.get(claim.channel_id)
        if channel is None:
            receipt = Receipt(Outcome.PERMANENT, message=f"kênh '{claim.channel_id}' không còn trong cấu hình")
        elif not claim.remote_id:
            receipt = Receipt(Outcome.PERMANENT, message="không có mã bài trên nền tảng")
        else:
            try:
                receipt = channel.retract(claim.post, claim.remote_id)
            except Exception as exc:
                log.exception("channel %s raised while retracting %s", claim.channel_id, claim.post.ref_code)
                receipt = Receipt(Outcome.UNKNOWN, message=f"lỗi trong kênh: {type(exc).__name__}")
        decision = after_retract(receipt, attempts=claim.attempts, now=self.now(), expires_at=claim.expires_at,
                                 policy=self.policy, rng=self.rng)
        return self._write([Result(claim, decision, f"retract:{receipt.outcome}", receipt.message,
                                   receipt.http_status, receipt.error_code)])[0]

    # -- results ------------------------------------------------------------------------------

    def _write(self, results: list[Result], release: list[Claim] = ()) -> list[str]:
        """Write the outcomes of claims in one transaction (each fenced by its attempt id) and return the
        states written: the one guarded path for sends, reconciles and retracts. Claims in ``release``
        never sent their request: they go back to the state they were claimed in."""
        now = self.now()
        written = []
        with write_session(self.engine) as session:
            held = session.execute(
                select(Delivery.id, Delivery.attempt_id, Delivery.state)
                .where(col(Delivery.id).in_([c.delivery_id for c in [*(r.claim for r in results), *release]]))
                .with_for_update()).all()
            holding = {row.id: row.attempt_id for row in held}
            unsent = [{"b_id": c.delivery_id, "b_attempt": c.attempt_id, "b_state": c.was, "b_updated": now}
                      for c in release if holding.get(c.delivery_id) == c.attempt_id]
            release_unsent(session, unsent)
            if len(unsent) < len(release):
                log.warning("%d unsent claims were taken over before their release", len(release) - len(unsent))
            deliveries, attempts, db_now = [], [], None
            for r in results:
                claim, decision, outcome = r.claim, r.decision, str(r.outcome)
                message = redact(r.message or "")[:2000]
                fresh = holding.get(claim.delivery_id) == claim.attempt_id
                if fresh and decision.state == S.SCHEDULED:  # not live yet: approval gone meanwhile? take it back
                    problem = approval_problem(session, session.get(Delivery, claim.delivery_id))
                    if problem:
                        decision = replace(decision, state=S.RETRACTING, error=f"{problem}: sẽ gỡ bài hẹn giờ")
                state = decision.state
                if r.preview and state == S.DELIVERED:  # written to the outbox, not published
                    state, outcome = S.PREVIEWED, PREVIEWED_OUTCOME
                if fresh:
                    lease = None
                    wait = decision.next_attempt_at - now if decision.next_attempt_at else timedelta(0)
                    if self.cool_down and state in WAITING and wait > timedelta(0):
                        db_now = db_now or database_now(session)  # read only when a wave defers something
                        lease = db_now + wait
                    deliveries.append({
                        "b_id": claim.delivery_id, "b_state": state, "b_next": decision.next_attempt_at,
                        "b_error": decision.error and redact(decision.error)[:2000], "b_updated": now, "b_lease": lease,
                        "b_remote_id": decision.remote_id, "b_remote_url": decision.remote_url if decision.remote_id
                        else None, "b_finished": now if decision.finished else None})
                else:
                    message = f"kết quả đến muộn, một lần thử mới hơn đã thay thế: {message}"[:2000]
                    log.warning("stale result for delivery %s ignored", claim.delivery_id)
                attempts.append({
                    "b_id": claim.attempt_id, "b_finished": now,
                    "b_duration": int((time.monotonic() - claim.started) * 1000), "b_outcome": outcome[:20],
                    "b_status": r.http_status, "b_code": r.error_code, "b_message": message,
                    "b_remote_id": decision.remote_id})
                if fresh and r.outcome == Outcome.NEEDS_REAUTH:
                    hold_channel(session, claim.channel_id, message, now)
                    self.held.add(claim.channel_id)
                fine = state in (S.DELIVERED, S.SCHEDULED, S.PREVIEWED) or outcome == f"retract:{Outcome.SENT}"
                log.log(logging.INFO if fine else logging.WARNING, "delivery %s on %s: %s -> %s %s",
                        claim.post.ref_code, claim.channel_id, outcome, state, message)
                written.append(state)
            write_results(session, deliveries, {row.id: row.state for row in held})
            if attempts:
                _WRITE_ATTEMPT.run(session, attempts)
            self._channel_health(session, [r for r in results if r.receipt is not None], now)
        return written

    def _channel_health(self, session: Session, results: list[Result], now: datetime) -> None:
        """What a wave's sends say about their channels: a limit to wait for, an outage to sit out."""
        if not results:
            return
        fine = {r.claim.channel_id for r in results
                if r.receipt and r.receipt.outcome in (Outcome.SENT, Outcome.PENDING)}
        look = sorted(fine - self.clean)  # a success clears a failure count: is there one? (once a pass)
        known = set(session.exec(select(ServiceState.key).where(
            col(ServiceState.key).in_([FAILURES_KEY + name for name in look])))) if look else set()
        for r in results:
            name, receipt = r.claim.channel_id, r.receipt
            assert receipt is not None
            wait = receipt.channel_wait
            if receipt.outcome is Outcome.RATE_LIMITED:
                wait = max(wait or 0, self.policy.wait(receipt.retry_after, self.policy.rate_limit_default_seconds)
                           .total_seconds())
            if wait:
                set_wait(session, name, f"nền tảng giới hạn số lần gọi: {receipt.message}"[:500],
                         now + self.policy.wait(wait, 0), now)
                self.held.add(name)
            if receipt.outcome in (Outcome.RETRYABLE, Outcome.UNKNOWN):
                failures = count_failure(session, name, now)
                known.add(FAILURES_KEY + name)
                self.clean.discard(name)
                if failures >= self.policy.outage_after:
                    step = failures - self.policy.outage_after
                    hold = min(self.policy.cap_seconds, self.policy.outage_hold_seconds * 2 ** step)
                    set_wait(session, name, f"nền tảng đang lỗi ({failures} lần liên tiếp): {receipt.message}"[:500],
                             now + timedelta(seconds=hold), now)
                    self.held.add(name)
            elif receipt.outcome in (Outcome.SENT, Outcome.PENDING):
                if FAILURES_KEY + name in known:
                    clear_failures(session, name)
                    known.discard(FAILURES_KEY + name)
                self.clean.add(name)


_WRITE_ATTEMPT = BulkUpdate(Attempt.__table__, by="attempt_id", finished_at="b_finished", duration_ms="b_duration",
                             outcome="b_outcome", http_status="b_status", error_code="b_code", message="b_message",
                             remote_id="b_remote_id")


WAITING = (S.RETRY_WAIT, S.NEEDS_RECONCILE, S.RETRACTING)  # states whose next try waits for next_attempt_at
PREVIEWED_OUTCOME = "previewed"  # the attempt's outcome on a channel in preview mode: nothing was sent


