"""Outbox dispatcher against a real database and a recording sender (the bot side's port)."""

from __future__ import annotations

import random

from bot.dispatcher import MAX_ATTEMPTS, Dispatcher
from bot.models import ChatKind
from bot.services.ports import FloodWait, MessageRejected, PermanentSendError, TransientSendError
from bot.store import Store
from tests.conftest import FakeClock

ADMIN = 500


class RecordingSender:
    """Records sends; ``failures[chat_id]`` lists exceptions to raise on the next attempts."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, str, int]] = []
        self.failures: dict[int, list[Exception]] = {}

    async def send_html(self, chat_id: int, html: str, random_id: int) -> None:
        queue = self.failures.get(chat_id)
        if queue:
            raise queue.pop(0)
        self.sent.append((chat_id, html, random_id))


async def setup(store: Store, *chats: int) -> None:
    for chat in (ADMIN, *chats):
        await store.upsert_chat(chat, ChatKind.PRIVATE, None)


def make(store: Store, clock: FakeClock, sender: RecordingSender) -> Dispatcher:
    return Dispatcher(store, sender, clock, frozenset({ADMIN}), rng=random.Random(1))


async def status(store: Store) -> list[tuple[int, str, int]]:
    rows = await store.db.fetchall("SELECT chat_id, status, attempts FROM outbox ORDER BY id")
    return [(r["chat_id"], r["status"], r["attempts"]) for r in rows]


async def test_sends_in_order_with_the_persisted_random_id(store: Store, clock: FakeClock) -> None:
    await setup(store, 1)
    await store.enqueue_notice(1, "one", "k1")
    await store.enqueue_notice(1, "two", "k2")
    assert not await store.enqueue_notice(1, "one again", "k1")  # dedup key: queued once
    sender = RecordingSender()
    assert await make(store, clock, sender).drain() == 2
    stored = {r["payload"]: r["random_id"] for r in await store.db.fetchall("SELECT * FROM outbox")}
    assert sender.sent == [(1, "one", stored["one"]), (1, "two", stored["two"])]
    assert await status(store) == [(1, "sent", 1), (1, "sent", 1)]


async def test_flood_wait_pauses_only_that_chat(store: Store, clock: FakeClock) -> None:
    await setup(store, 1, 2)
    await store.enqueue_notice(1, "a1", "a1")
    await store.enqueue_notice(2, "b1", "b1")
    await store.enqueue_notice(1, "a2", "a2")
    sender = RecordingSender()
    sender.failures[1] = [FloodWait(30)]
    dispatcher = make(store, clock, sender)
    await dispatcher.drain()
    assert [s[1] for s in sender.sent] == ["b1"]  # chat 2 unaffected; a2 waits behind the pause
    clock.advance(seconds=10)
    await dispatcher.drain()
    assert [s[1] for s in sender.sent] == ["b1"]
    clock.advance(seconds=21)
    await dispatcher.drain()
    assert [s[1] for s in sender.sent] == ["b1", "a1", "a2"]


async def test_transient_errors_retry_with_backoff_then_give_up(
    store: Store, clock: FakeClock
) -> None:
    await setup(store, 1)
    await store.enqueue_notice(1, "x", "x")
    sender = RecordingSender()
    sender.failures[1] = [TransientSendError("timeout")] * MAX_ATTEMPTS
    dispatcher = make(store, clock, sender)
    await dispatcher.drain()
    assert await status(store) == [(1, "pending", 1)]
    assert await dispatcher.drain() == 0  # not due yet: backoff
    for _ in range(MAX_ATTEMPTS - 1):
        clock.advance(seconds=600)
        await dispatcher.drain()
    assert await status(store) == [(1, "dead", MAX_ATTEMPTS)]
    assert sender.sent == []


async def test_blocked_chat_is_dead_lettered_and_admin_told_once(
    store: Store, clock: FakeClock
) -> None:
    await setup(store, 1)
    await store.enqueue_notice(1, "x", "x")
    await store.enqueue_notice(1, "y", "y")
    sender = RecordingSender()
    sender.failures[1] = [PermanentSendError("UserIsBlockedError")]
    dispatcher = make(store, clock, sender)
    await dispatcher.drain()
    await dispatcher.drain()
    chat = await store.chat(1)
    assert chat is not None and chat.status == "dead"
    notices = [s for s in sender.sent if s[0] == ADMIN]
    assert len(notices) == 1 and "UserIsBlockedError" in notices[0][1]
    assert not [s for s in sender.sent if s[0] == 1]
    # /start from that chat revives it; the held message goes out
    assert await store.revive_chat(1)
    await dispatcher.drain()
    assert [s[1] for s in sender.sent if s[0] == 1] == ["y"]


async def test_rejected_message_does_not_kill_the_chat(store: Store, clock: FakeClock) -> None:
    await setup(store, 1)
    await store.enqueue_notice(1, "bad", "bad")
    await store.enqueue_notice(1, "good", "good")
    sender = RecordingSender()
    sender.failures[1] = [MessageRejected("MESSAGE_TOO_LONG")]
    await make(store, clock, sender).drain()
    assert await status(store) == [(1, "dead", 1), (1, "sent", 1)]
    chat = await store.chat(1)
    assert chat is not None and chat.status == "active"


async def test_a_flooded_chat_with_a_long_queue_does_not_starve_the_others(
    store: Store, clock: FakeClock
) -> None:
    await setup(store, 1, 2)
    for i in range(60):
        await store.enqueue_notice(1, f"a{i}", f"a{i}")
    await store.enqueue_notice(2, "b", "b")
    sender = RecordingSender()
    sender.failures[1] = [FloodWait(30)]
    dispatcher = make(store, clock, sender)
    await dispatcher.drain()
    await dispatcher.drain()
    assert [s[1] for s in sender.sent] == ["b"]
    due = await store.next_outbox_time()
    assert due is not None and due >= clock.now()  # no busy loop on a paused chat
