"""A logged-in browser for the web app's tests: the staff accounts, their CSRF tokens, composing."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from scheduler.record import users
from scheduler.record.db import write_session
from scheduler.web import create_web

PASSWORDS = {"lan": "mat-khau-cua-Lan-2025", "hung": "mat-khau-cua-Hung-2025", "mai": "mat-khau-cua-Mai-2025"}
ROLES = {"lan": "editor", "hung": "approver", "mai": "admin"}


def add_staff(app, unit: str = "muong-la"):
    """The app with three accounts of ``unit``: an editor (lan), an approver (hung), an admin (mai)."""
    with write_session(app.engine) as session:
        for name, password in PASSWORDS.items():
            users.add_user(session, name=name, role=ROLES[name], password=password, unit=unit, actor="test",
                           now=app.now())
    return app


def client(app) -> TestClient:
    return TestClient(create_web(app), follow_redirects=False)


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def logged_in(app, name: str, password: str | None = None) -> tuple[TestClient, str]:
    """A browser logged in as ``name``, and the CSRF token its forms carry."""
    browser = client(app)
    form = browser.get("/login")
    answer = browser.post("/login", data={"csrf": csrf_of(form.text), "name": name,
                                          "password": password or PASSWORDS[name], "next": "/"})
    assert answer.status_code == 303, answer.text
    return browser, csrf_of(browser.get("/").text)


def compose(browser, csrf, **fields) -> int:
    data = {"csrf": csrf, "title": "Lịch tiếp công dân tháng 12", "body": "Chủ tịch UBND xã tiếp công dân.",
            "topics": "a", "channels": "muong-la-website", "languages": "vi", "at": "2025-09-01T09:00",
            "priority": "normal", **fields}
    answer = browser.post("/announcements", data=data)
    assert answer.status_code == 303, answer.text
    return int(re.search(r"/announcements/(\d+)", answer.headers["location"]).group(1))


def content_hash_of(html: str) -> str:
    """The content hash the announcement page's approve form carries: the version the approver read."""
    return re.search(r'name="content_hash" value="([0-9a-f]{64})"', html).group(1)


def approve(browser, csrf, ann_id: int):
    """Open the announcement page as an approver would, then approve the version it showed."""
    shown = content_hash_of(browser.get(f"/announcements/{ann_id}").text)
    return browser.post(f"/announcements/{ann_id}/approve", data={"csrf": csrf, "content_hash": shown})
