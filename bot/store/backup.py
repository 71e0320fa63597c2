"""Online backups of the database, each checked, and a restore that keeps what it replaces.

A backup is SQLite's backup API run in one step from a read-only connection: one read
transaction, so the copy is the database as of one moment, while the service goes on writing
(in WAL mode writers never wait for readers). The copy is written as ``….partial``, switched
to rollback journaling (a single self-contained file), checked with ``PRAGMA
integrity_check``, flushed and renamed into place: a file named ``chanwatch-<UTC time>.sqlite3``
is always a complete, checked backup. The newest ``keep`` are kept.

A restore refuses while a service holds the database (``ServiceLock``: every running
service holds a shared lock on ``<database>.lock``; a restore needs it exclusively), checks
the backup first, and moves the current database with its WAL and shared-memory files aside
(``….before-restore-<UTC time>``) instead of deleting it.

Synchronous (sqlite3 and files): the service runs it in a worker thread.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path

PREFIX, SUFFIX = "chanwatch-", ".sqlite3"
_STAMP = "%Y%m%dT%H%M%SZ"


class BackupError(Exception):
    """A backup or restore that could not be done; the message says why."""


@dataclass(frozen=True)
class Backup:
    path: Path
    taken_at: dt.datetime
    size: int
    seconds: float = 0.0


def backup_name(at: dt.datetime) -> str:
    return f"{PREFIX}{at.astimezone(dt.UTC):{_STAMP}}{SUFFIX}"


def backups(folder: Path) -> list[Backup]:
    """The complete backups in ``folder``, oldest first."""
    found = []
    for path in folder.glob(f"{PREFIX}*{SUFFIX}"):
        try:
            at = dt.datetime.strptime(f"{path.name[len(PREFIX):-len(SUFFIX)]}+0000",
                                      f"{_STAMP}%z")
        except ValueError:
            continue
        found.append(Backup(path, at, path.stat().st_size))
    return sorted(found, key=lambda b: b.taken_at)


def integrity_problem(path: Path) -> str | None:
    """None if ``path`` is an SQLite database whose integrity_check says ok, else why not."""
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows = [r[0] for r in conn.execute("PRAGMA integrity_check")]
        finally:
            conn.close()
    except sqlite3.DatabaseError as exc:
        return f"not a usable SQLite database: {exc}"
    return None if rows == ["ok"] else "; ".join(str(r) for r in rows[:5])


def take_backup(db_path: Path, folder: Path, now: dt.datetime, *, keep: int | None = None,
                busy_timeout: float = 5.0) -> Backup:
    """Back the database up into ``folder`` (checked), then keep the newest ``keep``."""
    if not db_path.is_file():
        raise BackupError(f"no database at {db_path}")
    started = time.monotonic()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BackupError(f"cannot make the backup folder {folder}: {exc}") from None
    final = folder / backup_name(now)
    partial = final.with_name(final.name + ".partial")
    try:
        src = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=busy_timeout)
        try:
            dst = sqlite3.connect(partial)
            try:
                src.backup(dst)  # all pages in one step: one read transaction, one moment
                dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
            finally:
                dst.close()
        finally:
            src.close()
        problem = integrity_problem(partial)
        if problem is not None:
            raise BackupError(f"the copy failed its integrity check: {problem}")
        with partial.open("rb+") as f:
            os.fsync(f.fileno())
        os.replace(partial, final)
        fsync_dir(folder)
    except (sqlite3.Error, OSError) as exc:
        raise BackupError(f"backup to {folder} failed: {exc}") from None
    finally:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
    if keep is not None:
        prune(folder, keep)
    return Backup(final, now, final.stat().st_size, time.monotonic() - started)


def prune(folder: Path, keep: int) -> list[Path]:
    """Delete all but the newest ``keep`` backups; the paths deleted."""
    old = backups(folder)[:-keep] if keep > 0 else backups(folder)
    for b in old:
        with contextlib.suppress(FileNotFoundError):
            b.path.unlink()
    return [b.path for b in old]


def lock_path(db_path: Path) -> Path:
    return db_path.with_name(db_path.name + ".lock")


class ServiceLock:
    """The running service's shared lock on ``<database>.lock``; a restore takes it
    exclusively, so it cannot run while any service has the database open. The kernel drops
    it when the process ends, however it ends."""

    def __init__(self, db_path: Path) -> None:
        self._path = lock_path(db_path)
        self._file: int | None = None

    def hold(self) -> None:
        self._file = os.open(self._path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._file, fcntl.LOCK_SH)

    def release(self) -> None:
        if self._file is not None:
            os.close(self._file)  # closing drops the lock
            self._file = None


def restore(backup: Path, db_path: Path, now: dt.datetime) -> Path | None:
    """Put ``backup`` in place of the database; where the replaced one went (None: none)."""
    if not backup.is_file():
        raise BackupError(f"no such file: {backup}")
    problem = integrity_problem(backup)
    if problem is not None:
        raise BackupError(f"{backup} is not a good backup: {problem}")
    db_path.parent.mkdir(parents=True, exist_ok=True)
    lock = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError("the service is running on this database: stop it first"
                              " (docker compose stop chanwatch)") from None
        incoming = db_path.with_name(db_path.name + ".restoring")
        shutil.copyfile(backup, incoming)
        with incoming.open("rb+") as f:
            os.fsync(f.fileno())
        aside = None
        if db_path.exists():
            aside = db_path.with_name(f"{db_path.name}.before-restore-{now:{_STAMP}}")
            for tail in ("", "-wal", "-shm"):  # the WAL may hold committed pages: keep it too
                src = db_path.with_name(db_path.name + tail)
                if src.exists():
                    os.replace(src, aside.with_name(aside.name + tail))
        os.replace(incoming, db_path)
        fsync_dir(db_path.parent)
        return aside
    finally:
        os.close(lock)


def vacuum(db_path: Path) -> tuple[int, int]:
    """Rebuild the database file without its free pages (what retention and deletions left)
    and merge the full-text indexes' segments; (bytes before, bytes after). Refused while a
    service holds the database: VACUUM needs it to itself for as long as it copies."""
    if not db_path.is_file():
        raise BackupError(f"no database at {db_path}")
    lock = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError("the service is running on this database: stop it first") from None
        wal = db_path.with_name(db_path.name + "-wal")
        before = db_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        conn = sqlite3.connect(db_path)
        try:
            for table in ("posts_fts", "image_fts"):
                with contextlib.suppress(sqlite3.OperationalError):  # before its migration
                    conn.execute(f"INSERT INTO {table} ({table}) VALUES ('optimize')")
            conn.commit()
            conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.Error as exc:
            raise BackupError(f"vacuum failed: {exc}") from None
        finally:
            conn.close()
        after = db_path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
        return before, after
    finally:
        os.close(lock)


def fsync_dir(folder: Path) -> None:
    """Flush a folder's entries, so a rename into it survives a power loss."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
