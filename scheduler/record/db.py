"""Engines, sessions and migrations.

SQLite is the embedded default and is tuned for a queue that must not lose a "delivered" mark: WAL,
``synchronous=FULL``, a 5 s busy timeout, foreign keys on, and ``BEGIN IMMEDIATE`` for every write
transaction so a read-then-write never fails half-way with "database is locked". PostgreSQL needs
none of this; its claims use ``FOR UPDATE SKIP LOCKED`` (see ``scheduler.outbox.dispatch``).
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from scheduler.errors import DatabaseNotReadyError

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA busy_timeout=5000",
    "PRAGMA foreign_keys=ON",
)
_WRITE = "cchc_write"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for SQLite the folder is created and every connection is tuned."""
    if url.startswith("sqlite"):
        path = sa.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 5})
        _tune_sqlite(engine)
        return engine
    return sa.create_engine(url, pool_pre_ping=True)


def _tune_sqlite(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # noqa: ANN001
        # Take transaction control away from pysqlite so that BEGIN is ours to choose.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn):  # noqa: ANN001
        immediate = conn.get_execution_options().get(_WRITE)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def database_now(session: Session) -> datetime:
    """The database server's clock, in UTC: the one clock every node shares, for leases.

    A node whose own clock is off (or a process acting "as if" at another time) still reads the
    same leases as every other node."""
    if session.get_bind().dialect.name == "sqlite":
        text = session.execute(sa.text("SELECT strftime('%Y-%m-%d %H:%M:%f', 'now')")).scalar_one()
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
    return session.execute(sa.text("SELECT clock_timestamp() AT TIME ZONE 'UTC'")).scalar_one().replace(tzinfo=UTC)


class DatabaseClock:
    """The database's clock, read before every request a dispatcher sends, so it must be cheap.

    SQLite's clock is this machine's (its ``'now'`` is the operating system's time, the clock
    ``database_now`` reads too): read without a query. PostgreSQL's is read with ``SELECT
    clock_timestamp()`` on one connection kept for it, outside any transaction (autocommit), made again
    once if it was dropped. One clock an engine (``database_clock``); None when it cannot be read."""

    def __init__(self, engine: Engine):
        self._engine = weakref.ref(engine)  # the engine owns its clock, not the other way round
        self.local = is_sqlite(engine)
        self._connection = None
        self._lock = threading.Lock()
        self.queries = 0  # statements sent for it (PostgreSQL), for bench/dispatch.py's count

    def __call__(self) -> datetime | None:
        if self.local:
            return datetime.now(UTC)
        with self._lock:
            for _ in range(2):
                try:
                    if self._connection is None:
                        pooled = self._engine().raw_connection()
                        connection = pooled.driver_connection
                        pooled.detach()  # its own, never handed back to the pool in autocommit
                        connection.autocommit = True
                        self._connection = connection
                    self.queries += 1
                    return self._connection.execute("SELECT clock_timestamp()").fetchone()[0].astimezone(UTC)
                except Exception:  # dropped (a restart of the server): made again once
                    self.close()
            return None

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:  # already gone with its server
                pass
            self._connection = None


_CLOCKS: weakref.WeakKeyDictionary[Engine, DatabaseClock] = weakref.WeakKeyDictionary()


def database_clock(engine: Engine) -> DatabaseClock:
    """The engine's ``DatabaseClock`` (one a process and engine: its connection lives with the engine)."""
    clock = _CLOCKS.get(engine)
    if clock is None:
        clock = _CLOCKS[engine] = DatabaseClock(engine)
        weakref.finalize(engine, clock.close)
    return clock


@contextmanager
def write_session(engine: Engine) -> Iterator[Session]:
    """A session whose transaction takes the write lock at once (SQLite) and commits on success."""
    with Session(engine.execution_options(**{_WRITE: True}), expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def read_session(engine: Engine) -> Iterator[Session]:
    """A session for reading; nothing it does is committed."""
    with Session(engine, expire_on_commit=False) as session:
        yield session


def _alembic_config(engine: Engine) -> Config:
    from alembic.config import Config  # alembic loads only to migrate, or when the quick check doubts

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False))
    return config


def migrate(engine: Engine, revision: str = "head") -> None:
    """Create the database or bring it up to the newest migration (or to ``revision``).

    On SQLite a migration that changes a table copies it to a new one and drops the old, which its
    foreign keys would refuse while other rows point at it: they are switched off for the migration
    (a PRAGMA that only works outside a transaction) and every reference is checked before the commit.
    """
    from alembic import command

    config = _alembic_config(engine)
    with engine.connect() as connection:
        raw = connection.connection.driver_connection  # pysqlite outside any transaction (isolation_level None)
        if is_sqlite(engine):
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
                if is_sqlite(engine):
                    broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left rows pointing at nothing: {broken[:5]}")
        finally:
            if is_sqlite(engine):
                raw.execute("PRAGMA foreign_keys=ON")


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_alembic_config(engine)).get_current_head()


_REVISION = re.compile(r"^(down_revision|revision)\s*(?::[^=]*)?=\s*['\"]([^'\"]+)['\"]", re.MULTILINE)


def _revisions() -> tuple[set[str], set[str]]:
    """Every migration's revision and every revision named as a ``down_revision``, read from the files."""
    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        for key, value in _REVISION.findall(path.read_text(encoding="utf-8")):
            (revisions if key == "revision" else parents).add(value)
    return revisions, parents


def quick_head() -> str | None:
    """The newest migration, read from the files without loading alembic: the one revision that no
    other names as its ``down_revision`` (None if that is not exactly one; alembic then decides)."""
    revisions, parents = _revisions()
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


def newer_than_this_release(revision: str | None) -> bool:
    """A database at a migration this release does not have: made by a later release."""
    return revision is not None and revision not in _revisions()[0]


NEWER = ("do một phiên bản mới hơn của phần mềm tạo (lược đồ {revision}); phiên bản này không đọc được. Hãy cập "
         "nhật phần mềm lên phiên bản đó (hoặc mới hơn)")


def _stored_revision(engine: Engine) -> str | None:
    """``alembic_version`` as stored, read with one query (None when there is no such table yet)."""
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table("alembic_version"):
            return None
        return connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()


def ensure_ready(engine: Engine) -> None:
    """Refuse to work on a database that ``cchc init`` has not created or upgraded."""
    try:
        current = _stored_revision(engine)
    except sa.exc.OperationalError as exc:
        raise DatabaseNotReadyError(
            f"không mở được cơ sở dữ liệu ({engine.url.render_as_string(hide_password=True)}): "
            f"{exc.orig}"
        ) from exc
    if current is None:
        raise DatabaseNotReadyError("cơ sở dữ liệu chưa được tạo; hãy chạy: cchc init")
    if current != quick_head() and newer_than_this_release(current):
        raise DatabaseNotReadyError("cơ sở dữ liệu " + NEWER.format(revision=current))
    if current != quick_head() and current != head_revision(engine):
        raise DatabaseNotReadyError("cơ sở dữ liệu cũ hơn phần mềm; hãy chạy: cchc init")
