"""Webhooks of chats and of the operator."""

from __future__ import annotations

import aiosqlite

from bot.clock import to_iso
from bot.models import (
    Webhook,
    WebhookFormat,
)
from bot.store.base import Repository
from bot.store.rows import (
    to_webhook,
)


class WebhookRepository(Repository):
    """Webhooks: where a chat's alerts are also POSTed."""

    async def add(self, chat_id: int | None, url: str, fmt: WebhookFormat,
                  created_by: int | None) -> Webhook:
        """Store a webhook under the chat's next number."""
        now = to_iso(self._clock.now())

        async def work(conn: aiosqlite.Connection) -> int:
            cur = await conn.execute(
                "INSERT INTO webhooks (chat_id, number, url, format, created_by, created_at)"
                " VALUES (?, (SELECT COALESCE(MAX(number), 0) + 1 FROM webhooks"
                "  WHERE COALESCE(chat_id, 0) = COALESCE(?, 0)), ?, ?, ?, ?)",
                (chat_id, chat_id, url, fmt, created_by, now))
            assert cur.lastrowid is not None
            return cur.lastrowid

        webhook_id = await self._db.transaction(work)
        row = await self._db.fetchone("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
        assert row is not None
        return to_webhook(row)

    async def of_chat(self, chat_id: int | None) -> list[Webhook]:
        """A chat's webhooks (None: the operator's), deleted ones left out."""
        rows = await self._db.fetchall(
            "SELECT * FROM webhooks WHERE COALESCE(chat_id, 0) = COALESCE(?, 0)"
            " AND status != 'deleted' ORDER BY number", (chat_id,))
        return [to_webhook(r) for r in rows]

    async def delete(self, chat_id: int | None, number: int) -> Webhook | None:
        """Delete a chat's webhook by number; its queued deliveries are dropped."""

        async def work(conn: aiosqlite.Connection) -> int | None:
            cur = await conn.execute(
                "UPDATE webhooks SET status = 'deleted' WHERE COALESCE(chat_id, 0) ="
                " COALESCE(?, 0) AND number = ? AND status != 'deleted' RETURNING id",
                (chat_id, number))
            row = await cur.fetchone()
            await cur.close()
            if row is None:
                return None
            await conn.execute(
                "UPDATE outbox SET status = 'dead', error = 'webhook deleted'"
                " WHERE webhook_id = ? AND status = 'pending'", (row["id"],))
            return int(row["id"])

        webhook_id = await self._db.transaction(work)
        if webhook_id is None:
            return None
        row = await self._db.fetchone("SELECT * FROM webhooks WHERE id = ?", (webhook_id,))
        return to_webhook(row) if row else None

    async def mark_dead(self, webhook_id: int, item_id: int, error: str) -> bool:
        """A permanent failure: dead-letter the delivery and stop the webhook; True if new."""

        async def work(conn: aiosqlite.Connection) -> bool:
            await conn.execute(
                "UPDATE outbox SET status = 'dead', attempts = attempts + 1, error = ?"
                " WHERE id = ?", (error, item_id))
            cur = await conn.execute(
                "UPDATE webhooks SET status = 'dead', last_error = ? WHERE id = ?"
                " AND status = 'active'", (error, webhook_id))
            changed = cur.rowcount > 0
            await conn.execute(
                "UPDATE outbox SET status = 'dead', error = 'webhook stopped'"
                " WHERE webhook_id = ? AND status = 'pending'", (webhook_id,))
            return changed

        return await self._db.transaction(work)

    async def set_operator(self, url: str | None,
                           fmt: WebhookFormat = WebhookFormat.JSON) -> None:
        """Make the operator's WEBHOOK_URL the one operator webhook (or remove it)."""
        current = await self.of_chat(None)
        if current and url and current[0].url == url and current[0].format == fmt:
            return
        for hook in current:
            await self.delete(None, hook.number)
        if url:
            await self.add(None, url, fmt, None)

    async def enqueue_test(self, webhook: Webhook, event: str) -> bool:
        """Queue a test event for one webhook."""
        now = to_iso(self._clock.now())
        assert webhook.chat_id is not None
        return await self._write(
            "INSERT INTO outbox (chat_id, kind, payload, random_id, dedup_key, webhook_id,"
            " next_attempt_at, created_at) VALUES (?, 'webhook', ?, 0, ?, ?, ?, ?)"
            " ON CONFLICT (chat_id, dedup_key) DO NOTHING",
            (webhook.chat_id, event, f"webhook-test:{webhook.id}:{now}", webhook.id, now, now),
        ) > 0
