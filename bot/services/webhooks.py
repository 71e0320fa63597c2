"""A subscriber chat's own webhooks: add (checked), list, delete, and a test event."""

from __future__ import annotations

import json

from bot.clock import Clock
from bot.models import Webhook, WebhookFormat
from bot.store import Store
from bot.webhook_urls import FORMATS, WebhookURLError

MAX_WEBHOOKS = 5  # per chat


class WebhookError(ValueError):
    """A webhook cannot be added; the message is fit to show to the subscriber."""


class WebhookFormatError(WebhookError):
    """Not one of the payload formats the sender knows."""


class WebhookLimitError(WebhookError):
    """The chat already has as many webhooks as it may."""


class WebhookService:
    """Stores a chat's webhooks; their deliveries go through the outbox like alerts."""

    def __init__(self, store: Store, clock: Clock, *, allow_private: bool = False,
                 max_per_chat: int = MAX_WEBHOOKS) -> None:
        self._store = store
        self._clock = clock
        self._allow_private = allow_private
        self.max_per_chat = max_per_chat

    async def add(self, chat_id: int, url: str, fmt: str, by: int) -> Webhook:
        """Check the format, the chat's limit and the URL (in that order), then store it."""
        # the sender module (and httpx with it) loads only when a webhook is added, as before
        from bot.http.webhooks import check_url

        if fmt not in FORMATS:
            raise WebhookFormatError(fmt)
        if len(await self._store.webhooks.of_chat(chat_id)) >= self.max_per_chat:
            raise WebhookLimitError(str(self.max_per_chat))
        try:
            checked = await check_url(url, allow_private=self._allow_private)
        except WebhookURLError as exc:
            raise WebhookError(str(exc)) from exc
        return await self._store.webhooks.add(chat_id, checked, WebhookFormat(fmt), by)

    async def list(self, chat_id: int) -> list[Webhook]:
        """The chat's webhooks in number order (deleted ones left out)."""
        return await self._store.webhooks.of_chat(chat_id)

    async def delete(self, chat_id: int, number: int) -> Webhook | None:
        """Delete webhook ``number`` of the chat; its queued deliveries are dropped."""
        return await self._store.webhooks.delete(chat_id, number)

    async def send_test(self, chat_id: int) -> int:
        """Queue a test event for each of the chat's active webhooks; return how many."""
        hooks = [h for h in await self._store.webhooks.of_chat(chat_id) if h.status == "active"]
        if not hooks:
            return 0
        event = json.dumps({"version": 1, "type": "test", "chat_id": chat_id,
                            "sent_at": self._clock.now().isoformat(timespec="seconds"),
                            "text": "chanwatch webhook test"}, ensure_ascii=False)
        for hook in hooks:
            await self._store.webhooks.enqueue_test(hook, event)
        return len(hooks)
