"""The single SQLite connection: WAL, foreign keys, busy timeout, ``BEGIN IMMEDIATE`` writes."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import aiosqlite

from bot.match.dedup import similarity

log = logging.getLogger(__name__)
T = TypeVar("T")
Params = Iterable[Any] | dict[str, Any]


class StoreBusy(RuntimeError):
    """The database stayed locked by another process for longer than the busy timeout."""


class StoreFull(RuntimeError):
    """The database cannot grow: the disk is full (SQLITE_FULL). Nothing was written."""


class Database:
    """Owns the one aiosqlite connection; every statement runs under one lock.

    aiosqlite runs a single thread per connection, and two coroutines interleaving
    statements on it would share a transaction by accident, so reads and writes queue here.
    Write transactions are shielded from cancellation: a cancelled caller never leaves the
    database locked between a write and its COMMIT; ``close`` waits for them.
    """

    def __init__(self, conn: aiosqlite.Connection) -> None:
        self._conn = conn
        self._lock = asyncio.Lock()
        self._inflight: set[asyncio.Task[Any]] = set()
        self._closed = False
        # Topics that SQL triggers announced (``SELECT chanwatch_notify('topic')``) during the
        # current transaction; their listeners run once it has committed.
        self._announced: set[str] = set()
        self._listeners: dict[str, list[Callable[[], None]]] = {}
        # told True when a write fails for a full disk, False at the next write that commits
        self.on_full: Callable[[bool], None] | None = None
        self.full = False

    @classmethod
    async def open(cls, path: Path | str, *, busy_timeout_ms: int = 5000) -> Database:
        """Open (creating if needed) the database file and configure the connection."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: the sqlite3 module must not open transactions on its own;
        # every write transaction is an explicit BEGIN IMMEDIATE below.
        conn = await aiosqlite.connect(str(path), isolation_level=None)
        conn.row_factory = sqlite3.Row
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            await conn.execute("PRAGMA journal_mode = WAL")
            await conn.execute("PRAGMA synchronous = NORMAL")
            await conn.execute("PRAGMA foreign_keys = ON")
            # how alike two posts' text fingerprints are (cross-channel dedup)
            await conn.create_function("similarity", 2, similarity, deterministic=True)
        except BaseException:
            await conn.close()
            raise
        db = cls(conn)
        await conn.create_function("chanwatch_notify", 1, db._announce)
        return db

    def _announce(self, topic: str) -> None:
        # Called by SQLite (in aiosqlite's thread) from a trigger; only records the topic.
        self._announced.add(topic)

    async def listen(self, topic: str, trigger_sql: Sequence[str],
                     listener: Callable[[], None]) -> None:
        """Call ``listener`` after every commit in which one of these triggers fired.

        ``trigger_sql`` are ``CREATE TEMP TRIGGER IF NOT EXISTS … SELECT
        chanwatch_notify('<topic>') …`` statements: temporary, so they live with this
        connection and never reach the database file, and whoever writes the rows need not
        remember to tell anyone.
        """
        async with self._lock:
            for sql in trigger_sql:
                await self._conn.execute(sql)
        self._listeners.setdefault(topic, []).append(listener)

    def _fire(self) -> None:
        announced, self._announced = self._announced, set()
        for topic in sorted(announced):
            for listener in self._listeners.get(topic, ()):
                try:
                    listener()
                except Exception:
                    log.exception("listener of %s failed", topic)

    async def fetchall(self, sql: str, params: Params = ()) -> list[sqlite3.Row]:
        """Run one read-only statement and return all rows (one trip to the thread)."""
        async with self._lock:
            return list(await self._conn.execute_fetchall(sql, params))

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Run one read-only statement and return its first row, if any."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def transaction(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run ``work`` inside ``BEGIN IMMEDIATE`` … ``COMMIT``; roll back if it raises."""
        return await self._shielded(self._run_transaction(work))

    async def _shielded(self, run: Coroutine[Any, Any, T]) -> T:
        """Run a write transaction to its end even if the caller is cancelled."""
        if self._closed:
            run.close()
            raise RuntimeError("database is closed")
        task = asyncio.ensure_future(run)
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        try:
            result = await asyncio.shield(task)
        except StoreFull:
            self._set_full(True)
            raise
        self._set_full(False)
        return result

    def _set_full(self, full: bool) -> None:
        if full != self.full:
            self.full = full
            if full:
                log.error("the database cannot grow: the disk is full; writes fail until"
                          " space returns")
            else:
                log.warning("the database can be written again")
            if self.on_full is not None:
                self.on_full(full)

    async def _run_transaction(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                raise _busy(exc) from exc
            committed = False
            try:
                self._announced.clear()
                result = await work(self._conn)
                await self._conn.execute("COMMIT")
                committed = True
                self._fire()
                return result
            except sqlite3.OperationalError as exc:
                raise _busy(exc) from exc
            finally:
                if not committed:
                    self._announced.clear()  # rolled back: nothing happened
                    if self._conn.in_transaction:
                        await self._conn.execute("ROLLBACK")

    async def transaction_in_thread(
        self, work: Callable[[aiosqlite.Connection], Awaitable[T]],
    ) -> T:
        """``transaction``, with BEGIN, every statement of ``work`` and COMMIT in one trip.

        Each aiosqlite statement is a round trip to the connection's thread (a queue put, a
        thread wake-up, a future resolved back on the loop): ~10 of them made up most of the
        time a live post spent being stored. Here the whole transaction runs on that thread
        at once: ``work`` is given a connection whose statements run synchronously on it, so
        the coroutine finishes without ever suspending, and is driven to its end right there.
        ``work`` must await nothing but that connection (RuntimeError, rolled back, if it
        does). It reuses the store's ordinary async helpers unchanged.

        aiosqlite has no public call for "run this function on the connection's thread";
        this uses its ``Connection._execute(fn)``, the queue every one of its own calls goes
        through (tests/store/test_db_one_trip.py fails loudly if that changes).
        """
        return await self._shielded(self._run_in_thread(work))

    async def _run_in_thread(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        async with self._lock:
            self._announced.clear()
            try:
                on_its_thread = cast(Callable[..., Awaitable[T]], self._conn._execute)
                result = await on_its_thread(_whole_transaction, self._conn, work)
            except BaseException:
                self._announced.clear()  # rolled back: nothing happened
                raise
            self._fire()
            return result

    async def close(self) -> None:
        """Let in-flight write transactions finish, then close the connection."""
        if self._closed:
            return
        self._closed = True
        if self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)
        await self._conn.close()


def _busy(exc: sqlite3.OperationalError) -> Exception:
    """StoreBusy (caused by ``exc``) for a locked database, StoreFull for a full disk, else
    the error itself."""
    if "locked" in str(exc) or "busy" in str(exc):
        busy = StoreBusy(f"database is locked: {exc}")
        busy.__cause__ = exc
        return busy
    if getattr(exc, "sqlite_errorname", "") == "SQLITE_FULL" or "disk is full" in str(exc):
        full = StoreFull(f"the disk is full: {exc}")
        full.__cause__ = exc
        return full
    return exc


def _whole_transaction(aconn: aiosqlite.Connection,
                       work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
    """BEGIN IMMEDIATE, ``work`` and COMMIT (ROLLBACK if it raises), on the connection's thread."""
    conn = aconn._conn  # the sqlite3 connection; we are on the thread that owns it
    try:
        conn.execute("BEGIN IMMEDIATE")
    except sqlite3.OperationalError as exc:
        raise _busy(exc) from exc
    try:
        result = _run_to_end(work(cast(aiosqlite.Connection, _InThread(conn))))
        conn.execute("COMMIT")
        return result
    except sqlite3.OperationalError as exc:
        raise _busy(exc) from exc
    finally:
        if conn.in_transaction:  # not committed
            conn.execute("ROLLBACK")


def _run_to_end(awaitable: Awaitable[T]) -> T:
    """The result of a coroutine that never suspends (its awaits all return at once)."""
    coroutine = awaitable.__await__()
    try:
        coroutine.send(None)
    except StopIteration as done:
        return cast(T, done.value)
    close = getattr(coroutine, "close", None)
    if close is not None:
        close()
    raise RuntimeError("a one-trip transaction awaited something other than its connection")


class _InThread:
    """The part of aiosqlite.Connection the store's helpers use, run synchronously.

    Only ever handed to a ``transaction_in_thread`` work function, on the connection's own
    thread; every ``await`` on it returns without suspending.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    async def execute(self, sql: str, parameters: Any = ()) -> _InThreadCursor:
        return _InThreadCursor(self._conn.execute(sql, parameters))

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> _InThreadCursor:
        return _InThreadCursor(self._conn.executemany(sql, parameters))

    async def execute_fetchall(self, sql: str, parameters: Any = ()) -> list[sqlite3.Row]:
        return self._conn.execute(sql, parameters).fetchall()


class _InThreadCursor:
    """aiosqlite.Cursor's reading calls over a sqlite3 cursor, without the thread trip."""

    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def description(self) -> Any:
        return self._cursor.description

    async def fetchone(self) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._cursor.fetchone()
        return row

    async def fetchall(self) -> list[sqlite3.Row]:
        return self._cursor.fetchall()

    async def fetchmany(self, size: int | None = None) -> list[sqlite3.Row]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def close(self) -> None:
        self._cursor.close()
