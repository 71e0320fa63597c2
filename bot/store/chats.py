"""Subscriber chats: kind, time zone, quiet hours, digest schedule, status."""

from __future__ import annotations

from collections.abc import Iterable

from bot.clock import to_iso
from bot.models import (
    Chat,
    ChatKind,
    ChatStatus,
)
from bot.store.base import Repository
from bot.store.rows import (
    to_chat,
)


class ChatRepository(Repository):
    """Subscriber chats and their settings."""

    async def upsert(self, chat_id: int, kind: ChatKind, title: str | None) -> Chat:
        """Create the subscriber chat or refresh its title; return it."""
        now = to_iso(self._clock.now())
        await self._write(
            "INSERT INTO chats (id, kind, title, created_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (id) DO UPDATE SET title = excluded.title",
            (chat_id, kind.value, title, now),
        )
        chat = await self.get(chat_id)
        assert chat is not None
        return chat

    async def get(self, chat_id: int) -> Chat | None:
        """Return one subscriber chat."""
        row = await self._db.fetchone("SELECT * FROM chats WHERE id = ?", (chat_id,))
        return to_chat(row) if row else None

    async def by_ids(self, chat_ids: Iterable[int]) -> dict[int, Chat]:
        """Return the named subscriber chats by id."""
        return {row["id"]: to_chat(row) for row in await self._rows_by_id("chats", chat_ids)}

    async def set_tz(self, chat_id: int, tz: str | None) -> None:
        """Set the chat's time zone (None: the instance's)."""
        await self._write("UPDATE chats SET tz = ? WHERE id = ?", (tz, chat_id))

    async def set_quiet(self, chat_id: int, start: int | None, end: int | None) -> None:
        """Set (or clear) the chat's quiet hours, minutes after local midnight."""
        await self._write("UPDATE chats SET quiet_start = ?, quiet_end = ? WHERE id = ?",
                          (start, end, chat_id))

    async def set_digest(self, chat_id: int, cron: str | None) -> None:
        """Set (or clear) the chat's digest schedule; a new schedule starts its period now."""
        await self._write(
            "UPDATE chats SET digest_cron = ?, digest_since = COALESCE(digest_since, ?)"
            " WHERE id = ?", (cron, to_iso(self._clock.now()), chat_id))

    async def with_digest(self) -> list[Chat]:
        """Active chats with a digest schedule."""
        rows = await self._db.fetchall(
            "SELECT * FROM chats WHERE digest_cron IS NOT NULL AND status = 'active'")
        return [to_chat(r) for r in rows]

    async def set_translate(self, chat_id: int, lang: str | None) -> None:
        """Translate alerts to this chat into ``lang`` (None: off)."""
        await self._write("UPDATE chats SET translate_lang = ? WHERE id = ?", (lang, chat_id))

    async def set_media_alerts(self, chat_id: int, on: bool) -> None:
        """Send this chat's alerts as the post's photo with the alert as caption (or not)."""
        await self._write("UPDATE chats SET media_alerts = ? WHERE id = ?", (int(on), chat_id))

    async def set_status(self, chat_id: int, status: ChatStatus) -> bool:
        """Pause or activate a chat's alerts; True if it changed."""

        return await self._write(
            "UPDATE chats SET status = ? WHERE id = ? AND status != ?",
            (status, chat_id, status),
        ) > 0

    async def revive(self, chat_id: int) -> bool:
        """Make a dead chat active again (it wrote /start); return whether it was dead."""

        return await self._write(
            "UPDATE chats SET status = 'active' WHERE id = ? AND status = 'dead'", (chat_id,)
        ) > 0
