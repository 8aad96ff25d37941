"""The delivery state machine and retry policy, without I/O."""

import random
from datetime import UTC, datetime, timedelta

import pytest

from channels.base import Found, Outcome, Receipt, Reconciled
from scheduler.outbox.states import (
    ALLOWED,
    TERMINAL,
    IllegalTransitionError,
    RetryPolicy,
    after_reconcile,
    after_retract,
    after_send,
    check_transition,
)
from scheduler.record.models import DeliveryState as S

NOW = datetime(2025, 9, 1, tzinfo=UTC)
POLICY = RetryPolicy(base_seconds=60, cap_seconds=3600, max_attempts=4, reconcile_delay_seconds=30)
EXPECTED = {
    (S.PENDING, S.SENDING), (S.PENDING, S.EXPIRED), (S.PENDING, S.CANCELLED), (S.PENDING, S.FAILED),
    (S.RETRY_WAIT, S.SENDING), (S.RETRY_WAIT, S.EXPIRED), (S.RETRY_WAIT, S.CANCELLED), (S.RETRY_WAIT, S.FAILED),
    (S.SENDING, S.DELIVERED), (S.SENDING, S.RETRY_WAIT), (S.SENDING, S.FAILED), (S.SENDING, S.NEEDS_RECONCILE),
    (S.NEEDS_RECONCILE, S.DELIVERED), (S.NEEDS_RECONCILE, S.RETRY_WAIT), (S.NEEDS_RECONCILE, S.FAILED),
    (S.NEEDS_RECONCILE, S.EXPIRED), (S.NEEDS_RECONCILE, S.NEEDS_RECONCILE),
    # sent ahead to a platform that publishes at the due time itself
    (S.SENDING, S.SCHEDULED), (S.NEEDS_RECONCILE, S.SCHEDULED), (S.SCHEDULED, S.DELIVERED),
    (S.SCHEDULED, S.RETRACTING), (S.SENDING, S.RETRACTING), (S.NEEDS_RECONCILE, S.RETRACTING),
    (S.RETRACTING, S.CANCELLED), (S.RETRACTING, S.FAILED), (S.RETRACTING, S.RETRACTING),
    # a channel in preview mode wrote the request, nothing went out
    (S.SENDING, S.PREVIEWED), (S.NEEDS_RECONCILE, S.PREVIEWED),
    # the platform cannot say, past the delivery's time: a person settles it
    (S.NEEDS_RECONCILE, S.NEEDS_PERSON), (S.NEEDS_PERSON, S.DELIVERED), (S.NEEDS_PERSON, S.RETRY_WAIT),
    (S.NEEDS_PERSON, S.EXPIRED),
}


@pytest.mark.parametrize("old", list(S))
@pytest.mark.parametrize("new", list(S))
def test_every_transition_is_allowed_or_refused_as_designed(old, new):
    if (old, new) in EXPECTED:
        check_transition(old, new)
    else:
        with pytest.raises(IllegalTransitionError):
            check_transition(old, new)


def test_sending_never_goes_back_to_pending():
    """A send that may have reached the platform is never re-queued blindly."""
    assert S.PENDING not in ALLOWED[S.SENDING]
    assert S.PENDING not in ALLOWED[S.NEEDS_RECONCILE]
    assert TERMINAL == {S.DELIVERED, S.FAILED, S.EXPIRED, S.CANCELLED, S.PREVIEWED}


def decide(receipt, attempts=1, seed=1):
    return after_send(receipt, attempts=attempts, now=NOW, policy=POLICY, rng=random.Random(seed))


def test_sent_is_delivered_with_remote_id():
    d = decide(Receipt(Outcome.SENT, remote_id="42", url="http://x/42"))
    assert (d.state, d.remote_id, d.remote_url, d.finished) == (S.DELIVERED, "42", "http://x/42", True)


@pytest.mark.parametrize("attempt", [1, 2, 3])
def test_retryable_backs_off_exponentially_with_jitter(attempt):
    raw = 60 * 2 ** (attempt - 1)
    delays = {decide(Receipt(Outcome.RETRYABLE, message="503"), attempt, seed).next_attempt_at - NOW
              for seed in range(20)}
    assert all(timedelta(seconds=raw / 2) <= d <= timedelta(seconds=raw) for d in delays)
    assert len(delays) > 1, "jitter spreads retries"


def test_retryable_fails_after_the_attempt_limit():
    d = decide(Receipt(Outcome.RETRYABLE, message="connection refused"), attempts=4)
    assert d.state == S.FAILED and "4 lần" in d.error


def test_rate_limit_waits_for_retry_after_and_counts_toward_the_attempt_limit():
    d = decide(Receipt(Outcome.RATE_LIMITED, retry_after=1800, message="429"), attempts=3)
    assert (d.state, d.next_attempt_at) == (S.RETRY_WAIT, NOW + timedelta(seconds=1800))
    assert decide(Receipt(Outcome.RATE_LIMITED, retry_after=5, message="429"), attempts=4).state == S.FAILED


