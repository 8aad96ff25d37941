"""A local fake of a smart-radio platform that takes programmes uploaded ahead (``playout = "http"``)."""

from __future__ import annotations

from email.parser import BytesParser
from urllib.parse import parse_qs

from tests.fakes.base import FakeServer, JsonHandler, serve


class FakeRadioPlatform(FakeServer):
    """A smart-radio platform following the generic upload contract of ``HttpPlayout``."""

    def __init__(self, token: str) -> None:

        self.token, self.uploads, self.status = token, [], 201
        self.withdrawn: list[str] = []
        fake = self

        class Handler(JsonHandler):
            def do_DELETE(self):  # noqa: N802
                from urllib.parse import urlsplit

                if self.headers.get("X-Api-Key") != f"Token {fake.token}":
                    return self._reply(401, {"error": "no"})
                ref = parse_qs(urlsplit(self.path).query).get("client_ref", [""])[0]
                kept = [u for u in fake.uploads if u["fields"].get("client_ref") != ref]
                found = len(kept) != len(fake.uploads)
                fake.uploads[:] = kept
                fake.withdrawn.append(ref)
                self._reply(200 if found else 404, {"deleted": found})

            def do_POST(self):  # noqa: N802
                from email.policy import HTTP

                length = int(self.headers.get("Content-Length", 0))
                raw = self.rfile.read(length)
                message = BytesParser(policy=HTTP).parsebytes(
                    f"Content-Type: {self.headers['Content-Type']}\r\n\r\n".encode() + raw)
                fields, files = {}, {}
                for part in message.iter_parts():
                    name = part.get_param("name", header="content-disposition")
                    if part.get_filename():
                        files[name] = part.get_payload(decode=True)
                    else:
                        fields[name] = part.get_content()
                authorised = self.headers.get("X-Api-Key") == f"Token {fake.token}"
                status = fake.status if authorised else 401
                body = {"data": {"id": f"prog-{len(fake.uploads) + 1}"}} if status < 300 else {"error": "no"}
                if status < 300:  # the same external id replaces the earlier upload
                    fake.uploads[:] = [u for u in fake.uploads if u["fields"].get("client_ref") is None
                                       or u["fields"].get("client_ref") != fields.get("client_ref")]
                    fake.uploads.append({"fields": fields, "files": files})
                self._reply(status, body)

        self.server, base = serve(Handler)
        self.url = f"{base}/api/programmes"
