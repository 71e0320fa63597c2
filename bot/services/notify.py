"""Notices the bot sends to admins on its own initiative, through the outbox."""

from __future__ import annotations

from bot.models import ChatStatus
from bot.store import Store


class AdminNotifier:
    """Queues a notice for every admin who has a chat with the bot, once per key."""

    def __init__(self, store: Store, admin_ids: frozenset[int]) -> None:
        self._store = store
        self._admin_ids = admin_ids

    async def tell(self, html: str, key: str, *, skip_chat: int | None = None) -> int:
        """Queue ``html`` for the admins; return how many notices were new."""
        queued = 0
        for chat in (await self._store.chats.by_ids(self._admin_ids)).values():
            if chat.id != skip_chat and chat.status == ChatStatus.ACTIVE:
                queued += await self._store.outbox.enqueue_notice(chat.id, html, key)
        return queued

    async def tell_chat(self, chat_id: int, html: str, key: str) -> bool:
        """Queue a notice for one chat."""
        return await self._store.outbox.enqueue_notice(chat_id, html, key)
