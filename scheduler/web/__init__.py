"""The staff web app (``cchc web``, and inside ``cchc run``): server-rendered pages in Vietnamese
over the same core functions as the command line, and a JSON API for the same operations."""

from scheduler.web.app import create_web

__all__ = ["create_web"]
