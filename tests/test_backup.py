"""Backup while the service works, and restore that checks the archive before it replaces anything."""

import io
import json
import tarfile
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from scheduler.outbox.dispatch import Dispatcher
from scheduler.outbox.states import RetryPolicy
from scheduler.record import backup
from scheduler.record.db import ensure_ready, make_engine, read_session, write_session
from scheduler.record.models import Attempt, Delivery, ServiceState
from scheduler.settings import Settings
from tests.helpers import ScriptedChannel, approved, make_app

RECORDING = b"ID3 a translator's recording in Thai"


def ids(engine) -> tuple[set[int], set[str], set[tuple[int, int]]]:
    """Delivery ids, attempt ids, and (attempt, delivery) pairs."""
    with read_session(engine) as session:
        deliveries = set(session.exec(select(Delivery.id)).all())
        pairs = set(session.exec(select(Attempt.id, Attempt.delivery_id)).all())
        attempts = set(session.exec(select(Attempt.attempt_id)).all())
    return deliveries, attempts, pairs


class Busy:
    """The service at work while the backup runs: items approved and sent, attempts recorded."""

    def __init__(self, app, clock):
        self.app, self.clock, self.stop, self.rounds = app, clock, threading.Event(), 0
        channel = ScriptedChannel()
        self.dispatcher = Dispatcher(app.engine, {channel.name: channel}, {}, now=app.now, policy=RetryPolicy())
        self.thread = threading.Thread(target=self.work, daemon=True)
        self.failure: BaseException | None = None

    def work(self) -> None:
        try:
            while not self.stop.is_set():
                approved(self.app, at=self.app.now() + timedelta(minutes=1), title=f"Tin số {self.rounds}",
                         channels=["muong-la-website"])
                self.clock.advance(timedelta(minutes=2))
                self.dispatcher.run_once()
                self.rounds += 1
        except BaseException as exc:  # noqa: BLE001 (reported by the test)
            self.failure = exc

    def __enter__(self):
        self.thread.start()
        while self.rounds < 3 and self.failure is None:
            self.stop.wait(0.05)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(30)
        assert self.failure is None, self.failure


def fresh(tmp_path, name: str, url: str | None = None) -> Settings:
    folder = tmp_path / name
    return Settings(data_dir=folder / "data", config_dir=tmp_path / "config",
                    database_url=url or f"sqlite:///{folder / 'data' / 'cchc.db'}", site_port=0)


def test_a_backup_taken_during_dispatch_restores_every_delivery_and_attempt(app, clock, tmp_path, request):
    recording = app.settings.data_dir / "recordings" / "tin-1-blt.mp3"
    recording.parent.mkdir(parents=True, exist_ok=True)
    recording.write_bytes(RECORDING)
    out = tmp_path / "saved" / "cchc.tar.gz"
    with Busy(app, clock) as busy:
        before = ids(app.engine)
        summary = backup.backup(app.engine, app.settings.data_dir, out, now=app.now())
        rounds_during = busy.rounds
    assert rounds_during >= 3 and summary.counts["delivery"] >= len(before[0]) > 0
    with tarfile.open(out) as archive:
        names = set(archive.getnames())
        manifest = json.loads(archive.extractfile("manifest.json").read())
    assert {"manifest.json", "database.sqlite", "data/recordings/tin-1-blt.mp3"} <= names
    assert not any(name.startswith("data/cchc.db") for name in names)  # the live file is never copied raw
    assert manifest["counts"]["web_session"] == 0

    targets = [fresh(tmp_path, "restored")]  # always into a fresh SQLite folder: also SQLite -> PostgreSQL
    if app.engine.dialect.name == "postgresql":
        targets.append(fresh(tmp_path, "restored-pg", request.getfixturevalue("postgres").create("restored")))
    else:
        targets.append(fresh(tmp_path, "restored-pg", request.getfixturevalue("postgres").create("from_sqlite")))
    for target in targets:
        engine = make_engine(target.url)
        done, replaced = backup.restore(engine, target.data_dir, out, now=app.now())
        assert replaced is None and done.counts == manifest["counts"]
        ensure_ready(engine)
        deliveries, attempts, pairs = ids(engine)
        assert before[0] <= deliveries and before[1] <= attempts  # everything recorded before the backup began
        assert {delivery for _, delivery in pairs} <= deliveries  # and no attempt without its delivery
        assert len(deliveries) == manifest["counts"]["delivery"] and len(attempts) == manifest["counts"]["attempt"]
        assert (target.data_dir / "recordings" / "tin-1-blt.mp3").read_bytes() == RECORDING
        restored = make_app(target, clock)
        approved(restored, title="Tin sau khi khôi phục")  # new rows get new ids (PostgreSQL sequences set)
        restored.engine.dispose()
        engine.dispose()


