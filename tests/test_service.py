"""``cchc run``: the APScheduler clock ticks, publishes what is due, records a heartbeat, serves the
site, and stops cleanly on SIGTERM."""

import logging
import signal
import subprocess
import threading
import time
import urllib.request

import pytest
import sqlalchemy as sa

from tests.cli import CCHC, environment, run
from tests.pg import _free_port

pytestmark = pytest.mark.slow


def test_a_pass_longer_than_the_tick_is_logged_once_not_at_every_tick(app, monkeypatch, caplog):
    """The fault: every tick that found the last pass still running wrote two warning lines, so a slow
    platform filled the log (and a pipe nobody read stopped the service at its next line)."""
    from scheduler import service

    passes = []

    def slow(dispatcher):
        passes.append(time.monotonic())
        time.sleep(1.5)

    monkeypatch.setattr(service, "tick", slow)
    monkeypatch.setattr(app.settings, "tick_seconds", 0.1)
    stop = threading.Event()
    running = threading.Thread(target=service.run, args=(app, stop))
    with caplog.at_level(logging.INFO):
        running.start()
        deadline = time.monotonic() + 20
        while len(passes) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the second pass outlasts a few ticks too
        stop.set()
        running.join(10)
    said = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "tick" in r.getMessage()]
    assert not running.is_alive() and len(passes) == 2
    assert len(said) == 2, said  # one line for each pass that outlasted its tick
    assert "vẫn chạy" in said[0] or "still running" in said[0]


def test_the_running_service_reads_a_changed_configuration_without_a_restart(app, monkeypatch):
    from scheduler import service
    from tests.cli import invoke

    monkeypatch.setattr(app.settings, "tick_seconds", 0.2)
    stop = threading.Event()
    running = threading.Thread(target=service.run, args=(app, stop))
    running.start()
    try:
        assert invoke(app.settings, "plan", "new", "--year", "2026", "--from", "muong-la-2025").returncode == 0
        deadline = time.monotonic() + 10
        while "muong-la-2026" not in app.config.plans and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        stop.set()
        running.join(10)
    assert "muong-la-2026" in app.config.plans


def test_run_publishes_on_schedule_and_stops_on_sigterm(settings):
    assert run(settings, "init", "--practice").returncode == 0
    ann = run(settings, "queue", "--user", "lan", "--now", "2025-09-01 07:00", "--title", "Thông báo lịch họp",
              "--body", "Họp dân bản Nà Lốc lúc 8 giờ.", "--channel", "web", "--at", "2025-09-01 09:00",
              "--submit").stdout.strip()
    assert run(settings, "approve", ann, "--user", "hung", "--now", "2025-09-01 07:05").returncode == 0
    port, web_port = _free_port(), _free_port()
    env = environment(settings) | {"CCHC_TICK_SECONDS": "0.5", "CCHC_SITE_PORT": str(port), "TZ": "Europe/Berlin",
                                   "CCHC_WEB_PORT": str(web_port)}
    service = subprocess.Popen([CCHC, "run", "--now", "2025-09-01 09:00"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    engine = sa.create_engine(settings.url)
    try:
        state, deadline = None, time.monotonic() + 90
        while state != "delivered" and time.monotonic() < deadline:
            time.sleep(0.5)
            with engine.connect() as conn:
                state = conn.execute(sa.text("SELECT state FROM delivery")).scalar_one()
        assert state == "delivered", "the tick did not publish the item within its minute"
        with engine.connect() as conn:
            beat = conn.execute(sa.text("SELECT value FROM servicestate WHERE key = 'heartbeat'")).scalar_one()
        assert beat.endswith(f":{service.pid}")
        index = urllib.request.urlopen(f"http://127.0.0.1:{port}/muong-la-website/index.html", timeout=5).read()
        assert "Thông báo lịch họp" in index.decode("utf-8")
        login = urllib.request.urlopen(f"http://127.0.0.1:{web_port}/login", timeout=5).read().decode("utf-8")
        assert "Đăng nhập" in login  # the staff web app runs beside the scheduler
        service.send_signal(signal.SIGTERM)
        output, _ = service.communicate(timeout=30)
    finally:
        engine.dispose()
        if service.poll() is None:
            service.kill()
    assert service.returncode == 0
    assert "heartbeat: alive" in output and "received SIGTERM" in output and "service stopped" in output
    assert "Traceback" not in output


def test_the_built_in_websites_root_lists_the_sites_in_vietnamese(tmp_path):
    """The fault: the README's address answered Python's English "Directory listing for /"."""
    from scheduler import sitehttp

    (tmp_path / "muong-la-website").mkdir()
    (tmp_path / "muong-la-website" / "index.html").write_text("<h1>Tin</h1>", encoding="utf-8")
    server = sitehttp.serve(tmp_path, "127.0.0.1", 0, {"muong-la-website": "Trang thông tin điện tử xã Mường La"})
    try:
        root = urllib.request.urlopen(f"http://127.0.0.1:{server.server_address[1]}/", timeout=5).read().decode()
    finally:
        server.shutdown()
    assert "Directory listing" not in root and "Các trang thông tin đã đăng" in root
    assert '<a href="muong-la-website/">Trang thông tin điện tử xã Mường La</a>' in root


def test_a_lease_taken_at_start_is_news_a_lease_taken_over_is_a_warning(app, caplog):
    """The fault: every start logged "now owns it" as a WARNING, so the one that matters (a takeover) did
    not stand out."""
    from datetime import timedelta

    from scheduler.record import lease

    first = lease.Owner(app.engine, "thu-nghiem", "node-a:1", ttl=timedelta(seconds=30))
    second = lease.Owner(app.engine, "thu-nghiem", "node-b:1", ttl=timedelta(seconds=30))
    with caplog.at_level(logging.INFO):
        assert first.renew() and not second.renew()
        first.release()
        assert second.renew()
    said = [(r.levelname, r.getMessage().split(":")[1].strip()) for r in caplog.records if "now owns" in r.getMessage()]
    assert said == [("INFO", "this node (node-a"), ("WARNING", "this node (node-b")]
