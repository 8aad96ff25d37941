"""The website and webhook channels, and the contract every registered channel keeps."""

import json
import logging
import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import pytest

from channels import REGISTRY, build_channel
from channels.base import Channel, Found, Outcome, Post
from channels.preview import preview_send
from channels.secrets import RedactingFilter
from tests.fakes import FakeReceiver

NOW = datetime(2025, 9, 1, 0, 0, tzinfo=UTC)
SCRIPT = '<script>alert("x")</script>'


def post(ref="ML-2025-0001.1", lang="vi", title="Hướng dẫn nộp hồ sơ trực tuyến", body="Dòng một.\n\nDòng hai."):
    return Post(delivery_id=1, ref_code=ref, announcement_id=1, lang=lang, title=title, body=body,
                priority="normal", topics=["d"], due_at=NOW, unit_name="Xã Mường La", sent_at=NOW)


@pytest.mark.parametrize("kind", sorted(REGISTRY))
def test_every_channel_kind_keeps_the_contract(kind):
    cls = REGISTRY[kind]
    assert issubclass(cls, Channel) and cls.kind == kind and cls.__doc__
    assert cls.settings_problems({"no_such_key": 1}), "unknown settings keys are refused"


def website(tmp_path):
    return build_channel("site", "website", {"site_title": "Xã Mường La", "base_url": "http://x/"},
                         data_dir=tmp_path)


def test_website_publishes_escaped_pages_index_and_a_valid_feed(tmp_path):
    channel = website(tmp_path)
    receipt = channel.send(post(title=f"Tiêu đề {SCRIPT}", body=f"Nội dung <b>đậm</b> {SCRIPT}"))
    assert receipt.outcome == Outcome.SENT and receipt.url == "http://x/posts/ml-2025-0001-1.html"
    page = (tmp_path / "site/site/posts/ml-2025-0001-1.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;b&gt;đậm&lt;/b&gt;" in page and "Mã tin: <span class=\"ref\">ML-2025-0001.1</span>" in page
    index = (tmp_path / "site/site/index.html").read_text()
    assert "posts/ml-2025-0001-1.html" in index and "<script>alert" not in index
    feed = ET.fromstring((tmp_path / "site/site/feed.atom").read_bytes())
    entry = feed.find("{http://www.w3.org/2005/Atom}entry")
    assert entry.find("{http://www.w3.org/2005/Atom}title").text == f"Tiêu đề {SCRIPT}"


def test_website_send_is_idempotent_and_reconcile_answers_exactly(tmp_path):
    channel = website(tmp_path)
    assert channel.reconcile(post(), None).found == Found.ABSENT
    channel.send(post())
    channel.send(post())
    channel.send(post(ref="ML-2025-0001.2", lang="blt", title="ꪶꪭꪙ ꪬꪮꪙ", body="ꪬꪮꪙ ꪀꪱꪙ ꪻꪊ"))
    manifest = json.loads((tmp_path / "site/site/posts.json").read_text())
    assert [e["ref"] for e in manifest] == ["ML-2025-0001.2", "ML-2025-0001.1"]
    assert channel.reconcile(post(), None).found == Found.PRESENT
    assert 'lang="blt"' in (tmp_path / "site/site/posts/ml-2025-0001-2.html").read_text()


def test_website_reports_a_folder_it_cannot_write_as_retryable(tmp_path):
    blocker = tmp_path / "site"
    blocker.write_text("not a folder")
    assert website(tmp_path).send(post()).outcome == Outcome.RETRYABLE


@pytest.fixture
def receiver():
    fake = FakeReceiver()
    yield fake
    fake.close()


def webhook(tmp_path, receiver, **extra):
    settings = {"url": receiver.url, "reconcile_url": receiver.url, "timeout_seconds": 1, **extra}
    return build_channel("hook", "webhook", settings, data_dir=tmp_path)


def test_webhook_success_sends_the_contract_payload(tmp_path, receiver):
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
def test_webhook_classifies_each_failure(tmp_path, receiver, step, outcome):
    receiver.script = [step]
    receipt = webhook(tmp_path, receiver).send(post())
    assert receipt.outcome == outcome
    if outcome == Outcome.RATE_LIMITED:
        assert receipt.retry_after == 120


def test_webhook_connection_refused_is_safe_to_retry(tmp_path, receiver):
    receiver.close()
    assert webhook(tmp_path, receiver).send(post()).outcome == Outcome.RETRYABLE


def test_webhook_timeout_after_storing_is_unknown_and_reconcile_finds_it(tmp_path, receiver):
    receiver.script = [("stall", 2)]
    channel = webhook(tmp_path, receiver)
    assert channel.send(post()).outcome == Outcome.UNKNOWN
    found = channel.reconcile(post(), None)
    assert (found.found, found.remote_id) == (Found.PRESENT, "item-1")
    assert receiver.posts_for("ML-2025-0001.1") == 1


def test_webhook_token_is_sent_but_never_logged_shown_or_previewed(tmp_path, receiver, monkeypatch, caplog):
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


def test_webhook_without_its_token_needs_reauth(tmp_path, receiver, monkeypatch):
    monkeypatch.delenv("CCHC_MISSING_TOKEN", raising=False)
    channel = webhook(tmp_path, receiver, token_env="CCHC_MISSING_TOKEN")
    assert channel.send(post()).outcome == Outcome.NEEDS_REAUTH and receiver.requests == []
    assert channel.check() == ["chưa đặt biến môi trường CCHC_MISSING_TOKEN (mã truy cập của kênh)"]


def test_a_session_honours_the_environment_s_proxy_settings_and_reads_them_once_a_host(monkeypatch):
    import requests

    from channels import http

    monkeypatch.setenv("HTTP_PROXY", "http://proxy.so-tt.local:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    reads = []
    real = requests.utils.get_environ_proxies
    monkeypatch.setattr(requests.sessions, "get_environ_proxies",
                        lambda url, **more: reads.append(url) or real(url, **more))
    ours, plain = http.new_session(), requests.Session()
    for url in ("http://graph.example.vn/a", "http://127.0.0.1:9/x", "http://graph.example.vn/b"):
        assert ours.merge_environment_settings(url, {}, False, None, None) == \
            plain.merge_environment_settings(url, {}, False, None, None)
    assert ours.merge_environment_settings("http://graph.example.vn/c", {}, False, None, None)["proxies"] == {
        "http": "http://proxy.so-tt.local:3128", "no": "127.0.0.1,localhost"}
    assert ours.merge_environment_settings("http://127.0.0.1:9/y", {}, False, None, None)["proxies"] == {}
    # the first URL of a host was looked up by both sessions; later ones of that host only by the plain one
    assert reads.count("http://graph.example.vn/a") == 2 and "http://graph.example.vn/c" not in reads
