"""Trying things out without touching the real schedule: practice databases and the scratch copy.

``--now`` lets a command act as if it were another time. On the database a service uses, that would
play, miss or expire real slots and deliveries ahead of their time, so the rule is:

- a command that only reads (compliance, report, schedule, logs...) may take ``--now`` anywhere;
- a command that changes something takes ``--now`` only on a **practice** database: the scratch copy
  (``--scratch``), or one made for trying and testing with ``cchc init --practice``.

``--scratch`` works in ``<data>/scratch``: its own SQLite database, copied from the real one the first
time (``cchc scratch --reset`` copies it again), its own website, playout and outbox folders, and
channels that cannot reach the outside: social channels preview, websites and loudspeakers write into
the scratch folder, anything else is switched off. The real database and folders are never touched.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from scheduler.config import Config
from scheduler.errors import DatabaseNotReadyError, InputError
from scheduler.record.db import ensure_ready, is_sqlite, make_engine, migrate
from scheduler.record.models import ServiceState
from scheduler.settings import Settings

PRACTICE_KEY = "practice"
# Never copied into a scratch database: sealed tokens, open sessions, failed logins.
NOT_COPIED = frozenset({"credential", "web_session", "login_attempt"})


def folder(settings: Settings) -> Path:
    return settings.data_dir / "scratch"


def scratch_settings(settings: Settings) -> Settings:
    """The settings of the scratch copy: its own data folder and SQLite database."""
    place = folder(settings)
    return settings.model_copy(update={"data_dir": place, "database_url": f"sqlite:///{place / 'cchc.db'}"})


def safe_config(config: Config, unit: str | None = None) -> Config:
    """``config`` with every channel made unable to reach a platform or the station: those with a
    preview mode preview; websites and loudspeakers write only under the data folder in use (their
    own ``folder`` dropped, the loudspeaker played out to a folder). ``unit``: keep only its channels."""
    channels = {}
    for name, ch in config.channels.items():
        if (unit and ch.unit != unit) or not ch.enabled:
            continue
        kind = ch.channel_class
        if kind.slotted or kind.local:
            settings = {k: v for k, v in ch.settings.items() if k not in ("folder", "icecast", "http")}
            if kind.slotted:
                settings["playout"] = "folder"
            channels[name] = ch.model_copy(update={"settings": settings, "mode": "live", "send_ahead_minutes": 0})
        elif kind.supports_preview:
            channels[name] = ch.model_copy(update={"mode": "preview", "send_ahead_minutes": 0})
    groups = {g: [m for m in members if m in channels] for g, members in config.groups.items()}
    plans = {k: p for k, p in config.plans.items() if not unit or p.unit == unit}
    return replace(config, channels=channels, groups=groups, plans=plans)


def is_practice(engine: Engine) -> bool:
    with Session(engine) as session:
        return session.get(ServiceState, PRACTICE_KEY) is not None


def mark_practice(engine: Engine, now: datetime) -> None:
    with Session(engine) as session:
        if session.get(ServiceState, PRACTICE_KEY) is None:
            session.add(ServiceState(key=PRACTICE_KEY, value="1", updated_at=now))
            session.commit()


def refuse_on_real_data(engine: Engine) -> None:
    """``--now`` on a command that changes something: only on a practice database."""
    if not is_practice(engine):
        raise InputError("--now", "--now chỉ để thử: trên dữ liệu thật, lệnh này không được làm như thể đang ở "
                                  "thời điểm khác (sẽ dùng mất lịch phát thật). Hãy thêm --scratch để thử trên bản "
                                  "sao (dữ liệu thật không bị thay đổi)")


def ensure(settings: Settings, real_engine: Engine, now: datetime, *, reset: bool = False) -> tuple[Path, bool]:
    """Make the scratch copy if it does not exist (or again, with ``reset``); (its folder, made now)."""
    place = folder(settings)
    database = place / "cchc.db"
    if database.exists() and not reset:
        return place, False
    if place.exists():
        shutil.rmtree(place)
    place.mkdir(parents=True)
    target = make_engine(f"sqlite:///{database}")
    try:
        migrate(target)
        try:
            ensure_ready(real_engine)
        except DatabaseNotReadyError:
            pass  # no real database yet: the copy starts empty
        else:
            copy_rows(real_engine, target)
        mark_practice(target, now)
    finally:
        target.dispose()
    return place, True


def copy_rows(source: Engine, target: Engine | sa.Connection, chunk: int = 2000, *,
              skip: frozenset[str] = NOT_COPIED) -> None:
    """Every row of every table (but ``skip``), parents first, from ``source`` into ``target`` (an
    engine: in a transaction of its own; a connection: in the caller's). The reads are one transaction."""
    if isinstance(target, sa.Connection):
        _copy(source, target, chunk, skip)
        return
    with target.begin() as writing:
        if is_sqlite(target):
            writing.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
        _copy(source, writing, chunk, skip)


def _copy(source: Engine, writing: sa.Connection, chunk: int, skip: frozenset[str]) -> None:
    with source.connect() as reading, reading.begin():
        for table in SQLModel.metadata.sorted_tables:
            if table.name in skip:
                continue
            rows = reading.execute(sa.select(table)).mappings()
            mine = [fk.parent.name for fk in table.foreign_keys if fk.column.table is table]
            if mine:  # a table pointing at itself (units and their parent): parents first, for any database
                ordered = _parents_first([dict(row) for row in rows], table.primary_key.columns[0].name, mine[0])
                for start in range(0, len(ordered), chunk):
                    writing.execute(table.insert(), ordered[start:start + chunk])
                continue
            while batch := rows.fetchmany(chunk):
                writing.execute(table.insert(), [dict(row) for row in batch])


def _parents_first(rows: list[dict], key: str, parent: str) -> list[dict]:
    done: set = set()
    ordered: list[dict] = []
    while rows:
        ready = [row for row in rows if row[parent] is None or row[parent] in done or row[parent] == row[key]]
        if not ready:  # a parent that is not there: the database would refuse it anyway
            ready = rows
        ordered.extend(ready)
        done.update(row[key] for row in ready)
        rows = [row for row in rows if row[key] not in done]
    return ordered
