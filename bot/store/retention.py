"""Retention: the text, earlier versions, picture text and files of posts older than a cutoff.

Kept: every post row (id, channel, message id, date, engagement numbers, regions, deletion
time), its matches, and each file's ``media`` row (SHA-256, size, type, perceptual hash): the
counts, /stats and an evidence bundle's record of *which* file a post carried stay true. The
full-text index keeps the post's terms (SQLite 3.40's contentless FTS5 cannot drop a row
without its exact terms), so /stats still counts the post; /search shows it no more, as it
has no text to confirm. Work goes in batches, each its own transaction.
"""

from __future__ import annotations

import datetime as dt

import aiosqlite

from bot.clock import to_iso
from bot.store.base import Repository

EXPIRED = "expired"  # post_media.state: the file was deleted by retention (migration 0013)


class RetentionRepository(Repository):
    """Drops what retention drops; returns what the caller must delete from disk."""

    async def drop_text_before(self, cutoff: dt.datetime, batch: int = 500) -> int:
        """Empty the text of up to ``batch`` posts published before ``cutoff`` and delete
        their earlier versions; how many posts."""
        now = to_iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> int:
            cur = await conn.execute(
                "SELECT id FROM posts INDEXED BY posts_text_kept WHERE text_dropped_at IS NULL"
                " AND date < ? ORDER BY date LIMIT ?", (to_iso(cutoff), batch))
            ids = [int(r[0]) for r in await cur.fetchall()]
            await cur.close()
            if not ids:
                return 0
            marks = ",".join("?" * len(ids))
            await conn.execute(f"UPDATE posts SET text = '', text_dropped_at = ? WHERE id IN"
                               f" ({marks})", (now, *ids))
            await conn.execute(f"DELETE FROM post_versions WHERE post_id IN ({marks})", ids)
            return len(ids)

        return await self._db.transaction(work)

    async def expire_files_before(self, cutoff: dt.datetime,
                                  batch: int = 200) -> list[tuple[str, str]]:
        """Mark ``expired`` the stored files that only posts published before ``cutoff``
        carry (up to ``batch`` files), and drop the text OCR read in them; the (sha256, ext)
        of each, whose file the caller deletes once this has committed."""
        now, before = to_iso(self._clock.now()), to_iso(cutoff)

        async def work(conn: aiosqlite.Connection) -> list[tuple[str, str]]:
            cur = await conn.execute(
                "SELECT m.sha256, m.ext FROM media m WHERE EXISTS (SELECT 1 FROM post_media pm"
                "  WHERE pm.sha256 = m.sha256 AND pm.state = 'stored' AND pm.post_date < ?)"
                " AND NOT EXISTS (SELECT 1 FROM post_media pm WHERE pm.sha256 = m.sha256"
                "  AND pm.state = 'stored' AND pm.post_date >= ?)"
                " ORDER BY m.sha256 LIMIT ?", (before, before, batch))
            files = [(str(r[0]), str(r[1])) for r in await cur.fetchall()]
            await cur.close()
            for sha256, _ in files:
                await conn.execute(
                    "UPDATE post_media SET state = ?, done_at = ?, ocr = NULL,"
                    " last_error = 'dropped by RETENTION_DAYS' WHERE sha256 = ?"
                    " AND state = 'stored'", (EXPIRED, now, sha256))
                await conn.execute("DELETE FROM media_text WHERE sha256 = ?", (sha256,))
            return files

        return await self._db.transaction(work)
