"""What the fakes share: a quiet HTTP/1.1 handler that answers JSON (and, for the secret-leak test, can
echo what it was sent), a server base that closes, and a way to serve one on a free loopback port."""

from __future__ import annotations

import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class JsonHandler(BaseHTTPRequestHandler):
    """Request handler base of the fakes: HTTP/1.1, quiet, and one way to answer with JSON.

    A careless platform: with ``server.echo`` set, every JSON answer also carries what the request
    sent (headers, query, body), and with ``server.echo == "fail"`` it is an HTTP 500 as well, so
    every secret a channel sends comes back inside an error message (the secret-leak test).
    """

    protocol_version = "HTTP/1.1"

    def log_message(self, *args):  # noqa: ANN002
        pass

    def parse_request(self) -> bool:
        ok = super().parse_request()
        if ok and getattr(self.server, "echo", None):  # keep the body to echo it; the connection then closes
            length = int(self.headers.get("Content-Length") or 0)
            self.raw_body = self.rfile.read(length) if length else b""
            self.rfile = io.BytesIO(self.raw_body)
        return ok

    def _reply(self, status: int, body: dict | list | None = None, headers: dict | None = None) -> None:
        echo = getattr(self.server, "echo", None)
        if echo:
            sent = {"path": self.path, "headers": dict(self.headers),
                    "body": getattr(self, "raw_body", b"")[:4000].decode("utf-8", "replace")}
            body = {**body, "echo": sent} if isinstance(body, dict) else {"data": body, "echo": sent}
            if echo == "fail":
                status = 500
        self._send(status, json.dumps(body or {}, ensure_ascii=False), headers)

    def _send(self, status: int, text: str, headers: dict | None = None,
              content_type: str = "application/json; charset=UTF-8") -> None:
        data = text.encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class FakeServer:
    """What every fake shares: it runs in a daemon thread on loopback until ``close``."""

    server: ThreadingHTTPServer

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def serve(handler: type[BaseHTTPRequestHandler]) -> tuple[ThreadingHTTPServer, str]:
    """Start ``handler`` on a free loopback port in a daemon thread; returns the server and its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"
