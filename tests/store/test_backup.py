"""Online backups and restore on real SQLite files: a backup taken while another connection
writes is one consistent moment and passes integrity_check; old ones are pruned; a restore
refuses while a service holds the database and for a bad file, and keeps what it replaces."""

from __future__ import annotations

import datetime as dt
import sqlite3
import threading
from pathlib import Path

import pytest

from bot.store.backup import (
    BackupError,
    ServiceLock,
    backup_name,
    backups,
    integrity_problem,
    prune,
    restore,
    take_backup,
)

T0 = dt.datetime(2026, 12, 4, 9, 0, tzinfo=dt.UTC)


def make_db(path: Path) -> None:
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("CREATE TABLE rows (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
    conn.execute("CREATE TABLE total (n INTEGER NOT NULL)")
    conn.execute("INSERT INTO total VALUES (0)")
    conn.commit()
    conn.close()


def write_batches(path: Path, stop: threading.Event, written: list[int]) -> None:
    """Transactions of 10 rows, each also moving the total: a torn copy would disagree."""
    conn = sqlite3.connect(path, timeout=10)
    n = 0
    while not stop.is_set():
        with conn:
            conn.executemany("INSERT INTO rows (body) VALUES (?)",
                             [("x" * 500,)] * 10)
            n += 10
            conn.execute("UPDATE total SET n = ?", (n,))
        written.append(n)
    conn.close()


def test_a_backup_under_writes_is_one_consistent_moment(tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite3"
    make_db(db)
    stop, written = threading.Event(), []
    writer = threading.Thread(target=write_batches, args=(db, stop, written))
    writer.start()
    try:
        while len(written) < 50:  # let it get going
            threading.Event().wait(0.01)
        taken = [take_backup(db, tmp_path / "backups", T0 + dt.timedelta(seconds=i))
                 for i in range(3)]
    finally:
        stop.set()
        writer.join()
    counts = []
    for b in taken:
        assert integrity_problem(b.path) is None
        conn = sqlite3.connect(b.path)
        rows, total = conn.execute("SELECT COUNT(*), (SELECT n FROM total) FROM rows").fetchone()
        mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
        conn.close()
        assert rows == total and rows % 10 == 0  # no transaction half in
        assert mode == "delete"  # one self-contained file, no -wal beside it
        counts.append(rows)
    assert counts == sorted(counts) and counts[-1] <= written[-1]
    assert [b.path.name for b in backups(tmp_path / "backups")] == [
        backup_name(T0 + dt.timedelta(seconds=i)) for i in range(3)]
    assert not list((tmp_path / "backups").glob("*.partial"))


def test_only_the_newest_are_kept(tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite3"
    make_db(db)
    folder = tmp_path / "backups"
    for day in range(5):
        take_backup(db, folder, T0 + dt.timedelta(days=day), keep=3)
    (folder / "notes.txt").write_text("mine")  # not a backup: left alone
    (folder / "chanwatch-garbage.sqlite3").write_text("x")
    assert [b.taken_at.day for b in backups(folder)] == [6, 7, 8]
    assert prune(folder, 1) == [folder / backup_name(T0 + dt.timedelta(days=d)) for d in (2, 3)]
    assert (folder / "notes.txt").exists() and (folder / "chanwatch-garbage.sqlite3").exists()


def test_a_backup_that_cannot_be_made_says_why(tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite3"
    make_db(db)
    blocked = tmp_path / "backups"
    blocked.write_text("a file where the folder should be")
    with pytest.raises(BackupError, match="cannot make the backup folder"):
        take_backup(db, blocked, T0)
    with pytest.raises(BackupError, match="no database"):
        take_backup(tmp_path / "none.sqlite3", tmp_path / "b", T0)
    full = tmp_path / "full"
    full.mkdir()
    (full / backup_name(T0)).mkdir()  # the name is taken by a folder: the rename fails
    with pytest.raises(BackupError, match="failed"):
        take_backup(db, full, T0)
    assert not list(full.glob("*.partial"))


def test_integrity_problems_are_named(tmp_path: Path) -> None:
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"not a database at all" * 100)
    assert "not a usable SQLite database" in (integrity_problem(junk) or "")
    db = tmp_path / "live.sqlite3"
    make_db(db)
    good = take_backup(db, tmp_path / "b", T0).path
    data = bytearray(good.read_bytes())
    torn = tmp_path / "torn.sqlite3"
    torn.write_bytes(bytes(data[: len(data) // 2]))
    assert integrity_problem(torn) is not None


def test_restore_refuses_while_a_service_holds_the_database(tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite3"
    make_db(db)
    backup = take_backup(db, tmp_path / "b", T0).path
    lock = ServiceLock(db)
    lock.hold()
    try:
        with pytest.raises(BackupError, match="the service is running"):
            restore(backup, db, T0)
    finally:
        lock.release()
    assert restore(backup, db, T0) is not None  # released: it goes ahead


def test_restore_keeps_the_replaced_database_with_its_wal(tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite3"
    make_db(db)
    backup = take_backup(db, tmp_path / "b", T0).path
    conn = sqlite3.connect(db)  # written after the backup, left in the WAL (no checkpoint)
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("INSERT INTO rows (body) VALUES ('after')")
    conn.commit()
    wal = db.with_name(db.name + "-wal")
    assert wal.stat().st_size > 0
    aside = restore(backup, db, T0 + dt.timedelta(hours=1))
    conn.close()
    assert aside is not None and aside.name == "live.sqlite3.before-restore-20261204T100000Z"
    assert not wal.exists() or wal.stat().st_size == 0
    restored = sqlite3.connect(db)
    assert restored.execute("SELECT COUNT(*) FROM rows").fetchone()[0] == 0
    restored.close()
    before = sqlite3.connect(aside)  # its WAL moved with it: the late row is still there
    assert before.execute("SELECT body FROM rows").fetchall() == [("after",)]
    before.close()


def test_restore_refuses_a_bad_backup_and_changes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "live.sqlite3"
    make_db(db)
    original = db.read_bytes()
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"garbage" * 1000)
    with pytest.raises(BackupError, match="is not a good backup"):
        restore(junk, db, T0)
    with pytest.raises(BackupError, match="no such file"):
        restore(tmp_path / "none.sqlite3", db, T0)
    assert db.read_bytes() == original
    assert not list(tmp_path.glob("*.before-restore-*"))
