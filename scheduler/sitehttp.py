"""A small static file server for the built-in website folders (``data/site``), run by ``cchc run``.

It lets an office see its published pages at once on the local network without setting up a web
server. Read-only, no directory listings outside the site folder, and off when the port is 0.
"""

from __future__ import annotations

import functools
import logging
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

log = logging.getLogger("cchc.site")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        log.debug("%s " + format, self.address_string(), *args)


def serve(folder: Path, host: str, port: int) -> ThreadingHTTPServer:
    """Serve ``folder`` on ``host:port`` in a daemon thread; returns the server (``shutdown()`` stops it)."""
    folder.mkdir(parents=True, exist_ok=True)
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="site-http", daemon=True).start()
    log.info("website folders served at http://%s:%s/", host, server.server_address[1])
    return server
