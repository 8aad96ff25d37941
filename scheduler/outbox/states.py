"""The delivery state machine and the retry policy, in one place and without I/O.

    pending ──claim──> sending ──sent──────────> delivered
    retry_wait ─claim─┘   │ ├──retryable/429──> retry_wait ──(past expiry)──> expired
                          │ ├──(undone by its own worker before the request left)──> pending / retry_wait
                          │ ├──token refused──> retry_wait (waits with its channel for new credentials)
                          │ ├──permanent──────> failed
                          │ └──unknown/crash──> needs_reconcile ──present──> delivered
                          │                          ├──absent──> retry_wait (safe to send again, after backoff)
    pending/retry_wait ──(cancel)──> cancelled       ├──unknown─> needs_reconcile (ask again later)
    pending/retry_wait ──(held: cannot be rendered,  └──unknown past expiry──> needs_person
                          e.g. no recording)──> failed
    needs_person ──(a person settles it: posted)──> delivered
                 └─(a person settles it: not posted)──> retry_wait, or expired past its time

Sent ahead to a platform that publishes at the due time itself (``send_ahead_minutes``):

    sending/needs_reconcile ──sent, scheduled──> scheduled ──(due time)──> delivered
    scheduled ──(cancel, or the approval voided, also while it was being sent)──> retracting ──gone──> cancelled
                                                        ├──not yet──> retracting (try again)
                                                        └──refused, or past expiry──> failed (remove by hand)

On a channel in preview mode the send only writes the request it would make: such a delivery ends
``previewed``, never ``delivered``, so nothing counts it as published.

A delivery whose send may have reached the platform is never sent again until the platform has
said it does not have it (``absent``): that is the whole duplicate-prevention rule. Every retry
waits at least ``min_retry_seconds`` (a ``Retry-After: 0`` cannot make a storm) and counts toward
``max_attempts``; transient failures back off exponentially with jitter until the delivery's
expiry, so a platform outage of minutes or hours is ridden out.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from channels.base import Found, Outcome, Receipt, Reconciled
from scheduler.record.models import DeliveryState as S

ALLOWED: dict[S, frozenset[S]] = {
    S.PENDING: frozenset({S.SENDING, S.EXPIRED, S.CANCELLED, S.FAILED}),
    S.RETRY_WAIT: frozenset({S.SENDING, S.EXPIRED, S.CANCELLED, S.FAILED}),
    S.SENDING: frozenset({S.DELIVERED, S.PREVIEWED, S.SCHEDULED, S.RETRACTING, S.RETRY_WAIT, S.FAILED,
                          S.NEEDS_RECONCILE}),
    S.NEEDS_RECONCILE: frozenset({S.DELIVERED, S.PREVIEWED, S.SCHEDULED, S.RETRACTING, S.RETRY_WAIT, S.FAILED,
                                  S.EXPIRED, S.NEEDS_RECONCILE, S.NEEDS_PERSON}),
    S.NEEDS_PERSON: frozenset({S.DELIVERED, S.RETRY_WAIT, S.EXPIRED}),
    S.SCHEDULED: frozenset({S.DELIVERED, S.RETRACTING}),
    S.RETRACTING: frozenset({S.CANCELLED, S.FAILED, S.RETRACTING}),
    S.DELIVERED: frozenset(),
    S.FAILED: frozenset(),
    S.EXPIRED: frozenset(),
    S.CANCELLED: frozenset(),
    S.PREVIEWED: frozenset(),
}
TERMINAL = frozenset(state for state, nexts in ALLOWED.items() if not nexts)
CLAIMABLE = (S.PENDING, S.RETRY_WAIT)
# A claim its worker undoes before the request left (``deliveries.release_unsent``) goes back to the
# state it was claimed in. Not a transition: a send that may have reached the platform never does.
RELEASED_TO = CLAIMABLE
OPEN = tuple(state for state in S if state not in TERMINAL)  # not finished: scheduled or under way
COMING = tuple(state for state in OPEN if state != S.RETRACTING)  # open, and still to go out
CANCELLABLE = (S.PENDING, S.RETRY_WAIT)


class IllegalTransitionError(Exception):
    def __init__(self, old: str, new: str):
        super().__init__(f"a delivery cannot go from {old} to {new}")


def check_transition(old: str, new: str) -> None:
    if S(new) not in ALLOWED[S(old)]:
        raise IllegalTransitionError(old, new)


@dataclass(frozen=True)
class RetryPolicy:
    """How hard to try. Backoff is exponential with "equal jitter": half fixed, half random.

    Leases count on the database's clock (``scheduler.outbox.dispatch``): ``lease_seconds`` is how long a
    started send holds its row; another worker may rescue it only ``rescue_margin_seconds`` after
    that, a margin longer than any single request a channel makes (the dispatcher raises it to the
    channels' own timeouts).
    """

    base_seconds: float = 60.0
    factor: float = 2.0
    cap_seconds: float = 3600.0
    max_attempts: int = 12  # 60 s, 2, 4, 8, 16, 32 min, then hourly: about 7 hours before giving up
    min_retry_seconds: float = 30.0  # the floor of every wait, whatever a platform's Retry-After says
    rate_limit_default_seconds: float = 60.0
    reconcile_delay_seconds: float = 30.0
    max_reconciles: int = 10
    lease_seconds: float = 300.0
    rescue_margin_seconds: float = 120.0
    outage_after: int = 3  # transient failures in a row on one channel before it is held (circuit breaker)
    outage_hold_seconds: float = 120.0  # the first hold; each further one doubles, up to ``cap_seconds``

    def backoff(self, failures: int, rng: random.Random) -> timedelta:
        raw = min(self.cap_seconds, self.base_seconds * self.factor ** max(0, failures - 1))
        return timedelta(seconds=max(self.min_retry_seconds, raw / 2 + rng.uniform(0, raw / 2)))

    def wait(self, seconds: float | None, default: float) -> timedelta:
        """A platform's wait (``Retry-After``, a usage header), never under the floor."""
        return timedelta(seconds=max(self.min_retry_seconds, default if seconds is None else seconds))


@dataclass(frozen=True)
class Decision:
    """What to write on the delivery after a send or a reconcile."""

    state: S
    next_attempt_at: datetime
    error: str | None = None
    remote_id: str | None = None
    remote_url: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL


def after_send(
    receipt: Receipt, *, attempts: int, now: datetime, policy: RetryPolicy, rng: random.Random
) -> Decision:
    """The next state of a ``sending`` delivery given the channel's receipt."""
    outcome = receipt.outcome
    if outcome is Outcome.SENT:
        return Decision(S.SCHEDULED if receipt.scheduled else S.DELIVERED, now, None, receipt.remote_id, receipt.url)
    if outcome is Outcome.PENDING:  # a platform still working on it, or asking to wait (Zalo's night)
        delay = timedelta(seconds=max(policy.reconcile_delay_seconds, receipt.retry_after or 0))
        return Decision(S.NEEDS_RECONCILE, now + delay, receipt.message or None,
                        receipt.remote_id, receipt.url)
    if outcome is Outcome.NEEDS_REAUTH:  # the channel is held; this delivery waits with the others
        return Decision(S.RETRY_WAIT, now, f"chờ cấp lại thông tin xác thực của kênh: {receipt.message}")
    if outcome in (Outcome.RATE_LIMITED, Outcome.RETRYABLE):
        if attempts >= policy.max_attempts:
            return Decision(S.FAILED, now, f"đã thử {attempts} lần không thành công: {receipt.message}")
        if outcome is Outcome.RATE_LIMITED:
            delay = policy.wait(receipt.retry_after, policy.rate_limit_default_seconds)
        else:
            delay = max(policy.backoff(attempts, rng), policy.wait(receipt.retry_after, 0))
        return Decision(S.RETRY_WAIT, now + delay, receipt.message)
    if outcome is Outcome.PERMANENT:
        return Decision(S.FAILED, now, receipt.message)
    return Decision(S.NEEDS_RECONCILE, now + timedelta(seconds=policy.reconcile_delay_seconds),
                    f"chưa rõ đã đăng hay chưa, sẽ kiểm tra lại: {receipt.message}")


def after_reconcile(
    result: Reconciled,
    *,
    attempts: int,
    reconciles: int,
    now: datetime,
    expires_at: datetime,
    policy: RetryPolicy,
    rng: random.Random,
) -> Decision:
    """The next state of a ``needs_reconcile`` delivery given what the platform said."""
    if result.found is Found.PRESENT:
        return Decision(S.SCHEDULED if result.scheduled else S.DELIVERED, now, None, result.remote_id, result.url)
    if result.found is Found.ABSENT:
        if now >= expires_at:
            return Decision(S.EXPIRED, now, "nền tảng không có bài và đã quá hạn; không gửi muộn")
        if attempts >= policy.max_attempts:
            return Decision(S.FAILED, now, f"nền tảng không có bài sau {attempts} lần gửi")
        # Sent again, but after the same backoff as any transient failure: an outage is not hammered.
        return Decision(S.RETRY_WAIT, now + policy.backoff(attempts, rng),
                        "nền tảng xác nhận chưa có bài; sẽ gửi lại")
    note = result.message or "chưa kiểm tra được"
    if now >= expires_at:  # the platform cannot say, and the time to send again is over: a person decides
        return Decision(S.NEEDS_PERSON, now, f"cần người kiểm tra trên nền tảng rồi xác nhận đã đăng hay chưa "
                                             f"(đã hỏi {reconciles} lần): {note}")
    delay = max(policy.backoff(reconciles, rng), policy.wait(result.retry_after, 0))
    return Decision(S.NEEDS_RECONCILE, now + delay, note)


def after_retract(
    receipt: Receipt, *, attempts: int, now: datetime, expires_at: datetime, policy: RetryPolicy, rng: random.Random
) -> Decision:
    """The next state of a ``retracting`` delivery given the channel's answer to ``retract``.

    A retract that does not go through is tried again until the item would have expired; after
    that, or when the platform refuses, a person must remove the post by hand.
    """
    if receipt.outcome is Outcome.SENT:
        return Decision(S.CANCELLED, now, "đã gỡ bài hẹn giờ khỏi nền tảng vì phê duyệt không còn hiệu lực")
    by_hand = "hãy gỡ bài này bằng tay trên nền tảng"
    if receipt.outcome in (Outcome.PERMANENT, Outcome.NEEDS_REAUTH) or now >= expires_at:
        return Decision(S.FAILED, now, f"không gỡ được bài hẹn giờ: {receipt.message}; {by_hand}")
    delay = policy.backoff(attempts, rng)
    if receipt.retry_after:
        delay = max(delay, timedelta(seconds=receipt.retry_after))
    return Decision(S.RETRACTING, now + delay, f"chưa gỡ được bài hẹn giờ, sẽ thử lại: {receipt.message}")
