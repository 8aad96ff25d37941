"""Dispatch throughput and cost, as ratios against a bare ``requests.Session`` loop in the same run.

    .venv/bin/python bench/dispatch.py [--deliveries 2000] [--runs 5] [--db sqlite,postgresql]
                                       [--history 1000,10000,100000] [--latency-ms 50]

A local server in its own process answers the webhook contract (tests/fakes/webhook.py's FakeReceiver does
the same, slower) at once, or after ``--latency-ms``. For each database it prints:

1. draining ``--deliveries`` due webhook deliveries with ``Dispatcher.run_once`` against posting the
   same bodies with a bare ``requests.Session`` loop (median of ``--runs``), and the SQL statements
   the project ran per delivery;
2. the same drain when every answer takes ``--latency-ms``, against the most a channel's
   ``in_flight`` sends allow (in_flight ÷ latency);
3. one pass with 100 due deliveries over 1k, 10k and 100k delivered ones of history, each against
   the 1k pass (a scan that grows with history shows here).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import requests  # noqa: E402
import sqlalchemy as sa  # noqa: E402

from scheduler.clock import Clock  # noqa: E402
from scheduler.outbox.states import RetryPolicy  # noqa: E402
from scheduler.record.db import database_clock, make_engine, migrate, write_session  # noqa: E402
from scheduler.record.models import Delivery  # noqa: E402
from scheduler.settings import Settings  # noqa: E402
from tests.helpers import approved, make_app, set_channel  # noqa: E402
from tests.pg import PostgresServer  # noqa: E402

CHANNEL, TOKEN = "muong-la-webhook", "bench-webhook-token-0001"
HISTORY_DUE = 100


def serve(port: multiprocessing.Value, latency: float) -> None:
    """The receiving system: stores nothing, answers ``{"id": ref}`` (after ``latency`` seconds)."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body leave at once, as from a real server

        def do_POST(self) -> None:  # noqa: N802
            payload = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            if latency:
                time.sleep(latency)
            body = json.dumps({"id": payload["ref"], "url": f"https://example.invalid/{payload['ref']}"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    port.value = server.server_address[1]
    server.serve_forever()


def start_server(latency: float) -> tuple[multiprocessing.Process, str]:
    port = multiprocessing.Value("i", 0)
    process = multiprocessing.Process(target=serve, args=(port, latency), daemon=True)
    process.start()
    while not port.value:
        time.sleep(0.01)
    return process, f"http://127.0.0.1:{port.value}/hook"


class Project:
    """One database with the shipped configuration, the webhook channel live against ``url``."""

    def __init__(self, folder: Path, url: str, db_url: str):
        config = folder / "config"
        shutil.copytree(ROOT / "config", config)
        set_channel(config, CHANNEL, mode="live", url=f'"{url}"', reconcile_url=f'"{url}"')
        self.settings = Settings(data_dir=folder / "data", config_dir=config, database_url=db_url,
                                 site_port=0, web_port=0)
        migrate(make_engine(db_url))
        self.app = make_app(self.settings, Clock())
        self.template = approved(self.app, channels=[CHANNEL], title="Thông báo lịch tiếp công dân",
                                 body="UBND xã Mường La thông báo lịch tiếp công dân tháng 12/2026. " * 4)
        with write_session(self.app.engine) as session:
            self.row = session.exec(sa.select(Delivery).where(
                Delivery.announcement_id == self.template.id)).scalars().first().model_dump()
        self.serial = 0
        self.statements = 0
        sa.event.listen(self.app.engine, "before_cursor_execute", self._count)

    def _count(self, *args: object) -> None:
        self.statements += 1

    def add(self, count: int, *, state: str = "pending") -> None:
        """``count`` copies of the template delivery: due now (``pending``) or long ``delivered``."""
        now = self.app.now()
        rows = []
        for _ in range(count):
            self.serial += 1
            at = now - timedelta(minutes=1, seconds=self.serial)
            row = dict(self.row, id=None, ref_code=f"B-{self.serial}", due_at=at, next_attempt_at=at,
                       expires_at=now + timedelta(hours=6), state=state)
            if state == "delivered":
                old = at - timedelta(days=30)
                row.update(due_at=old, next_attempt_at=old, finished_at=old,
                           attempt_count=1, remote_id=f"B-{self.serial}")
            rows.append(row)
        with self.app.engine.begin() as conn:
            conn.execute(sa.insert(Delivery.__table__), [{k: v for k, v in r.items() if k != "id"} for r in rows])

    def clear_due(self) -> None:
        with self.app.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM attempt WHERE delivery_id IN "
                                 "(SELECT id FROM delivery WHERE ref_code LIKE 'B-%' AND state != 'delivered' "
                                 "OR ref_code LIKE 'B-%' AND finished_at > :t)"), {"t": self.app.now() - timedelta(1)})
            conn.execute(sa.text("DELETE FROM delivery WHERE ref_code LIKE 'B-%' AND (state != 'delivered' "
                                 "OR finished_at > :t)"), {"t": self.app.now() - timedelta(1)})

    def drain(self) -> tuple[float, int]:
        """Seconds to send everything due, and the deliveries sent."""
        dispatcher = self.app.dispatcher(RetryPolicy())
        sent, began = 0, time.perf_counter()
        while True:
            report = dispatcher.run_once()
            done = sum(report.sent.values())
            sent += done
            if not done:
                return time.perf_counter() - began, sent

    def bodies(self, count: int) -> list[tuple[dict, dict]]:
        channel = self.app.channels[CHANNEL]
        from scheduler.outbox.posts import post_or_cancel

        with write_session(self.app.engine) as session:
            d = session.exec(sa.select(Delivery).where(Delivery.announcement_id == self.template.id)).scalars().first()
            post = post_or_cancel(session, d, self.app.now())
            session.rollback()
        return [(channel._payload(post) | {"ref": f"B-{n}"}, channel._headers(post, TOKEN)) for n in range(count)]


