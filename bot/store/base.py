"""What every repository shares: the connection, the clock, a one-statement write."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence

import aiosqlite

from bot.clock import Clock
from bot.store.db import Database


class Repository:
    """One aggregate's SQL. Repositories return dataclasses; no SQL leaves ``bot/store/``."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self._db = db
        self._clock = clock

    async def _write(self, sql: str, params: Sequence[object]) -> int:
        """One statement in its own write transaction; return how many rows it changed."""

        async def work(conn: aiosqlite.Connection) -> int:
            cur = await conn.execute(sql, params)
            return int(cur.rowcount)

        return await self._db.transaction(work)

    async def _rows_by_id(self, table: str, ids: Iterable[int]) -> list[sqlite3.Row]:
        """Every row of ``table`` (a fixed name, never user input) with one of these ids."""
        wanted = sorted(set(ids))
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        return await self._db.fetchall(f"SELECT * FROM {table} WHERE id IN ({marks})", wanted)
