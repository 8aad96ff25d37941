"""Page load times of the web app with 10,000 deliveries, on SQLite: the log, calendar, dashboard.

    .venv/bin/python bench/web_log.py [--deliveries 10000] [--runs 7]

Fills a fresh database (the shipped configuration, in a temporary folder) with ``--deliveries``
deliveries on the Mường La website over the past months, each with one send attempt (95% delivered,
the rest failed), logs in through the login form, then prints the median and worst time of:
the first page of the log, a page deep in it, the log filtered to failures, the whole CSV export,
the calendar of a month (2,880 deliveries) and of a week, the channels page and the dashboard.
Requests go through the app in process (FastAPI's test client): the time is the app's and the
database's, without a network.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from scheduler.app import App  # noqa: E402
from scheduler.clock import FrozenClock  # noqa: E402
from scheduler.record import catalog, users  # noqa: E402
from scheduler.record.db import migrate, write_session  # noqa: E402
from scheduler.record.models import Announcement, Approval, Attempt, Delivery  # noqa: E402
from scheduler.settings import PROJECT_ROOT, Settings  # noqa: E402
from scheduler.web import create_web  # noqa: E402

NOW = datetime(2025, 12, 20, 3, 0, tzinfo=UTC)


def fill(app: App, count: int) -> None:
    rng = random.Random(5)
    with write_session(app.engine) as session:
        catalog.sync(session, app.config)
        users.add_user(session, name="hung", role="approver", password="mat-khau-bench-2025", unit="muong-la",
                       actor="bench", now=NOW)
    anns, approvals, deliveries, attempts = [], [], [], []
    for n in range(1, count + 1):
        due = NOW - timedelta(minutes=15 * (count - n + 1))
        anns.append({"id": n, "unit_id": "muong-la", "ref_code": f"ML-2025-{n:05d}", "title": f"Tin {n}",
                     "body": "Nội dung", "topics": ["a"], "channels": ["muong-la-website"], "languages": ["vi"],
                     "priority": "normal", "status": "approved", "next_slot": False, "repeat": "none",
                     "author": "lan", "created_at": due, "updated_at": due, "evergreen": False})
        approvals.append({"id": n, "announcement_id": n, "decision": "approved", "actor": "hung", "reason": "",
                          "content_hash": "0" * 64, "decided_at": due, "void_reason": ""})
        ok = rng.random() < 0.95
        deliveries.append({"id": n, "announcement_id": n, "approval_id": n, "channel_id": "muong-la-website",
                           "lang": "vi", "ref_code": f"ML-2025-{n:05d}.1", "content_hash": "0" * 64, "due_at": due,
                           "expires_at": due + timedelta(hours=1), "priority_rank": 2,
                           "state": "delivered" if ok else "failed", "next_attempt_at": due, "attempt_count": 1,
                           "reconcile_count": 0, "preview": False, "origin": "schedule",
                           "finished_at": due + timedelta(seconds=2), "remote_url": f"/muong-la-website/{n}.html",
                           "last_error": None if ok else "HTTP 500", "created_at": due, "updated_at": due})
        attempts.append({"delivery_id": n, "attempt_id": str(uuid.UUID(int=n)), "kind": "send", "started_at": due,
                         "finished_at": due + timedelta(seconds=2), "outcome": "sent" if ok else "permanent",
                         "http_status": 200 if ok else 500, "duration_ms": 120, "message": "" if ok else "HTTP 500"})
    with app.engine.begin() as conn:
        for table, rows in ((Announcement, anns), (Approval, approvals), (Delivery, deliveries),
                            (Attempt, attempts)):
            conn.execute(sa.insert(table.__table__), rows)


def timed(browser: TestClient, path: str, runs: int) -> tuple[float, float, int]:
    times, size = [], 0
    for _ in range(runs):
        began = time.perf_counter()
        answer = browser.get(path)
        times.append(time.perf_counter() - began)
        assert answer.status_code == 200, answer.text[:300]
        size = len(answer.content)
    return statistics.median(times), max(times), size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="cchc-bench-web-"))
    try:
        shutil.copytree(PROJECT_ROOT / "config", folder / "config")
        settings = Settings(data_dir=folder / "data", config_dir=folder / "config",
                            database_url=f"sqlite:///{folder / 'cchc.db'}")
        app = App(settings, FrozenClock(NOW))
        migrate(app.engine)
        began = time.perf_counter()
        fill(app, args.deliveries)
        print(f"filled {args.deliveries} deliveries with their attempts in {time.perf_counter() - began:.1f} s")
        browser = TestClient(create_web(app))
        form = browser.get("/login").text
        token = re.search(r'name="csrf" value="([^"]+)"', form).group(1)
        browser.post("/login", data={"csrf": token, "name": "hung", "password": "mat-khau-bench-2025"})
        last = -(-args.deliveries // 50)
        for label, path in (("log, first page", "/deliveries"),
                            (f"log, page {last // 2}", f"/deliveries?page_no={last // 2}"),
                            ("log, failures only", "/deliveries?state=failed"),
                            ("CSV of the whole log", "/deliveries.csv"),
                            ("calendar, a full month", "/calendar?view=month&day=2025-11-15"),
                            ("calendar, a week", "/calendar?day=2025-11-15"),
                            ("channels and health", "/channels"),
                            ("dashboard", "/")):
            median, worst, size = timed(browser, path, args.runs)
            print(f"{label:24} median {median * 1000:7.1f} ms  worst {worst * 1000:7.1f} ms  {size / 1024:7.1f} KiB")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
