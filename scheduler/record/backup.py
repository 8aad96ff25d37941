"""Backup and restore: the whole record and the files staff uploaded, while the service runs.

A backup is one ``.tar.gz``:

- ``database.sqlite``: every table at one moment (SQLite: the online backup API, a consistent copy
  while dispatch writes; PostgreSQL: every row read in one REPEATABLE READ transaction, so a
  delivery and its attempts are from the same instant). Web sessions and failed logins are left out;
  channel tokens stay sealed (the key, ``CCHC_SECRET_KEY``, is never in a backup: keep it apart).
- ``data/``: the data folder's files (recordings, uploads, evidence, the website, playout folders),
  without the database files, the voice cache and the practice copy (all rebuilt when needed).
- ``manifest.json``: format, migration, time, the rows of each table and the SHA-256 of every file.

``restore`` checks all of it before touching anything: the archive reads, every checksum matches,
the database passes SQLite's integrity check and holds the rows the manifest counts. Then it
refuses while the service runs (heartbeat under 3 minutes old), and over a database that has data
unless told to replace it; what was there is first saved as a backup of its own beside it. The
copy is brought to the newest migration (a backup of an older release restores into this one), and
written into the configured database (SQLite or PostgreSQL, either way) in one transaction.
"""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

from scheduler.clock import LOCAL_TZ, show_vn
from scheduler.errors import CchcError, InputError, RuleError
from scheduler.record.db import NEWER, is_sqlite, make_engine, migrate, newer_than_this_release
from scheduler.record.models import HEARTBEAT, STOPPED, ServiceState
from scheduler.record.scratch import copy_rows

FORMAT, VERSION = "cchc-backup", 1
NOT_KEPT = frozenset({"web_session", "login_attempt"})  # live sessions and the login limiter's counts
SKIPPED_FOLDERS = frozenset({"cache", "scratch", "backups"})  # rebuilt when needed, or backups themselves
RUNNING_WITHIN = timedelta(minutes=3)  # a heartbeat this recent: the service is running


class BackupError(CchcError):
    """An archive that cannot be restored: what is wrong with it (nothing was changed)."""


@dataclass
class Summary:
    path: Path
    counts: dict[str, int]
    files: int
    size: int
    revision: str | None
    created_at: str

    def line(self) -> str:
        return (f"{self.path}: {self.counts.get('announcement', 0)} tin, {self.counts.get('delivery', 0)} lượt phát, "
                f"{self.counts.get('attempt', 0)} lần gửi, {self.files} tệp; {self.size / 1e6:.1f} MB")


