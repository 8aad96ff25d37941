"""One contract for every channel kind that talks HTTP: what each answer of a platform means.

Each kind's real code sends one post to a local server that answers the way platforms fail:
its own fake's success (200), a refusal (400), a rate limit with ``Retry-After``, a server error
(503), a closed port, and a read timeout after the whole request arrived. The receipt's outcome
class must say what happened, so the dispatcher neither gives up on what can still go out nor
re-sends what may already be out: a request that reached the platform and got no answer is never
"safe to retry". No secret appears in any receipt or log line, at DEBUG.

A new kind is added to ``KINDS`` (or to ``NO_HTTP`` with the reason) or this test fails.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from channels import REGISTRY, build_channel
from channels.base import Outcome, Post, Wiring
from channels.tokens import Tokens
from tests.fakes import FakeGraph, FakeReceiver, FakeTikTok, FakeWordPress, FakeZalo

NO_HTTP = {"website": "writes pages into a folder", "loudspeaker": "waits for a slot; playout is tested in "
                                                                   "test_loudspeaker.py against Icecast"}
SECRETS = {"CONTRACT_HOOK_TOKEN": "contract-hook-token-0001", "CONTRACT_FB_TOKEN": "EAAGcontractPageToken0001",
           "CONTRACT_FB_SECRET": "contract-fb-secret-0001", "CONTRACT_WP_PASSWORD": "cont ract pass word 0001",
           "CONTRACT_ZALO_SECRET": "contract-zalo-secret-0001", "CONTRACT_TT_SECRET": "contract-tiktok-secret-0001"}
ACCESS, REFRESH = "contract-access-token-0001", "contract-refresh-token-0001"
PAGE, APP_ID, CLIENT_KEY = "100000000000001", "1234567890123456789", "contractclientkey"


class MemoryTokens:
    """A ``channels.tokens.TokenStore`` held in memory: the channel's contract needs no database."""

    channel = "contract"

    def __init__(self) -> None:
        now = datetime.now(UTC)
        self.tokens = Tokens(ACCESS, REFRESH, now + timedelta(hours=20), now + timedelta(days=80), 1)

    def now(self) -> datetime:
        return datetime.now(UTC)

    def stored(self) -> bool:
        return True

    def load(self) -> Tokens:
        return self.tokens

    def save(self, tokens: Tokens) -> Tokens:
        self.tokens = replace(tokens, version=self.tokens.version + 1)
        return self.tokens

    def renew(self, seen: Tokens, exchange) -> Tokens:  # noqa: ANN001
        return self.save(exchange(seen))


def settings_for(kind: str, url: str) -> dict:
    return {
        "webhook": {"url": f"{url}/hook", "reconcile_url": f"{url}/hook", "token_env": "CONTRACT_HOOK_TOKEN",
                    "timeout_seconds": 1},
        "facebook": {"page_id": PAGE, "token_env": "CONTRACT_FB_TOKEN", "app_secret_env": "CONTRACT_FB_SECRET",
                     "graph_url": url, "timeout_seconds": 1},
        "wordpress": {"url": url, "user": "bientap", "password_env": "CONTRACT_WP_PASSWORD", "audio": False,
                      "timeout_seconds": 1},
        "zalo": {"app_id": APP_ID, "secret_key_env": "CONTRACT_ZALO_SECRET", "api_url": url, "oauth_url": url,
                 "cover_url": "https://example.org/bia.jpg", "verify_wait_seconds": 0, "timeout_seconds": 1},
        "tiktok": {"client_key": CLIENT_KEY, "client_secret_env": "CONTRACT_TT_SECRET", "api_url": url,
                   "status_wait_seconds": 0, "timeout_seconds": 1, "upload_timeout_seconds": 1},
    }[kind]


def real_fake(kind: str):
    """The kind's own fake, answering as the platform does when all is well."""
    if kind == "webhook":
        fake = FakeReceiver()
        fake.token = SECRETS["CONTRACT_HOOK_TOKEN"]
        return fake
    if kind == "facebook":
        return FakeGraph(PAGE, SECRETS["CONTRACT_FB_TOKEN"], app_secret=SECRETS["CONTRACT_FB_SECRET"])
    if kind == "wordpress":
        fake = FakeWordPress("bientap", SECRETS["CONTRACT_WP_PASSWORD"])
        fake.terms["categories"]["Cải cách hành chính"] = 2
        return fake
    if kind == "zalo":
        fake = FakeZalo(APP_ID, SECRETS["CONTRACT_ZALO_SECRET"], REFRESH)
        fake.access_tokens.add(ACCESS)
        return fake
    fake = FakeTikTok(CLIENT_KEY, SECRETS["CONTRACT_TT_SECRET"], REFRESH)
    fake.access_tokens.add(ACCESS)
    return fake


