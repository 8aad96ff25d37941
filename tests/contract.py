"""The contract every channel kind that talks HTTP keeps: what each answer of a platform means.

A kind's test module says how to reach its platform in a ``Contract`` (its settings, its fake, its secrets)
and asks for the cases (``cases``), as Apprise's plugins do with their URL tester: the harness below is never
edited to add a kind. Each case sends one post with the kind's real code to a local server that answers the
way platforms fail: its own fake's success (200), a refusal (400), a rate limit with ``Retry-After``, a server
error (503), a closed port, and a read timeout after the whole request arrived. The receipt's outcome class
must say what happened, so the dispatcher neither gives up on what can still go out nor re-sends what may
already be out: a request that reached the platform and got no answer is never "safe to retry". No secret
appears in any receipt or log line, at DEBUG.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from channels import build_channel
from channels.base import Outcome, Post, Wiring
from channels.tokens import Tokens

ACCESS, REFRESH = "contract-access-token-0001", "contract-refresh-token-0001"  # what the token store holds
BAD = {
    "400": (400, {}, json.dumps({"error": {"message": "Invalid parameter", "code": 100}})),
    "429": (429, {"Retry-After": "120"}, json.dumps({"error": "Too Many Requests"})),
    "503": (503, {}, "<html>Service Unavailable</html>"),
}
CASES = ["200", "400", "429", "503", "refused", "timeout"]


@dataclass(frozen=True)
class Contract:
    """How the harness reaches one kind: ``settings(url)`` points the channel at a server, ``fake()`` is the
    platform's own fake answering as all is well, ``secrets`` the environment the settings name (none may leak),
    ``ready(channel, folder, monkeypatch)`` whatever the kind needs before a send (a video to upload)."""

    kind: str
    settings: Callable[[str], dict[str, Any]]
    fake: Callable[[], Any]
    secrets: dict[str, str] = field(default_factory=dict)
    ready: Callable[..., None] | None = None


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


def cases(contract: Contract) -> Callable:
    """The contract's test for ``contract``'s kind, one case a way of failing; a kind's module binds it to a
    ``test_`` name."""

    @pytest.mark.parametrize("case", CASES)
    def test_each_answer_of_the_platform_gets_its_outcome_and_no_secret_shows(case, tmp_path, monkeypatch, caplog):
        check(contract, case, tmp_path, monkeypatch, caplog)

    return test_each_answer_of_the_platform_gets_its_outcome_and_no_secret_shows


def check(contract: Contract, case: str, tmp_path, monkeypatch, caplog) -> None:  # noqa: ANN001
    for name, value in contract.secrets.items():
        monkeypatch.setenv(name, value)
    server = contract.fake() if case == "200" else Misbehaving("stall" if case == "timeout" else BAD.get(case))
    url = closed_port() if case == "refused" else server.url
    channel = build_channel("contract", contract.kind, contract.settings(url), data_dir=tmp_path,
                            wiring=Wiring(tokens=lambda name: MemoryTokens()))
    if contract.ready is not None:
        contract.ready(channel, tmp_path, monkeypatch)
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
    for secret in [*contract.secrets.values(), ACCESS, REFRESH]:
        assert secret not in shown, secret
