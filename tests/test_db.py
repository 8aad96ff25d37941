"""The database layer: SQLite durability settings on every connection, migrations, readiness."""

import threading

import pytest
import sqlalchemy as sa

from scheduler.errors import DatabaseNotReadyError
from scheduler.record.db import current_revision, ensure_ready, head_revision, make_engine, migrate, write_session
from scheduler.record.models import ServiceState


def test_every_sqlite_connection_is_tuned(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    connections = [engine.connect() for _ in range(5)]
    for conn in connections:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
        conn.close()
    engine.dispose()


def test_write_sessions_take_the_lock_at_begin_so_writers_queue_instead_of_failing(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    migrate(engine)
    errors = []

    def writer(n):
        try:
            for _ in range(20):
                with write_session(engine) as session:
                    row = session.get(ServiceState, "counter")
                    if row is None:
                        row = ServiceState(key="counter", value="0", updated_at=sa.func.now())
                        session.add(row)
                        session.flush()
                    row.value = str(int(row.value) + 1)
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        value = conn.exec_driver_sql("SELECT value FROM servicestate WHERE key='counter'").scalar()
    assert errors == [] and value == "80", "no lost update, no 'database is locked'"
    engine.dispose()


def test_migrations_reach_head_and_are_idempotent(db_url):
    engine = make_engine(db_url)
    migrate(engine)
    assert current_revision(engine) == head_revision(engine)
    ensure_ready(engine)
    engine.dispose()


def test_a_database_of_a_newer_release_is_called_newer_not_older(tmp_path):
    """The fault: a database a later release had upgraded was said to be "cũ hơn phần mềm; hãy chạy cchc
    init", and init cannot go back."""
    engine = make_engine(f"sqlite:///{tmp_path / 'moi.db'}")
    migrate(engine)
    with engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099_from_the_future'")
    with pytest.raises(DatabaseNotReadyError, match="phiên bản mới hơn.*Hãy cập nhật phần mềm"):
        ensure_ready(engine)
    engine.dispose()


def test_an_empty_database_is_refused_with_the_fix(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(DatabaseNotReadyError, match="cchc init"):
        ensure_ready(engine)


def test_the_tables_the_code_declares_are_the_tables_the_migrations_make(db_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    from sqlmodel import SQLModel

    engine = make_engine(db_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, SQLModel.metadata) == []
    engine.dispose()


def test_an_older_database_upgrades_in_place_with_its_records_made_true(tmp_path):
    """0006: writers from the audit trail, previews no longer delivered, empty slots skipped."""
    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    migrate(engine, "0005")
    rows = {
        "unit": "('muong-la', 'Xã Mường La', 'commune', NULL, 'ML', NULL, '[]')",
        "channel": "('web', 'muong-la', 'website', 'Web', '[\"vi\"]', 'live', 60, 1, '{}')",
        "announcement": "(1, 'muong-la', 'ML-2025-0001', 'T', 'B', '[]', '[\"web\"]', '[\"vi\"]', 'normal', "
                        "'approved', 0, NULL, 'none', NULL, NULL, 'lan', '2025-09-01 00:00:00', "
                        "'2025-09-01 00:00:00', NULL, 0)",
        "translation": "(1, 1, 'blt', 'T', 'B', NULL, NULL, 'lo.van.a', '2025-09-01 00:00:00')",
        "auditevent": "(1, '2025-09-01 00:00:00', 'hung', 'edit', 'announcement:1', '{}')",
        "approval": "(1, 1, 'approved', 'thu', '', 'h', '2025-09-01 00:00:00', NULL, '')",
        "delivery": "(1, 1, 1, 'web', 'vi', 'ML-2025-0001.1', 'h', '2025-09-01 00:00:00', '2025-09-02 00:00:00', 2, "
                    "'delivered', '2025-09-01 00:00:00', 1, 0, NULL, NULL, NULL, NULL, NULL, NULL, 1, 'schedule', "
                    "'2025-09-01 00:01:00', '2025-09-01 00:00:00', '2025-09-01 00:00:00')",
        "as_run": "(1, 'web', '2025-09-01 10:00:00', 'slot', 'played', 'folder', '', 0, '[]', '[]', NULL, NULL, NULL, "
                  "NULL, NULL)",
    }
    with engine.begin() as conn:
        for table, values in rows.items():
            conn.exec_driver_sql(f"INSERT INTO {table} VALUES {values}")
    migrate(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT writers FROM announcement").scalar() == '["lan", "lo.van.a", "hung"]'
        assert conn.exec_driver_sql("SELECT state FROM delivery").scalar() == "previewed"
        assert conn.exec_driver_sql("SELECT status, items FROM as_run").one() == ("skipped", 0)
    engine.dispose()


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_older_audit_events_join_the_unit_of_what_they_were_about(kind, request, tmp_path):
    """0013: each unit's trail shows its own events, those written before units had trails included."""
    if kind == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("postgres").create("audit_units")
    engine = make_engine(url)
    migrate(engine, "0012")
    at = "'2025-09-01 00:00:00'"
    inserts = [
        "INSERT INTO unit (id, name, level, ref_prefix, slots) VALUES ('muong-la', 'Xã Mường La', 'commune', "
        "'ML', '[]'), ('son-la', 'Tỉnh Sơn La', 'province', 'SL', '[]')",
        "INSERT INTO channel (id, unit_id, kind, title, languages, mode, grace_minutes, enabled, settings) "
        "VALUES ('ml-web', 'muong-la', 'website', 'Web', '[\"vi\"]', 'live', 60, true, '{}')",
        "INSERT INTO announcement (id, unit_id, ref_code, title, body, topics, channels, languages, priority, "
        "status, next_slot, repeat, author, created_at, updated_at, evergreen, writers) VALUES (7, 'son-la', "
        f"'SL-2025-0007', 'T', 'B', '[]', '[]', '[\"vi\"]', 'normal', 'draft', false, 'none', 'lan', {at}, {at}, "
        "false, '[]')",
        "INSERT INTO \"user\" (name, role, unit_id, password_hash, active, created_at, updated_at) VALUES "
        f"('hoa', 'editor', 'muong-la', 'h', true, {at}, {at})",
        "INSERT INTO auditevent (id, at, actor, action, subject, detail) VALUES "
        f"(1, {at}, 'lan', 'edit', 'announcement:7', '{{}}'), (2, {at}, 'hoa', 'login', 'user:hoa', '{{}}'), "
        f"(3, {at}, 'x', 'channel-hold', 'channel:ml-web', '{{}}'), (4, {at}, 'cli', 'restore', 'backup:b', '{{}}'), "
        f"(5, {at}, 's', 'quota_warning', 'target:1/a/2025-09/vi', '{{\"unit\": \"muong-la\", \"message\": \"m\"}}')",
    ]
    with engine.begin() as conn:
        for statement in inserts:
            conn.exec_driver_sql(statement)
    migrate(engine)
    with engine.connect() as conn:
        units = dict(conn.exec_driver_sql("SELECT id, unit_id FROM auditevent").all())
    assert units == {1: "son-la", 2: "muong-la", 3: "muong-la", 4: None, 5: "muong-la"}
    engine.dispose()


def test_the_quick_readiness_check_names_the_same_newest_migration_as_alembic(tmp_path):
    """Commands check the schema without loading alembic (it costs a tenth of a second at every start);
    the migrations' own files must say the same head as alembic does."""
    from scheduler.record.db import head_revision, make_engine, quick_head

    assert quick_head() is not None
    assert quick_head() == head_revision(make_engine(f"sqlite:///{tmp_path / 'x.db'}"))


def test_a_bulk_update_writes_many_rows_in_one_statement_and_keeps_what_a_row_does_not_bring(app, clock):
    from datetime import timedelta

    from sqlmodel import select

    from channels.secrets import remember
    from scheduler.outbox.deliveries import BulkUpdate
    from scheduler.record.models import Delivery
    from tests.helpers import approved

    approved(app, channels=["muong-la-website", "muong-la-loa"], languages=["vi"])
    secret = "khoa-bi-mat-0123456789"
    remember(secret)
    later = clock.now() + timedelta(hours=3)
    update = BulkUpdate(Delivery.__table__, ("remote_id", "finished_at"), last_error="b_error", updated_at="b_at",
                        remote_id="b_remote", finished_at="b_finished")
    statements = []
    sa.event.listen(app.engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with write_session(app.engine) as session:
        rows = session.exec(select(Delivery).order_by(Delivery.id)).all()
        first, second = rows[0].id, rows[1].id
        session.exec(sa.update(Delivery).where(Delivery.id == first).values(remote_id="kept-1"))
        statements.clear()
        update.run(session, [
            {"b_id": first, "b_error": f"lỗi một {secret}", "b_at": later, "b_remote": None, "b_finished": None},
            {"b_id": second, "b_error": None, "b_at": later, "b_remote": "new-2", "b_finished": later},
        ])
        # one statement: UPDATE ... FROM (VALUES ...) on PostgreSQL, one executemany on SQLite
        assert len([s for s in statements if s.lstrip().upper().startswith("UPDATE")]) == 1
    with write_session(app.engine) as session:
        one, two = session.get(Delivery, first), session.get(Delivery, second)
        assert one.last_error == "lỗi một [REDACTED]"  # redacted on the way in, whichever statement writes it
        assert (one.remote_id, one.finished_at, one.updated_at) == ("kept-1", None, later)
        assert (two.last_error, two.remote_id, two.finished_at, two.updated_at) == (None, "new-2", later, later)
