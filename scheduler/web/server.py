"""Serving the web app with uvicorn: in the foreground (``cchc web``) or beside the scheduler in a
thread (``cchc run``)."""

from __future__ import annotations

import logging
import threading

import uvicorn

from scheduler.app import App
from scheduler.web.app import create_web

log = logging.getLogger("cchc.web")


def server(app: App, host: str, port: int) -> uvicorn.Server:
    # Proxy headers are read by the app itself, from CCHC_TRUSTED_PROXIES only (create_web).
    # log_config=None: its loggers go to ours (one format, JSON if asked, secrets redacted)
    return uvicorn.Server(uvicorn.Config(create_web(app), host=host, port=port, log_level="warning", log_config=None,
                                         proxy_headers=False, access_log=False))


def start_in_thread(app: App, host: str, port: int) -> uvicorn.Server:
    """Start the web app beside the scheduler; ``should_exit = True`` stops it."""
    web = server(app, host, port)
    threading.Thread(target=web.run, name="web", daemon=True).start()
    log.info("staff web app at http://%s:%s/", host, port)
    return web