@pytest.mark.parametrize("outcome", [Outcome.RATE_LIMITED, Outcome.RETRYABLE])
@pytest.mark.parametrize("retry_after", [0, -5, None])
def test_every_retry_waits_at_least_the_floor_whatever_retry_after_says(outcome, retry_after):
    d = decide(Receipt(outcome, retry_after=retry_after, message="429"), attempts=1)
    assert d.state == S.RETRY_WAIT and d.next_attempt_at - NOW >= timedelta(seconds=POLICY.min_retry_seconds)


def test_permanent_fails_and_a_refused_token_waits_with_its_channel():
    assert decide(Receipt(Outcome.PERMANENT, message="bị từ chối (400): bad")).error == "bị từ chối (400): bad"
    d = decide(Receipt(Outcome.NEEDS_REAUTH, message="token expired"))
    assert d.state == S.RETRY_WAIT and "xác thực" in d.error and "token expired" in d.error


@pytest.mark.parametrize("outcome", [Outcome.UNKNOWN, Outcome.PENDING])
def test_unknown_and_pending_go_to_reconcile(outcome):
    d = decide(Receipt(outcome, remote_id="p-1"))
    assert d.state == S.NEEDS_RECONCILE and d.next_attempt_at == NOW + timedelta(seconds=30)


def reconcile(found, attempts=1, reconciles=1, expires=NOW + timedelta(hours=1)):
    return after_reconcile(Reconciled(found, "r", "u"), attempts=attempts, reconciles=reconciles, now=NOW,
                           expires_at=expires, policy=POLICY, rng=random.Random(3))


def test_reconcile_present_delivers():
    assert reconcile(Found.PRESENT).state == S.DELIVERED


def test_reconcile_absent_allows_one_more_send_after_the_same_backoff_as_a_failure():
    d = reconcile(Found.ABSENT, attempts=3)
    assert d.state == S.RETRY_WAIT and timedelta(seconds=120) <= d.next_attempt_at - NOW <= timedelta(seconds=240)


def test_reconcile_absent_after_expiry_expires_and_after_limit_fails():
    assert reconcile(Found.ABSENT, expires=NOW).state == S.EXPIRED
    assert reconcile(Found.ABSENT, attempts=4).state == S.FAILED


def test_reconcile_unknown_keeps_asking_then_asks_a_person_once_the_time_is_over():
    d = reconcile(Found.UNKNOWN, reconciles=2)
    assert d.state == S.NEEDS_RECONCILE and d.next_attempt_at > NOW
    late = reconcile(Found.UNKNOWN, reconciles=POLICY.max_reconciles + 5, expires=NOW)
    assert late.state == S.NEEDS_PERSON and "cần người kiểm tra" in late.error
    waited = after_reconcile(Reconciled(Found.UNKNOWN, retry_after=7200), attempts=1, reconciles=1, now=NOW,
                             expires_at=NOW + timedelta(hours=5), policy=POLICY, rng=random.Random(3))
    assert waited.next_attempt_at == NOW + timedelta(hours=2)  # Zalo's night: ask again in the morning


def test_a_scheduled_receipt_or_find_waits_for_the_due_time_instead_of_counting_now():
    assert decide(Receipt(Outcome.SENT, remote_id="7", scheduled=True)).state == S.SCHEDULED
    found = after_reconcile(Reconciled(Found.PRESENT, "7", scheduled=True), attempts=1, reconciles=1, now=NOW,
                            expires_at=NOW + timedelta(hours=1), policy=POLICY, rng=random.Random(3))
    assert found.state == S.SCHEDULED


@pytest.mark.parametrize(("outcome", "at", "state"), [
    (Outcome.SENT, NOW, S.CANCELLED),
    (Outcome.RETRYABLE, NOW, S.RETRACTING),
    (Outcome.UNKNOWN, NOW, S.RETRACTING),
    (Outcome.RETRYABLE, NOW + timedelta(hours=2), S.FAILED),  # past expiry: a person removes it
    (Outcome.PERMANENT, NOW, S.FAILED),
    (Outcome.NEEDS_REAUTH, NOW, S.FAILED),
])
def test_a_retract_cancels_retries_or_hands_over_to_a_person(outcome, at, state):
    decision = after_retract(Receipt(outcome, message="x"), attempts=2, now=at, expires_at=NOW + timedelta(hours=1),
                             policy=POLICY, rng=random.Random(1))
    assert decision.state == state
    if state == S.RETRACTING:
        assert decision.next_attempt_at > at
    if state == S.FAILED:
        assert "bằng tay" in decision.error
