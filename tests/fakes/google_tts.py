"""A local fake of the Google Translate TTS endpoint that gTTS calls (``api_contracts.md`` section 5)."""

from __future__ import annotations

import base64
import json
import time

from tests.fakes.base import FakeServer, JsonHandler, serve


class FakeGoogleTTS(FakeServer):
    """Google Translate's TTS endpoint as gTTS 2.5.4 calls it (research/api_contracts.md §5).

    ``POST /_/TranslateWebserverUi/data/batchexecute`` with form field ``f.req`` (JSON in JSON,
    inner list ``[text, lang, speed, "null"]``); answers the length-prefixed ``)]}'`` frames with
    compact separators and the base64 of a real MP3. ``mode``: "ok", 429, 500, 503, "slow" (sleeps
    past the client's timeout), "empty" (200 without an audio frame). Unknown languages get the
    null-payload frame, as Google does.
    """

    SUPPORTED = {"vi", "en", "th"}

    def __init__(self, mp3: bytes) -> None:
        from urllib.parse import parse_qs as parse_form

        self.mode: object = "ok"
        self.requests: list[list] = []
        audio = base64.b64encode(mp3).decode()
        fake = self

        class Handler(JsonHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length", 0))
                form = parse_form(self.rfile.read(length).decode())
                envelope = json.loads(form["f.req"][0])
                inner = json.loads(envelope[0][0][1])
                fake.requests.append(inner)
                if self.path != "/_/TranslateWebserverUi/data/batchexecute":
                    self._send(404, "Not Found")
                    return
                if isinstance(fake.mode, int):
                    self._send(fake.mode, "error", {"Retry-After": "30"} if fake.mode == 429 else None)
                    return
                if fake.mode == "slow":
                    time.sleep(6)  # far past the client's timeout: a cut request shows however busy the machine
                if fake.mode == "empty":
                    self._send(200, ")]}'\n\n27\n[[\"e\",4,null,null,5662]\n]\n")
                    return
                payload = "null" if inner[1] not in fake.SUPPORTED else json.dumps(f'["{audio}"]\n')
                frame = f'[["wrb.fr","jQ1olc",{payload},null,null,null,"generic"]]'
                self._send(200, f")]}}'\n\n{len(frame)}\n{frame}\n")

        self.server, base = serve(Handler)
        self.url = f"{base}/"
