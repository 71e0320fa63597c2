"""The outbox dispatcher: the one task that sends what the bot says on its own initiative."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
from collections.abc import Awaitable, Callable

from bot.clock import Clock
from bot.models import OutboxItem
from bot.render import esc
from bot.services.notify import AdminNotifier
from bot.services.ports import (
    FloodWait,
    MessageRejected,
    MessageSender,
    PermanentSendError,
)
from bot.store import Store

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 8
MAX_BACKOFF = 300.0
IDLE_WAIT = 5.0


class Dispatcher:
    """Sends due outbox rows in order; a FloodWait pauses only the chat that got it."""

    def __init__(
        self, store: Store, sender: MessageSender, clock: Clock, admin_ids: frozenset[int],
        *, rng: random.Random | None = None, base_backoff: float = 2.0,
        on_chat_dead: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._on_chat_dead = on_chat_dead
        self._store = store
        self._sender = sender
        self._clock = clock
        self._admins = AdminNotifier(store, admin_ids, self.wake)
        self._rng = rng or random.Random()
        self._base_backoff = base_backoff
        self._paused: dict[int, dt.datetime] = {}
        self._wake = asyncio.Event()

    def wake(self) -> None:
        """Tell the dispatcher that something new is due."""
        self._wake.set()

    async def run(self) -> None:
        """Send forever (until cancelled), sleeping while nothing is due."""
        while True:
            self._wake.clear()
            try:
                sent = await self.drain()
            except Exception:
                # e.g. the database locked by another process: wait a little, keep going
                log.exception("dispatcher round failed; retrying shortly")
                await asyncio.sleep(IDLE_WAIT)
                continue
            if not sent:
                await self._sleep()

    async def drain(self) -> int:
        """Try every message that is due now; return how many attempts were made."""
        now = self._clock.now()
        attempts = 0
        dead: set[int] = set()
        for item in await self._store.due_outbox(now):
            until = self._paused.get(item.chat_id)
            if item.chat_id in dead or (until is not None and until > self._clock.now()):
                continue
            if not await self._attempt(item):
                dead.add(item.chat_id)
            attempts += 1
        return attempts

    async def _sleep(self) -> None:
        now = self._clock.now()
        wait = IDLE_WAIT
        due = await self._store.next_outbox_time()
        if due is not None:
            wait = min(wait, max(0.05, (due - now).total_seconds()))
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=wait)
        except TimeoutError:
            pass

    async def _attempt(self, item: OutboxItem) -> bool:
        """Send one message; return False if its chat can no longer receive anything."""
        try:
            await self._sender.send_html(item.chat_id, item.payload, item.random_id)
        except FloodWait as exc:
            until = self._clock.now() + dt.timedelta(seconds=exc.seconds)
            self._paused[item.chat_id] = until
            log.warning("flood wait %ds for chat %d", exc.seconds, item.chat_id)
            await self._store.mark_retry(item.id, until, f"FLOOD_WAIT_{exc.seconds}")
            # every waiting message of that chat waits too, so it never crowds out the others
            await self._store.defer_chat(item.chat_id, until)
        except PermanentSendError as exc:
            log.warning("chat %d cannot receive messages: %s", item.chat_id, exc)
            await self._store.mark_chat_dead(item.chat_id, item.id, str(exc))
            await self._tell_admins(item.chat_id, str(exc), item.id)
            if self._on_chat_dead:
                await self._on_chat_dead()  # its rules stop matching until /start
            return False
        except MessageRejected as exc:
            log.error("message %d to chat %d rejected: %s", item.id, item.chat_id, exc)
            await self._store.mark_dead(item.id, str(exc))
        except Exception as exc:  # network trouble, server errors: retry with backoff
            if item.attempts + 1 >= MAX_ATTEMPTS:
                log.error("message %d to chat %d failed %d times, giving up: %s",
                          item.id, item.chat_id, MAX_ATTEMPTS, exc)
                await self._store.mark_dead(item.id, f"gave up: {exc}")
                return True
            delay = min(MAX_BACKOFF, self._base_backoff * 2 ** item.attempts)
            delay *= 0.5 + self._rng.random()  # jitter: retries from many chats spread out
            log.warning("message %d to chat %d failed (%s); retry in %.1fs",
                        item.id, item.chat_id, exc, delay)
            await self._store.mark_retry(
                item.id, self._clock.now() + dt.timedelta(seconds=delay), str(exc)[:500]
            )
        else:
            await self._store.mark_sent(item.id)
        return True

    async def _tell_admins(self, chat_id: int, reason: str, item_id: int) -> None:
        text = (f"⚠️ Chat <code>{chat_id}</code> can no longer receive alerts ({esc(reason)})."
                " Its alerts are paused until someone there sends /start again.")
        await self._admins.tell(text, f"chat-dead:{chat_id}:{item_id}", skip_chat=chat_id)
