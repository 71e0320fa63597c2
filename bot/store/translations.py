"""Cached translations of posts."""

from __future__ import annotations

from bot.clock import to_iso
from bot.store.base import Repository


class TranslationRepository(Repository):
    """One translation per post and language (a newer text replaces it)."""

    async def get(self, post_id: int, lang: str, source_hash: str) -> str | None:
        """A cached translation of the post's current text into ``lang``."""
        row = await self._db.fetchone(
            "SELECT text FROM translations WHERE post_id = ? AND lang = ? AND source_hash = ?",
            (post_id, lang, source_hash))
        return str(row["text"]) if row else None

    async def save(self, post_id: int, lang: str, source_hash: str, text: str,
                               provider: str) -> None:
        """Cache a translation (replacing one of an earlier text of the post)."""
        await self._write(
            "INSERT INTO translations (post_id, lang, source_hash, text, provider, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (post_id, lang) DO UPDATE SET"
            " source_hash = excluded.source_hash, text = excluded.text,"
            " provider = excluded.provider, created_at = excluded.created_at",
            (post_id, lang, source_hash, text, provider, to_iso(self._clock.now())))
