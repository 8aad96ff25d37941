"""The database layer: SQLite durability settings on every connection, migrations, readiness."""

import threading

import pytest
import sqlalchemy as sa

from scheduler.db import current_revision, ensure_ready, head_revision, make_engine, migrate, write_session
from scheduler.errors import DatabaseNotReadyError
from scheduler.models import ServiceState


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


def test_an_empty_database_is_refused_with_the_fix(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    with pytest.raises(DatabaseNotReadyError, match="cchc init"):
        ensure_ready(engine)
