"""Every route of the web app is guarded by construction: each one outside the public routers needs a session
before anything of the request is read, and each one a role or a province account is for refuses the others.
The walks list the app's routes, so a route added without its guard fails here (fail closed)."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from scheduler.record import users
from scheduler.record.db import write_session
from scheduler.web import create_web
from scheduler.web.deps import admin_only, approver_only, province_only, staff
from scheduler.web.routes import PUBLIC, ROUTERS
from tests.web import client, logged_in

PUBLIC_PATHS = {(method, route.path) for router in PUBLIC for route in router.routes for method in route.methods}
DOCS = {"/api/docs", "/api/openapi.json"}  # the API's description: no data in it
ROLE_MESSAGES = {approver_only: "Chỉ người có vai trò Thẩm định hoặc Quản trị",
                 admin_only: "Chỉ người có vai trò Quản trị", province_only: "dành cho tài khoản cấp tỉnh"}
# Routes whose role depends on the action named in the path: the action an editor may not do.
BY_ACTION = {"/announcements/{announcement_id}/{action}": "approve",
             "/api/announcements/{announcement_id}/{action}": "approve"}


def calls(dependant) -> set:
    """Every function a route's dependencies call, however deep."""
    found = set()
    for sub in dependant.dependencies:
        found.add(sub.call)
        found |= calls(sub)
    return found


def routes() -> list[tuple[str, APIRoute]]:
    return [(method, route) for router in ROUTERS for route in router.routes for method in sorted(route.methods)]


def address(path: str) -> str:
    """A concrete address for a route's path: numbers for ids, a word for names."""
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m.group(1).endswith("_id") else
                  BY_ACTION.get(path, "x") if m.group(1) == "action" else "x", path)


def test_every_route_but_the_public_ones_needs_a_session_by_construction(app):
    web = create_web(app)
    listed = {(m, r.path) for r in web.routes if isinstance(r, APIRoute) for m in r.methods}
    ours = {(method, route.path) for method, route in routes()}
    assert listed - ours <= {("GET", path) for path in DOCS}, "a route outside scheduler/web/routes"
    unguarded = [(method, route.path) for method, route in routes() if (method, route.path) not in PUBLIC_PATHS
                 and staff not in calls(route.dependant)]
    assert unguarded == []


def test_an_anonymous_request_to_any_guarded_route_is_sent_to_log_in_before_its_input_is_read(app):
    browser = client(app)
    for method, route in routes():
        if (method, route.path) in PUBLIC_PATHS:
            continue
        # a body and a query that would be wrong: the missing session must be said first
        answer = browser.request(method, address(route.path), params={"period": "sai", "page_no": "-1"},
                                 content=b"{not json" if route.path.startswith("/api/") else b"",
                                 headers={"Content-Type": "application/json" if route.path.startswith("/api/")
                                          else "application/x-www-form-urlencoded"})
        if route.path.startswith("/api/"):
            assert answer.status_code == 401 and answer.json() == {"error": "cần đăng nhập"}, (method, route.path)
        else:
            assert answer.status_code == 303 and answer.headers["location"].startswith("/login"), (method,
                                                                                                  route.path)


@pytest.fixture
def roles(staff):
    """Mường La's editor, approver and admin (lan, hung, mai)."""
    return staff


def test_every_route_for_a_role_refuses_the_roles_below_it(roles):
    editor, editor_csrf = logged_in(roles, "lan")
    approver, approver_csrf = logged_in(roles, "hung")
    checked = 0
    for method, route in routes():
        needs = calls(route.dependant) & set(ROLE_MESSAGES)
        if route.path in BY_ACTION:
            needs = {approver_only}
        for guard in needs:
            browser, csrf = (approver, approver_csrf) if guard is admin_only else (editor, editor_csrf)
            data = {"csrf": csrf}
            answer = browser.request(method, address(route.path), data=data if method == "POST" else None,
                                     headers={"X-CSRF-Token": csrf})
            body = answer.text
            assert answer.status_code == 403 and ROLE_MESSAGES[guard] in body, (method, route.path, answer.text[:200])
            checked += 1
    assert checked >= 10  # settle, station sound (2), accounts (3), audit, province (2), approve (2)


def test_a_commune_account_is_refused_the_province_s_pages(roles):
    with write_session(roles.engine) as session:
        users.add_user(session, name="xa.quantri", role="admin", password="mat-khau-dung-chung-2025",
                       unit="muong-la", actor="test", now=roles.now())
    commune, _ = logged_in(roles, "xa.quantri", "mat-khau-dung-chung-2025")
    for path in ("/province", "/province/export"):
        answer = commune.get(path)
        assert answer.status_code == 403 and "dành cho tài khoản cấp tỉnh" in answer.text


def test_a_wrong_body_from_a_logged_in_account_is_named_as_before(roles):
    lan, csrf = logged_in(roles, "lan")
    answer = lan.post("/api/announcements", json={"title": ["not", "text"]}, headers={"X-CSRF-Token": csrf})
    assert answer.status_code == 422 and answer.json()["error"] == "dữ liệu không hợp lệ ở: title"
    broken = lan.post("/api/announcements", content=b"{not json", headers={"X-CSRF-Token": csrf,
                                                                        "Content-Type": "application/json"})
    assert broken.status_code == 422 and "dữ liệu không hợp lệ" in broken.json()["error"]