class Misbehaving:
    """Answers every request the same bad way, after reading all of it: ``(status, headers, body)``,
    or ``"stall"`` (no answer until the client gives up)."""

    def __init__(self, answer) -> None:  # noqa: ANN001
        self.requests: list[tuple[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # noqa: ANN002
                pass

            def _any(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                outer.requests.append((self.command, self.path))
                if answer == "stall":
                    time.sleep(2.5)
                    return
                status, headers, body = answer
                data = body.encode()
                self.send_response(status)
                for key, value in {"Content-Type": "application/json", **headers}.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _any  # noqa: N815

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


KINDS = ["webhook", "facebook", "wordpress", "zalo", "tiktok"]
BAD = {
    "400": (400, {}, json.dumps({"error": {"message": "Invalid parameter", "code": 100}})),
    "429": (429, {"Retry-After": "120"}, json.dumps({"error": "Too Many Requests"})),
    "503": (503, {}, "<html>Service Unavailable</html>"),
}
CASES = ["200", "400", "429", "503", "refused", "timeout"]


def test_every_kind_is_in_the_contract_or_says_why_not():
    assert set(REGISTRY) == set(KINDS) | set(NO_HTTP)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", KINDS)
def test_each_answer_of_a_platform_gets_its_outcome_and_no_secret_shows(kind, case, tmp_path, monkeypatch, caplog):
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    server = real_fake(kind) if case == "200" else Misbehaving("stall" if case == "timeout" else BAD.get(case))
    url = closed_port() if case == "refused" else server.url
    channel = build_channel("contract", kind, settings_for(kind, url), data_dir=tmp_path,
                            wiring=Wiring(tokens=lambda name: MemoryTokens()))
    if kind == "tiktok":
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(b"\x00" * 4096)
        monkeypatch.setattr(channel, "make_video", lambda post: Path(clip))
    now = datetime.now(UTC)
    post = Post(delivery_id=1, ref_code="ML-2026-0042.1", announcement_id=42, lang="vi",
                title="Lịch tiếp công dân tháng 12", body="UBND xã thông báo lịch tiếp công dân.", priority="normal",
                topics=[], due_at=now, unit_name="UBND xã Mường La", sent_at=now)
    caplog.set_level(logging.DEBUG)
    try:
        receipt = channel.send(post)
    finally:
        server.close()
    creates = [r for r in getattr(server, "requests", []) if isinstance(r, tuple) and r[0] in ("POST", "PUT")]

    if case == "200":
        assert receipt.outcome in (Outcome.SENT, Outcome.PENDING), receipt
    elif case == "400":
        assert receipt.outcome in (Outcome.PERMANENT, Outcome.NEEDS_REAUTH), receipt
    elif case == "429":
        assert receipt.outcome == Outcome.RATE_LIMITED, receipt
        assert (receipt.retry_after or 0) >= 120 or (receipt.channel_wait or 0) >= 120, receipt
    elif case == "503":
        assert receipt.outcome in (Outcome.RETRYABLE, Outcome.UNKNOWN), receipt
    elif case == "refused":
        assert receipt.outcome == Outcome.RETRYABLE, receipt
    else:  # the request arrived whole and no answer came: retrying blindly could post it twice
        assert receipt.outcome in (Outcome.UNKNOWN, Outcome.RETRYABLE), receipt
        if receipt.outcome == Outcome.RETRYABLE:
            assert creates == [], f"{receipt} after {creates}"
    if receipt.outcome not in (Outcome.SENT, Outcome.PENDING):
        assert receipt.message, receipt  # staff read why
    shown = "\n".join([repr(receipt), receipt.message, *(r.getMessage() for r in caplog.records)])
    for secret in [*SECRETS.values(), ACCESS, REFRESH]:
        assert secret not in shown, secret
