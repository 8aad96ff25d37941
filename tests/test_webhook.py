"""The generic webhook channel against a local receiver that follows its contract (tests/fakes/webhook.py)."""

import logging
from pathlib import Path

import pytest

from channels import build_channel
from channels.base import Found, Outcome
from channels.preview import preview_send
from channels.secrets import RedactingFilter
from tests import contract
from tests.fakes.webhook import FakeReceiver
from tests.posts import post

HOOK_TOKEN = "contract-hook-token-0001"


def receiving() -> FakeReceiver:
    fake = FakeReceiver()
    fake.token = HOOK_TOKEN
    return fake


CONTRACT = contract.Contract(
    "webhook", lambda url: {"url": f"{url}/hook", "reconcile_url": f"{url}/hook", "token_env": "CONTRACT_HOOK_TOKEN",
                            "timeout_seconds": 1},
    receiving, secrets={"CONTRACT_HOOK_TOKEN": HOOK_TOKEN})
test_each_answer_of_the_platform_gets_its_outcome_and_no_secret_shows = contract.cases(CONTRACT)


@pytest.fixture
def receiver():
    fake = FakeReceiver()
    yield fake
    fake.close()


def webhook(tmp_path, receiver, **extra):
    settings = {"url": receiver.url, "reconcile_url": receiver.url, "timeout_seconds": 1, **extra}
    return build_channel("hook", "webhook", settings, data_dir=tmp_path)


def test_success_sends_the_contract_payload(tmp_path, receiver):
    receipt = webhook(tmp_path, receiver).send(post())
    expected = (Outcome.SENT, "item-1", "http://fake/ML-2025-0001.1")
    assert (receipt.outcome, receipt.remote_id, receipt.url) == expected
    sent = receiver.requests[0]
    assert sent["json"]["title"] == "Hướng dẫn nộp hồ sơ trực tuyến"
    assert sent["headers"]["Idempotency-Key"] == "ML-2025-0001.1"


@pytest.mark.parametrize(("step", "outcome"), [
    ((429, {"Retry-After": "120"}), Outcome.RATE_LIMITED),
    ((503, {}), Outcome.RETRYABLE),
    ((500, {}), Outcome.UNKNOWN),
    ((400, {}), Outcome.PERMANENT),
    ((403, {}), Outcome.NEEDS_REAUTH),
    (("drop",), Outcome.UNKNOWN),
])
def test_classifies_each_failure(tmp_path, receiver, step, outcome):
    receiver.script = [step]
    receipt = webhook(tmp_path, receiver).send(post())
    assert receipt.outcome == outcome
    if outcome == Outcome.RATE_LIMITED:
        assert receipt.retry_after == 120


def test_connection_refused_is_safe_to_retry(tmp_path, receiver):
    receiver.close()
    assert webhook(tmp_path, receiver).send(post()).outcome == Outcome.RETRYABLE


def test_timeout_after_storing_is_unknown_and_reconcile_finds_it(tmp_path, receiver):
    receiver.script = [("stall", 2)]
    channel = webhook(tmp_path, receiver)
    assert channel.send(post()).outcome == Outcome.UNKNOWN
    found = channel.reconcile(post(), None)
    assert (found.found, found.remote_id) == (Found.PRESENT, "item-1")
    assert receiver.posts_for("ML-2025-0001.1") == 1


def test_token_is_sent_but_never_logged_shown_or_previewed(tmp_path, receiver, monkeypatch, caplog):
    secret = "TESTTOKEN-9f8e7d6c5b4a"
    monkeypatch.setenv("CCHC_TEST_HOOK_TOKEN", secret)
    receiver.token = secret
    caplog.set_level(logging.DEBUG)
    logging.getLogger().addFilter(RedactingFilter())
    for handler in logging.getLogger().handlers:
        handler.addFilter(RedactingFilter())
    channel = webhook(tmp_path, receiver, token_env="CCHC_TEST_HOOK_TOKEN")
    assert channel.send(post()).outcome == Outcome.SENT
    receiver.script = [(500, {})]
    failed = channel.send(post(ref="ML-2025-0001.9"))
    logging.getLogger("urllib3").debug("request with Authorization: Bearer %s", secret)
    preview = preview_send(channel, post())
    shown = [repr(channel), channel.describe(), failed.message, caplog.text, Path(preview.url).read_text()]
    assert all(secret not in text for text in shown)
    assert receiver.requests[0]["headers"]["Authorization"] == f"Bearer {secret}"


def test_without_its_token_needs_reauth(tmp_path, receiver, monkeypatch):
    monkeypatch.delenv("CCHC_MISSING_TOKEN", raising=False)
    channel = webhook(tmp_path, receiver, token_env="CCHC_MISSING_TOKEN")
    assert channel.send(post()).outcome == Outcome.NEEDS_REAUTH and receiver.requests == []
    assert channel.check() == ["chưa đặt biến môi trường CCHC_MISSING_TOKEN (mã truy cập của kênh)"]