def bare_loop(url: str, bodies: list[tuple[dict, dict]]) -> float:
    """The baseline: the same posts from one ``requests.Session``, nothing recorded."""
    session = requests.Session()
    began = time.perf_counter()
    for payload, headers in bodies:
        response = session.post(url, json=payload, headers=headers, timeout=10)
        response.raise_for_status()
        response.json()
    return time.perf_counter() - began


def database(kind: str, folder: Path, servers: list) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / 'cchc.db'}"
    server = PostgresServer()
    server.start()
    servers.append(server)
    return server.create("bench")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--deliveries", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--history", default="1000,10000,100000")
    parser.add_argument("--latency-ms", type=float, default=50)
    args = parser.parse_args()
    os.environ["CCHC_WEBHOOK_TOKEN"] = TOKEN
    servers: list = []
    fast, url = start_server(0)
    slow, slow_url = start_server(args.latency_ms / 1000)
    try:
        for kind in args.db.split(","):
            folder = Path(tempfile.mkdtemp(prefix="cchc-bench-"))
            try:
                run_one(kind, folder, database(kind, folder, servers), url, slow_url, args)
            finally:
                shutil.rmtree(folder, ignore_errors=True)
    finally:
        fast.terminate()
        slow.terminate()
        for server in servers:
            server.stop()


def run_one(kind: str, folder: Path, db_url: str, url: str, slow_url: str, args: argparse.Namespace) -> None:
    project = Project(folder, url, db_url)
    bodies = project.bodies(args.deliveries)
    ratios, rates, bare_rates, per_delivery = [], [], [], []
    for _ in range(args.runs):
        project.clear_due()
        project.add(args.deliveries)
        project.statements = 0
        clock = database_clock(project.app.engine)  # its reads of the database's clock count too
        read_before = clock.queries
        seconds, sent = project.drain()
        assert sent == args.deliveries, f"sent {sent} of {args.deliveries}"
        per_delivery.append((project.statements + clock.queries - read_before) / sent)
        bare = bare_loop(url, bodies)
        rates.append(sent / seconds)
        bare_rates.append(len(bodies) / bare)
        ratios.append(bare / seconds)
    print(f"\n{kind}: {args.deliveries} webhook deliveries, server answering at once (median of {args.runs})")
    print(f"  project {statistics.median(rates):7.0f}/s, bare requests loop {statistics.median(bare_rates):7.0f}/s: "
          f"ratio {statistics.median(ratios):.2f}x (goal >= 0.7)")
    print(f"  SQL statements per delivery: {statistics.median(per_delivery):.2f} (goal <= 4)")

    slow_project = Project(folder / "slow", slow_url, db_url.replace("cchc.db", "slow.db")
                           if kind == "sqlite" else db_url)
    in_flight = slow_project.app.config.channels[CHANNEL].in_flight
    count = max(200, args.deliveries // 5)
    slow_project.clear_due()
    slow_project.add(count)
    seconds, sent = slow_project.drain()
    ceiling = in_flight / (args.latency_ms / 1000)
    print(f"  {args.latency_ms:.0f} ms a request, {count} deliveries, in_flight {in_flight}: {sent / seconds:.0f}/s "
          f"against a ceiling of {ceiling:.0f}/s: {sent / seconds / ceiling:.2f}x (goal >= 0.8)")
    slow_project.app.engine.dispose()

    project.clear_due()
    passes = {}
    have = 0
    for size in [int(n) for n in args.history.split(",")]:
        project.add(size - have, state="delivered")
        have = size
        times = []
        for _ in range(3):
            project.add(HISTORY_DUE)
            began = time.perf_counter()
            report = project.app.dispatcher(RetryPolicy()).run_once()
            times.append(time.perf_counter() - began)
            assert sum(report.sent.values()) == HISTORY_DUE
            project.clear_due()
        passes[size] = statistics.median(times)
    first = next(iter(passes.values()))
    print(f"  one pass with {HISTORY_DUE} due: " + ", ".join(
        f"{size:,} history {seconds * 1000:.0f} ms ({seconds / first:.2f}x)" for size, seconds in passes.items())
        + " (goal: the largest <= 1.2x)")
    project.app.engine.dispose()


if __name__ == "__main__":
    main()
