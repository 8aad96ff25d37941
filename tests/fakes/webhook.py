"""A local fake of a webhook receiver that follows the contract in ``channels/webhook.py``.

It keeps a ledger of every item it stored, so tests count duplicates, and can be told to answer
each POST in a scripted way: an HTTP status (with headers), "store then stall" (the request times
out on the client after the item exists), "hang until released", or "drop the connection".
"""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import parse_qs, urlparse

from tests.fakes.base import FakeServer, JsonHandler, serve


class FakeReceiver(FakeServer):
    def __init__(self) -> None:
        self.ledger: dict[str, dict] = {}
        self.stores: dict[str, int] = {}  # how many times each ref was stored (twice: a duplicate post)
        self.requests: list[dict] = []
        # (status, headers) | ("stall", seconds) | ("hang",) | ("hang-before-storing",) | ("drop",)
        self.script: list[tuple] = []
        self.release = threading.Event()
        self.token: str | None = None
        self.delay = 0.0  # seconds each POST takes before the item is stored and answered (a slow platform)
        receiver = self

        class Handler(JsonHandler):
            def do_GET(self):  # noqa: N802
                ref = parse_qs(urlparse(self.path).query).get("ref", [""])[0]
                item = receiver.ledger.get(ref)
                if item is None:
                    self._reply(404, {"error": "not found"})
                else:
                    self._reply(200, item)

            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                payload = json.loads(self.rfile.read(length))
                receiver.requests.append({"headers": dict(self.headers), "json": payload, "at": time.monotonic()})
                if receiver.token and self.headers.get("Authorization") != f"Bearer {receiver.token}":
                    self._reply(401, {"error": "invalid token"})
                    return
                step = receiver.script.pop(0) if receiver.script else (200, {})
                if step[0] == "hang-before-storing":
                    receiver.release.wait(30)
                    self.connection.shutdown(2)
                    return
                if step[0] == "drop":
                    self.connection.shutdown(2)
                    return
                time.sleep(receiver.delay)
                item = {"id": f"item-{len(receiver.ledger) + 1}", "url": f"http://fake/{payload['ref']}",
                        "ref": payload["ref"]}
                if isinstance(step[0], int) and step[0] >= 300:
                    self._reply(step[0], {"error": "scripted"}, step[1])
                    return
                receiver.ledger[payload["ref"]] = item
                receiver.stores[payload["ref"]] = receiver.stores.get(payload["ref"], 0) + 1
                if step[0] == "stall":
                    time.sleep(step[1])
                elif step[0] == "hang":
                    receiver.release.wait(30)
                self._reply(200 if not isinstance(step[0], int) else step[0], item)

        self.server, base = serve(Handler)
        self.url = f"{base}/hook"

    def posts_for(self, ref: str) -> int:
        return sum(1 for r in self.requests if r["json"]["ref"] == ref)

    def close(self) -> None:
        self.release.set()
        super().close()