def test_restore_refuses_a_damaged_or_altered_archive_and_changes_nothing(app, tmp_path):
    approved(app, title="Tin đã có")
    good = tmp_path / "good.tar.gz"
    backup.backup(app.engine, app.settings.data_dir, good, now=app.now())
    approved(app, title="Tin viết sau")
    have = ids(app.engine)

    truncated = tmp_path / "cut.tar.gz"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    stranger = tmp_path / "notes.tar.gz"
    with tarfile.open(stranger, "w:gz") as archive:
        archive.add(__file__, "notes.py")
    altered = tmp_path / "altered.tar.gz"
    with tarfile.open(good) as source, tarfile.open(altered, "w:gz") as archive:
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "database.sqlite":
                data = data[:-100] + b"\x00" * 100
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))

    for bad, says in [(truncated, "hỏng hoặc không đầy đủ"), (stranger, "không phải bản sao lưu"),
                      (altered, "SHA-256 không khớp"), (tmp_path / "missing.tar.gz", "không thấy tệp")]:
        with pytest.raises(backup.CchcError, match=says):
            backup.restore(app.engine, app.settings.data_dir, bad, now=app.now(), replace=True)
    assert ids(app.engine) == have  # nothing replaced
    assert not (app.settings.data_dir / "backups").exists()  # nor even set aside


def test_restore_over_data_needs_replace_keeps_what_was_there_and_waits_for_the_service(app, clock, tmp_path):
    approved(app, title="Tin trong bản sao lưu")
    saved = tmp_path / "saved.tar.gz"
    backup.backup(app.engine, app.settings.data_dir, saved, now=app.now())
    approved(app, title="Tin viết sau khi sao lưu")
    with read_session(app.engine) as session:
        now_count = len(session.exec(select(Delivery)).all())

    with pytest.raises(backup.CchcError, match="--replace"):
        backup.restore(app.engine, app.settings.data_dir, saved, now=app.now())
    with write_session(app.engine) as session:
        session.add(ServiceState(key="heartbeat", value="node", updated_at=app.now() - timedelta(seconds=40)))
    with pytest.raises(backup.CchcError, match="dịch vụ đang chạy"):
        backup.restore(app.engine, app.settings.data_dir, saved, now=app.now(), replace=True)
    with read_session(app.engine) as session:
        assert len(session.exec(select(Delivery)).all()) == now_count  # refused: nothing changed

    clock.advance(timedelta(minutes=10))  # the service was stopped
    done, kept = backup.restore(app.engine, app.settings.data_dir, saved, now=app.now(), replace=True)
    with read_session(app.engine) as session:
        titles = {d.ref_code for d in session.exec(select(Delivery))}
    assert len(titles) == done.counts["delivery"] < now_count
    assert kept is not None and kept.parent == app.settings.data_dir / "backups"
    with tarfile.open(kept) as archive:  # what was replaced is in its own backup
        assert json.loads(archive.extractfile("manifest.json").read())["counts"]["delivery"] == now_count


def test_the_commands_back_up_and_restore_with_clear_messages(app, tmp_path):
    from tests.cli import invoke

    approved(app, title="Tin cho lệnh sao lưu")
    out = tmp_path / "lenh.tar.gz"
    made = invoke(app.settings, "backup", "--out", str(out))
    assert made.returncode == 0, made.stderr
    assert "Đã sao lưu" in made.stdout and "lượt phát" in made.stdout and "CCHC_SECRET_KEY" in made.stdout
    refused = invoke(app.settings, "restore", str(out))
    assert refused.returncode == 1 and "--replace" in refused.stderr and "Traceback" not in refused.stderr
    missing = invoke(app.settings, "restore", str(tmp_path / "khong-co.tar.gz"))
    assert missing.returncode == 2 and "không thấy tệp sao lưu" in missing.stderr
    target = fresh(tmp_path, "moi")
    restored = invoke(target, "restore", str(out))
    assert restored.returncode == 0, restored.stderr
    assert "Đã khôi phục" in restored.stdout
    engine = make_engine(target.url)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM auditevent WHERE action = 'restore'")).scalar() == 1
    engine.dispose()


