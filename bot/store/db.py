"""The single SQLite connection: WAL, foreign keys, busy timeout, ``BEGIN IMMEDIATE`` writes."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite

from bot.match.dedup import similarity

log = logging.getLogger(__name__)
T = TypeVar("T")
Params = Iterable[Any] | dict[str, Any]


class StoreBusy(RuntimeError):
    """The database stayed locked by another process for longer than the busy timeout."""


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
        """Run one read-only statement and return all rows."""
        async with self._lock:
            cursor = await self._conn.execute(sql, params)
            try:
                return list(await cursor.fetchall())
            finally:
                await cursor.close()

    async def fetchone(self, sql: str, params: Params = ()) -> sqlite3.Row | None:
        """Run one read-only statement and return its first row, if any."""
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def transaction(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        """Run ``work`` inside ``BEGIN IMMEDIATE`` … ``COMMIT``; roll back if it raises."""
        if self._closed:
            raise RuntimeError("database is closed")
        task = asyncio.ensure_future(self._run_transaction(work))
        self._inflight.add(task)
        task.add_done_callback(self._inflight.discard)
        return await asyncio.shield(task)

    async def _run_transaction(self, work: Callable[[aiosqlite.Connection], Awaitable[T]]) -> T:
        async with self._lock:
            try:
                await self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreBusy(f"database is locked: {exc}") from exc
                raise
            committed = False
            try:
                self._announced.clear()
                result = await work(self._conn)
                await self._conn.execute("COMMIT")
                committed = True
                self._fire()
                return result
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc) or "busy" in str(exc):
                    raise StoreBusy(f"database is locked: {exc}") from exc
                raise
            finally:
                if not committed:
                    self._announced.clear()  # rolled back: nothing happened
                    if self._conn.in_transaction:
                        await self._conn.execute("ROLLBACK")

    async def close(self) -> None:
        """Let in-flight write transactions finish, then close the connection."""
        if self._closed:
            return
        self._closed = True
        if self._inflight:
            await asyncio.gather(*list(self._inflight), return_exceptions=True)
        await self._conn.close()
