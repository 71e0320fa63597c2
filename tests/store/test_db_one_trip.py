"""Database.transaction_in_thread: a whole write transaction in one trip to aiosqlite's thread."""

from __future__ import annotations

import asyncio
import threading

import aiosqlite
import pytest

from bot.store import Database


async def _table(db: Database) -> None:
    async def work(conn: aiosqlite.Connection) -> None:
        await conn.execute("CREATE TABLE t (x INTEGER PRIMARY KEY, y TEXT)")

    await db.transaction(work)


async def _rows(db: Database) -> list[tuple[int, str]]:
    return [(r["x"], r["y"]) for r in await db.fetchall("SELECT x, y FROM t ORDER BY x")]


async def test_statements_run_on_the_connection_thread_and_commit_together(
        db: Database) -> None:
    await _table(db)
    loop_thread = threading.get_ident()
    seen: list[int] = []

    def where(value: int) -> int:  # an SQL function: called where the statements run
        seen.append(threading.get_ident())
        return value

    await db._conn.create_function("where_am_i", 1, where)

    async def work(conn: aiosqlite.Connection) -> tuple[int, str, int, int]:
        cur = await conn.execute("INSERT INTO t (y) VALUES ('a') RETURNING x")
        row = await cur.fetchone()
        await cur.close()
        assert row is not None
        many = await conn.executemany("INSERT INTO t (y) VALUES (?)", [("b",), ("c",)])
        cur = await conn.execute("SELECT y FROM t WHERE x = where_am_i(?)", (2,))
        second = await cur.fetchall()
        changed = await conn.execute("UPDATE t SET y = y || '!' WHERE x > 1")
        return int(row[0]), str(second[0][0]), many.rowcount, changed.rowcount

    assert await db.transaction_in_thread(work) == (1, "b", 2, 2)
    assert await _rows(db) == [(1, "a"), (2, "b!"), (3, "c!")]
    assert seen and all(t != loop_thread for t in seen)


async def test_an_error_rolls_back_everything(db: Database) -> None:
    await _table(db)

    async def work(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO t (x, y) VALUES (1, 'a')")
        await conn.execute("INSERT INTO t (x, y) VALUES (1, 'again')")  # primary key clash

    with pytest.raises(Exception, match="UNIQUE"):
        await db.transaction_in_thread(work)
    assert await _rows(db) == []


async def test_awaiting_anything_but_the_connection_is_refused_and_rolled_back(
        db: Database) -> None:
    await _table(db)

    async def work(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO t (x, y) VALUES (1, 'a')")
        await asyncio.sleep(0)

    with pytest.raises(RuntimeError, match="awaited something other than its connection"):
        await db.transaction_in_thread(work)
    assert await _rows(db) == []

    # the connection is usable afterwards, in both kinds of transaction
    async def fine(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO t (x, y) VALUES (2, 'b')")

    await db.transaction_in_thread(fine)

    async def more(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO t (x, y) VALUES (3, 'c')")

    await db.transaction(more)
    assert await _rows(db) == [(2, "b"), (3, "c")]


async def test_listeners_hear_of_it_after_commit_and_not_after_a_rollback(
        db: Database) -> None:
    await _table(db)
    heard: list[int] = []
    await db.listen("t", ["CREATE TEMP TRIGGER IF NOT EXISTS t_added AFTER INSERT ON t"
                          " BEGIN SELECT chanwatch_notify('t'); END"],
                    lambda: heard.append(len(heard)))

    async def adds(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO t (y) VALUES ('a')")

    async def fails(conn: aiosqlite.Connection) -> None:
        await conn.execute("INSERT INTO t (y) VALUES ('b')")
        raise ValueError("changed my mind")

    await db.transaction_in_thread(adds)
    with pytest.raises(ValueError):
        await db.transaction_in_thread(fails)
    assert heard == [0]
    assert await _rows(db) == [(1, "a")]


async def test_a_closed_database_refuses(db: Database) -> None:
    await db.close()

    async def work(conn: aiosqlite.Connection) -> None:
        await conn.execute("SELECT 1")

    with pytest.raises(RuntimeError, match="closed"):
        await db.transaction_in_thread(work)
