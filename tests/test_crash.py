"""A dispatcher process killed with SIGKILL between its claim and its record, then restarted,
reconciles with the platform instead of sending again."""

import json
import os
import signal
import subprocess
import time

import pytest
import sqlalchemy as sa

from tests.cli import CCHC, environment, run
from tests.fakes.webhook import FakeReceiver

pytestmark = pytest.mark.slow


@pytest.fixture
def receiver():
    fake = FakeReceiver()
    yield fake
    fake.close()


@pytest.fixture
def live_hook(settings, receiver):
    """The webhook channel in live mode, pointed at the fake receiver."""
    path = settings.config_dir / "channels.toml"
    text = path.read_text().replace('mode = "preview"\n', "")
    text = text.replace('url = "https://example.invalid/cchc/hook"', f'url = "{receiver.url}"')
    text = text.replace('reconcile_url = "https://example.invalid/cchc/hook"', f'reconcile_url = "{receiver.url}"')
    text = text.replace('token_env = "CCHC_WEBHOOK_TOKEN"', "timeout_seconds = 60")
    path.write_text(text)
    assert run(settings, "init", "--practice").returncode == 0
    ann = run(settings, "queue", "--user", "lan", "--now", "2025-09-01 07:00", "--title", "Tin khẩn về nước sạch",
              "--body", "Lịch cắt nước ngày 2/9.", "--channel", "muong-la-webhook", "--at", "2025-09-02 06:00",
              "--submit").stdout.strip()
    assert run(settings, "approve", ann, "--user", "hung", "--now", "2025-09-01 07:10").returncode == 0
    return settings


def delivery(settings):
    engine = sa.create_engine(settings.url)
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT ref_code, state, remote_id FROM delivery")).one()
    engine.dispose()
    return row


def kill_mid_send(settings, receiver):
    process = subprocess.Popen([CCHC, "dispatch", "--once", "--now", "2025-09-02 06:00"],
                               env=environment(settings), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not receiver.requests and time.monotonic() < deadline:
        time.sleep(0.05)
    assert receiver.requests, "the dispatcher never reached the platform"
    os.kill(process.pid, signal.SIGKILL)
    process.wait(10)
    assert delivery(settings).state == "sending"
    receiver.release.set()  # the platform finishes whatever it was doing


def test_killed_after_the_platform_stored_the_post_is_reconciled_not_resent(live_hook, receiver):
    receiver.script = [("hang",)]
    kill_mid_send(live_hook, receiver)
    again = run(live_hook, "dispatch", "--once", "--now", "2025-09-02 06:01")
    assert again.returncode == 0 and "lấy lại từ tiến trình đã dừng: 1" in again.stdout, again.stderr
    ref, state, remote_id = delivery(live_hook)
    assert (state, remote_id) == ("delivered", "item-1")
    assert receiver.posts_for(ref) == 1 and len(receiver.ledger) == 1
    log = json.loads(run(live_hook, "logs", "--json").stdout)
    assert [(r["action"], r["outcome"]) for r in log] == [("send", "interrupted"), ("reconcile", "reconcile:present")]


def test_killed_before_the_platform_stored_the_post_is_sent_exactly_once_more(live_hook, receiver):
    receiver.script = [("hang-before-storing",)]
    kill_mid_send(live_hook, receiver)
    run(live_hook, "dispatch", "--once", "--now", "2025-09-02 06:01")  # reconcile: the receiver has nothing
    assert delivery(live_hook)[1] == "retry_wait"
    run(live_hook, "dispatch", "--once", "--now", "2025-09-02 06:03")  # sent again, after the backoff
    ref, state, _ = delivery(live_hook)
    assert state == "delivered"
    assert receiver.posts_for(ref) == 2 and list(receiver.ledger) == [ref]