def test_an_archive_whose_database_is_not_a_database_is_refused_with_a_clear_message(app, tmp_path):
    """The right SQLite header on random bytes, and the manifest's checksum made to match: said plainly,
    nothing changed."""
    import hashlib
    import os

    from tests.cli import invoke

    approved(app, title="Tin đã có")
    good = tmp_path / "good.tar.gz"
    backup.backup(app.engine, app.settings.data_dir, good, now=app.now())
    forged = tmp_path / "gia.tar.gz"
    junk = b"SQLite format 3\x00" + os.urandom(8192)
    with tarfile.open(good) as source, tarfile.open(forged, "w:gz") as archive:
        manifest = json.loads(source.extractfile("manifest.json").read())
        manifest["sha256"]["database.sqlite"] = hashlib.sha256(junk).hexdigest()
        for member in source.getmembers():
            data = source.extractfile(member).read()
            if member.name == "database.sqlite":
                data = junk
            elif member.name == "manifest.json":
                data = json.dumps(manifest).encode()
            member.size = len(data)
            archive.addfile(member, io.BytesIO(data))
    have = ids(app.engine)
    said = invoke(app.settings, "restore", str(forged), "--replace")
    assert said.returncode == 1 and "Traceback" not in said.stderr, said.stderr
    assert "cơ sở dữ liệu trong bản sao lưu không đọc được" in said.stderr
    assert ids(app.engine) == have


def test_restore_right_after_a_clean_stop_of_the_service_is_not_refused(settings, tmp_path):
    import signal
    import subprocess
    import time

    from tests.cli import CCHC, environment, run

    assert run(settings, "init").returncode == 0
    saved = tmp_path / "truoc.tar.gz"
    assert run(settings, "backup", "--out", str(saved)).returncode == 0
    service = subprocess.Popen([CCHC, "run"], env=environment(settings) | {"CCHC_TICK_SECONDS": "0.5"},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    engine = make_engine(settings.url)
    try:
        beat, deadline = None, time.monotonic() + 60
        while beat is None and time.monotonic() < deadline:
            time.sleep(0.3)
            with read_session(engine) as session:
                beat = session.get(ServiceState, "heartbeat")
        assert beat is not None, "the service never wrote its heartbeat"
        service.send_signal(signal.SIGTERM)
        service.communicate(timeout=30)
        with read_session(engine) as session:
            assert session.get(ServiceState, "heartbeat").value == "stopped"  # a clean stop says it is stopped
    finally:
        engine.dispose()
        if service.poll() is None:
            service.kill()
    restored = run(settings, "restore", str(saved), "--replace")
    assert restored.returncode == 0 and "dịch vụ đang chạy" not in restored.stderr, restored.stderr


def test_a_backup_from_a_newer_version_is_refused_with_a_clear_message(app, tmp_path):
    """A backup made by a later release (a database schema this one does not know): said plainly, nothing
    changed, instead of Alembic's "Can't locate revision"."""
    import hashlib
    import sqlite3

    from tests.cli import invoke

    approved(app, title="Tin đã có")
    good = tmp_path / "good.tar.gz"
    backup.backup(app.engine, app.settings.data_dir, good, now=app.now())
    newer = tmp_path / "moi-hon.tar.gz"
    with tarfile.open(good) as source, tarfile.open(newer, "w:gz") as archive:
        manifest = json.loads(source.extractfile("manifest.json").read())
        database = tmp_path / "db.sqlite"
        database.write_bytes(source.extractfile("database.sqlite").read())
        conn = sqlite3.connect(database)
        conn.execute("UPDATE alembic_version SET version_num = '0099_from_the_future'")
        conn.commit()
        conn.execute("PRAGMA journal_mode=DELETE")  # into the file itself, not a -wal beside it
        conn.close()
        data = database.read_bytes()
        manifest["sha256"]["database.sqlite"] = hashlib.sha256(data).hexdigest()
        manifest["revision"] = "0099_from_the_future"
        for member in source.getmembers():
            content = data if member.name == "database.sqlite" else \
                json.dumps(manifest).encode() if member.name == "manifest.json" else source.extractfile(member).read()
            member.size = len(content)
            archive.addfile(member, io.BytesIO(content))
    have = ids(app.engine)
    said = invoke(app.settings, "restore", str(newer), "--replace")
    assert said.returncode == 1 and "Traceback" not in said.stderr, said.stderr
    assert "phiên bản mới hơn" in said.stderr and "Hãy cập nhật phần mềm" in said.stderr, said.stderr
    assert ids(app.engine) == have