def backup(engine: Engine, data_dir: Path, out: Path, *, now: datetime) -> Summary:
    """Write the backup of ``engine``'s database and ``data_dir`` to ``out`` (atomically)."""
    out = out.expanduser().resolve()
    if out.exists() and out.is_dir():
        raise InputError("--out", f"{out} là một thư mục; hãy ghi tên tệp, ví dụ {out / 'cchc-backup.tar.gz'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="cchc-backup-", dir=out.parent) as tmp:
        copy = Path(tmp) / "database.sqlite"
        _snapshot(engine, copy)
        counts, revision = _counts(copy), _revision(copy)
        files = sorted(path for path in _data_files(data_dir, engine) if Path(tmp) not in path.parents)
        digests = {"database.sqlite": _sha256(copy)}
        partial = Path(tmp) / "backup.tar.gz"
        with tarfile.open(partial, "w:gz") as archive:
            archive.add(copy, "database.sqlite")
            for path in files:
                name = "data/" + path.relative_to(data_dir).as_posix()
                digests[name] = _sha256(path)
                archive.add(path, name, recursive=False)
            manifest = {"format": FORMAT, "version": VERSION, "created_at": now.isoformat(), "revision": revision,
                        "database": engine.dialect.name, "counts": counts, "sha256": digests}
            _add_bytes(archive, "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=1).encode())
        partial.replace(out)
    return Summary(out, counts, len(files), out.stat().st_size, revision, now.isoformat())


def restore(engine: Engine, data_dir: Path, archive_path: Path, *, now: datetime,
            replace: bool = False) -> tuple[Summary, Path | None]:
    """Restore ``archive_path`` into ``engine`` and ``data_dir``; returns what was restored and the
    backup of what was there before (None when the database was empty)."""
    archive_path = archive_path.expanduser()
    if not archive_path.is_file():
        raise InputError("FILE", f"không thấy tệp sao lưu {archive_path}")
    with tempfile.TemporaryDirectory(prefix="cchc-restore-") as tmp:
        folder = Path(tmp)
        manifest = _unpack_checked(archive_path, folder)
        made_by = _revision(folder / "database.sqlite")
        if newer_than_this_release(made_by):
            raise BackupError(f"bản sao lưu {archive_path.name} " + NEWER.format(revision=made_by) + " rồi khôi phục")
        copy = _engine_for(folder / "database.sqlite")
        try:
            migrate(copy)  # a backup of an older release: brought to this one's schema
        finally:
            copy.dispose()
        migrate(engine)
        with engine.connect() as conn:
            beat = conn.execute(sa.select(ServiceState.value, ServiceState.updated_at)
                                .where(ServiceState.key == HEARTBEAT)).first()
        heartbeat = beat.updated_at if beat is not None and beat.value != STOPPED else None
        if heartbeat is not None and abs(now - heartbeat) < RUNNING_WITHIN:
            raise RuleError(f"dịch vụ đang chạy (nhịp tim lúc {show_vn(heartbeat)}): hãy dừng dịch vụ "
                            "(systemctl stop cchc, hoặc Ctrl+C ở cửa sổ đang chạy cchc run) rồi khôi phục lại")
        before = None
        if _has_data(engine):
            if not replace:
                raise RuleError("cơ sở dữ liệu hiện tại đã có dữ liệu; thêm --replace để thay bằng bản sao lưu "
                                "(dữ liệu hiện tại sẽ được sao lưu riêng trước khi thay)")
            stamp = now.astimezone(LOCAL_TZ).strftime("%Y%m%d-%H%M%S")
            before = backup(engine, data_dir, data_dir / "backups" / f"truoc-khi-khoi-phuc-{stamp}.tar.gz",
                            now=now).path
        _replace_rows(_engine_for(folder / "database.sqlite"), engine)
        data = folder / "data"
        if data.is_dir():
            shutil.copytree(data, data_dir, dirs_exist_ok=True)
    counts = manifest["counts"]
    files = sum(1 for name in manifest["sha256"] if name.startswith("data/"))
    return Summary(archive_path, counts, files, archive_path.stat().st_size, manifest.get("revision"),
                   manifest["created_at"]), before


# -- the database copy ----------------------------------------------------------------------------------

def _engine_for(path: Path) -> Engine:
    return make_engine(f"sqlite:///{path}")


def _snapshot(engine: Engine, copy: Path) -> None:
    """Every kept table of ``engine`` at one moment, into the SQLite file ``copy``."""
    if is_sqlite(engine):
        source = sqlite3.connect(engine.url.database, timeout=30)
        target = sqlite3.connect(copy)
        try:
            source.backup(target)  # consistent while others write (WAL): the pages of one moment
            for table in NOT_KEPT:
                target.execute(f'DELETE FROM "{table}"')  # noqa: S608 (names from our own metadata)
            target.commit()
        finally:
            target.close()
            source.close()
        return
    target = _engine_for(copy)
    try:
        migrate(target)
        reading = engine.execution_options(isolation_level="REPEATABLE READ")  # one snapshot for every table
        copy_rows(reading, target, skip=NOT_KEPT)
    finally:
        target.dispose()


def _counts(copy: Path) -> dict[str, int]:
    """The rows of each table the file holds (an older release's backup may have fewer tables)."""
    with sqlite3.connect(copy) as conn:
        names = [name for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND "
                                                  "name NOT LIKE 'sqlite_%' AND name != 'alembic_version'")]
        return {name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in sorted(names)}  # noqa: S608


def _revision(copy: Path) -> str | None:
    with sqlite3.connect(copy) as conn:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def _has_data(engine: Engine) -> bool:
    with engine.connect() as conn:
        return any(conn.execute(sa.select(sa.literal(1)).select_from(SQLModel.metadata.tables[name]).limit(1)).first()
                   for name in ("announcement", "delivery", "auditevent", "user"))


def _replace_rows(source: Engine, target: Engine) -> None:
    """Every row of ``target`` replaced by ``source``'s, in one transaction (all or nothing)."""
    try:
        with target.begin() as writing:
            if is_sqlite(target):
                writing.exec_driver_sql("PRAGMA defer_foreign_keys=ON")
            for table in reversed(SQLModel.metadata.sorted_tables):
                writing.execute(table.delete())
            copy_rows(source, writing, skip=frozenset())
            if not is_sqlite(target):  # the id sequences go on after the restored rows
                for table in SQLModel.metadata.sorted_tables:
                    if "id" in table.c and isinstance(table.c.id.type, sa.Integer):
                        writing.execute(sa.text(
                            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                            f"COALESCE((SELECT max(id) FROM \"{table.name}\"), 1), "
                            f"(SELECT max(id) FROM \"{table.name}\") IS NOT NULL) "
                            f"WHERE pg_get_serial_sequence('{table.name}', 'id') IS NOT NULL"))
    finally:
        source.dispose()


# -- the archive ---------------------------------------------------------------------------------------

def _data_files(data_dir: Path, engine: Engine):  # noqa: ANN202
    database = Path(engine.url.database).resolve() if is_sqlite(engine) and engine.url.database else None
    if not data_dir.is_dir():
        return
    for path in data_dir.rglob("*"):
        relative = path.relative_to(data_dir)
        if relative.parts[0] in SKIPPED_FOLDERS or not path.is_file() or path.is_symlink():
            continue
        if database is not None and path.resolve().parent == database.parent \
                and path.name.startswith(database.name):  # the database and its -wal, -shm
            continue
        yield path


def _unpack_checked(archive_path: Path, folder: Path) -> dict:
    """Unpack into ``folder`` and check everything the manifest says; BackupError if anything is off."""
    where = f"tệp {archive_path.name}"
    try:
        with tarfile.open(archive_path, "r:gz") as archive:
            try:
                manifest = json.loads(archive.extractfile("manifest.json").read())  # type: ignore[union-attr]
            except (KeyError, AttributeError, ValueError):
                raise BackupError(f"{where} không phải bản sao lưu của cchc (không có manifest.json đọc được)") \
                    from None
            if manifest.get("format") != FORMAT or not isinstance(manifest.get("sha256"), dict):
                raise BackupError(f"{where} không phải bản sao lưu của cchc")
            if manifest.get("version") != VERSION:
                raise BackupError(f"{where} có dạng {manifest.get('version')}, phiên bản này đọc dạng {VERSION}")
            names = set(manifest["sha256"])
            for member in archive.getmembers():
                if member.name != "manifest.json" and member.name not in names:
                    raise BackupError(f"{where} có tệp lạ không ghi trong manifest: {member.name}")
            archive.extractall(folder, members=[m for m in archive.getmembers() if m.name in names],
                               filter="data")  # no absolute paths, no '..', no links out of the folder
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BackupError(f"{where} hỏng hoặc không đầy đủ, không đọc được ({type(exc).__name__}); "
                          "không có gì bị thay đổi") from None
    for name, digest in manifest["sha256"].items():
        path = folder / name
        if not path.is_file() or _sha256(path) != digest:
            raise BackupError(f"{where}: {name} thiếu hoặc đã bị sửa (mã kiểm tra SHA-256 không khớp); "
                              "không có gì bị thay đổi")
    copy = folder / "database.sqlite"
    if "database.sqlite" not in manifest["sha256"]:
        raise BackupError(f"{where} không có cơ sở dữ liệu")
    try:
        with sqlite3.connect(copy) as conn:
            if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
                raise BackupError(f"{where}: cơ sở dữ liệu trong bản sao lưu bị hỏng (integrity_check)")
        counts = _counts(copy)
    except sqlite3.DatabaseError as exc:  # e.g. a SQLite header on bytes that are not a database
        raise BackupError(f"{where}: cơ sở dữ liệu trong bản sao lưu không đọc được ({exc}); bản sao lưu này hỏng "
                          "hoặc không phải do cchc tạo; không có gì bị thay đổi. Hãy dùng một bản sao lưu khác") \
            from None
    wrong = {t: (n, counts.get(t)) for t, n in manifest.get("counts", {}).items() if counts.get(t) != n}
    if wrong:
        raise BackupError(f"{where}: số dòng không khớp manifest: {wrong}")
    return manifest


def _sha256(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))
