"""A small static file server for the built-in website folders (``data/site``), run by ``cchc run``.

It lets an office see its published pages at once on the local network without setting up a web
server. Read-only, no directory listings outside the site folder, and off when the port is 0.
"""

from __future__ import annotations

import functools
import html
import io
import logging
import os
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote

log = logging.getLogger("cchc.site")


class _QuietHandler(SimpleHTTPRequestHandler):
    """Files as they are; a folder without an index.html is listed in Vietnamese, a site by its channel's
    title (``titles``)."""

    def __init__(self, *args: object, titles: dict[str, str], **kwargs: object):
        self.titles = titles
        super().__init__(*args, **kwargs)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)

    def list_directory(self, path: str | os.PathLike) -> io.BytesIO | None:
        try:
            names = sorted(os.listdir(path))
        except OSError:
            self.send_error(HTTPStatus.NOT_FOUND, "Không có trang này")
            return None
        items = "".join(f'<li><a href="{quote(name)}/">{html.escape(self.titles.get(name, name))}</a></li>'
                        if os.path.isdir(os.path.join(path, name)) else
                        f'<li><a href="{quote(name)}">{html.escape(name)}</a></li>' for name in names)
        page = ('<!doctype html><html lang="vi"><head><meta charset="utf-8"><meta name="viewport" '
                'content="width=device-width, initial-scale=1"><title>Các trang thông tin đã đăng</title></head>'
                f'<body><h1>Các trang thông tin đã đăng</h1><ul>{items or "<li>Chưa có trang nào.</li>"}</ul>'
                '</body></html>').encode()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        return io.BytesIO(page)


def serve(folder: Path, host: str, port: int, titles: dict[str, str] | None = None) -> ThreadingHTTPServer:
    """Serve ``folder`` on ``host:port`` in a daemon thread; returns the server (``shutdown()`` stops it)."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_QuietHandler, directory=str(folder), titles=titles or {})
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="site-http", daemon=True).start()
    log.info("website folders served at http://%s:%s/", host, server.server_address[1])
    return server
