"""Watched channels and their cursors."""

from __future__ import annotations

import aiosqlite

from bot.clock import to_iso
from bot.models import (
    Channel,
    ChannelSource,
    ChannelStats,
    ChannelStatus,
)
from bot.store.base import Repository
from bot.store.rows import (
    opt_dt,
    to_channel,
)

# Move a channel's cursor forward, never back (params: cursor, channel id).
ADVANCE_CURSOR = "UPDATE channels SET cursor = MAX(cursor, ?) WHERE id = ?"


class ChannelRepository(Repository):
    """Watched channels; the cursor is the id up to which every post is stored."""

    async def add(
        self, channel_id: int, username: str | None, title: str, access_hash: int | None,
        added_by: int | None, cursor: int = 0,
    ) -> tuple[Channel, bool]:
        """Watch a channel (or watch it again); return it and whether it was newly watched."""
        now = to_iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> bool:
            cur = await conn.execute("SELECT status FROM channels WHERE id = ?", (channel_id,))
            row = await cur.fetchone()
            await conn.execute(
                "INSERT INTO channels (id, username, title, access_hash, added_by, added_at)"
                " VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET username = excluded.username,"
                " title = excluded.title, access_hash = excluded.access_hash,"
                " status = 'active', last_error = NULL",
                (channel_id, username, title, access_hash, added_by, now),
            )
            # in the same transaction: a reconcile never sees the channel active without it
            await conn.execute(
                ADVANCE_CURSOR, (cursor, channel_id)
            )
            return row is None or row["status"] != ChannelStatus.ACTIVE

        created = await self._db.transaction(work)
        channel = await self.get(channel_id)
        assert channel is not None
        return channel, created

    async def get(self, channel_id: int) -> Channel | None:
        """Return one channel by id."""
        row = await self._db.fetchone("SELECT * FROM channels WHERE id = ?", (channel_id,))
        return to_channel(row) if row else None

    async def by_username(self, username: str) -> Channel | None:
        """Return the channel with this username (case-insensitive)."""
        row = await self._db.fetchone(
            "SELECT * FROM channels WHERE lower(username) = lower(?)", (username,)
        )
        return to_channel(row) if row else None

    async def set_status(
        self, channel_id: int, status: ChannelStatus, error: str | None = None
    ) -> bool:
        """Change a channel's status (active, unwatched, private, …); True if it changed."""

        return await self._write(
            "UPDATE channels SET status = ?, last_error = ? WHERE id = ? AND status != ?",
            (status, error, channel_id, status),
        ) > 0

    async def active(self, source: ChannelSource = ChannelSource.LIVE) -> list[Channel]:
        """Return the channels being watched now by the user account (or the preview poller)."""
        rows = await self._db.fetchall(
            "SELECT * FROM channels WHERE status = 'active' AND source = ? ORDER BY id",
            (source,),
        )
        return [to_channel(r) for r in rows]

    async def set_source(self, channel_id: int, source: ChannelSource) -> None:
        """Read a channel live (user account) or through its web preview."""
        await self._write("UPDATE channels SET source = ? WHERE id = ?", (source, channel_id))

    async def stats(self) -> list[ChannelStats]:
        """Return every known channel with its post count and last post time."""
        rows = await self._db.fetchall(
            "SELECT c.*, COUNT(p.id) AS n, MAX(p.date) AS last"
            " FROM channels c LEFT JOIN posts p ON p.channel_id = c.id"
            " GROUP BY c.id ORDER BY c.status != 'active', lower(c.title)"
        )
        return [ChannelStats(to_channel(r), r["n"], opt_dt(r["last"])) for r in rows]

    async def set_cursor(self, channel_id: int, cursor: int) -> None:
        """Move a channel's cursor forward (never back)."""

        await self._write(
            ADVANCE_CURSOR, (cursor, channel_id)
        )

    async def update_identity(self, channel_id: int, username: str | None,
                                      title: str) -> None:
        """Follow a renamed channel (new username or title)."""

        await self._write(
            "UPDATE channels SET username = ?, title = ? WHERE id = ?",
            (username, title, channel_id),
        )
