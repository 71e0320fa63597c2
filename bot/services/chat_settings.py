"""A subscriber chat's own settings and state: time zone, quiet hours, translation, status."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from bot.models import Chat, ChatKind, ChatStatus
from bot.schedule import chat_zone
from bot.services.digest import DigestService
from bot.services.rules import RulesService
from bot.store import Store


class ChatSettingsService:
    """Reads and changes one chat's row; keeps the rule index and digest job in step."""

    def __init__(self, store: Store, default_tz: ZoneInfo, rules: RulesService,
                 digests: DigestService | None = None) -> None:
        self._store = store
        self._default_tz = default_tz
        self._rules = rules
        self._digests = digests

    async def register(self, chat_id: int, kind: ChatKind, title: str | None) -> Chat:
        """Create the chat on its first command (or button), or refresh its title."""
        return await self._store.chats.upsert(chat_id, kind, title)

    async def find(self, chat_id: int) -> Chat | None:
        """The chat, if chanwatch knows it."""
        return await self._store.chats.get(chat_id)

    async def get(self, chat_id: int) -> Chat:
        """The chat a command came from (registered by the router before any handler)."""
        chat = await self._store.chats.get(chat_id)
        assert chat is not None  # the router upserts the chat before any handler runs
        return chat

    def zone(self, chat: Chat | None) -> ZoneInfo:
        """The chat's time zone, or the instance's when it has none."""
        return chat_zone(chat, self._default_tz)

    async def zone_of(self, chat_id: int) -> ZoneInfo:
        """The time zone of the chat with this id."""
        return self.zone(await self._store.chats.get(chat_id))

    async def set_tz(self, chat_id: int, zone: ZoneInfo) -> Chat:
        """Set the chat's time zone; its digest keeps its local time in the new zone."""
        await self._store.chats.set_tz(chat_id, zone.key)
        chat = await self.get(chat_id)
        if self._digests is not None:
            self._digests.schedule(chat)
        return chat

    async def set_quiet(self, chat_id: int, start: int, end: int) -> None:
        """Hold instant alerts between ``start`` and ``end`` (minutes after local midnight)."""
        await self._store.chats.set_quiet(chat_id, start, end)

    async def quiet_off(self, chat_id: int) -> int:
        """End quiet hours; return how many held alerts are now due."""
        await self._store.chats.set_quiet(chat_id, None, None)
        return await self._store.outbox.release_held(chat_id)

    async def set_translate(self, chat_id: int, lang: str | None) -> None:
        """Translate alerts to this chat into ``lang`` (None: stop)."""
        await self._store.chats.set_translate(chat_id, lang)

    async def set_media_alerts(self, chat_id: int, on: bool) -> None:
        """Send this chat's alerts as the post's photo with the alert as caption (or not)."""
        await self._store.chats.set_media_alerts(chat_id, on)

    async def revive(self, chat_id: int) -> bool:
        """Resume a chat that had blocked the bot (it wrote /start); False if it was not dead."""
        if not await self._store.chats.revive(chat_id):
            return False
        await self._rules.rebuild()  # its rules alert again
        if self._digests is not None:
            self._digests.schedule(await self.get(chat_id))
        return True

    async def activate(self, chat_id: int) -> bool:
        """Alerts to the chat again (its owner was allowed back); True if that changed it."""
        return await self._set_status(chat_id, ChatStatus.ACTIVE)

    async def pause(self, chat_id: int) -> bool:
        """No alerts to the chat (its owner was denied; rules stay); True if that changed it."""
        return await self._set_status(chat_id, ChatStatus.PAUSED)

    async def _set_status(self, chat_id: int, status: ChatStatus) -> bool:
        changed = await self._store.chats.set_status(chat_id, status)
        if changed:
            await self._rules.rebuild()
        return changed
