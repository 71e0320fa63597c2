"""Outbox dispatcher against a real database and a recording sender (the bot side's port)."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
import random
from typing import Any
from zoneinfo import ZoneInfo

from bot.budget import Limits, SendBudgets
from bot.dispatcher import MAX_ATTEMPTS, Dispatcher
from bot.models import ChatKind, Post
from bot.render import format_time
from bot.services.ports import (
    FloodWait,
    MessageRejected,
    Outgoing,
    PermanentSendError,
    TransientSendError,
    part_random_id,
)
from bot.store import Database, Store
from tests.support.events import draft
from tests.support.fakes import FakeClock, RecordingSender, run_until_empty

ADMIN = 500


async def setup(store: Store, *chats: int, kind: ChatKind = ChatKind.PRIVATE) -> None:
    await store.chats.upsert(ADMIN, ChatKind.PRIVATE, None)
    for chat in chats:
        await store.chats.upsert(chat, kind, None)


def make(store: Store, clock: FakeClock, sender: RecordingSender,
         limits: Limits | None = None) -> Dispatcher:
    return Dispatcher(store, sender, clock, frozenset({ADMIN}), rng=random.Random(1),
                      budgets=SendBudgets(limits))


async def status(db: Database) -> list[tuple[int, str, int]]:
    rows = await db.fetchall("SELECT chat_id, status, attempts FROM outbox ORDER BY id")
    return [(r["chat_id"], r["status"], r["attempts"]) for r in rows]


def max_in_window(times: list[dt.datetime], window: float) -> int:
    """The most sends inside any window of ``window`` seconds (closed on the right)."""
    best = 0
    ordered = sorted(times)
    for i, t in enumerate(ordered):
        inside = [u for u in ordered[i:] if (u - t).total_seconds() < window - 1e-9]
        best = max(best, len(inside))
    return best


async def test_sends_in_order_with_the_persisted_random_id(
    store: Store, db: Database, clock: FakeClock
) -> None:
    await setup(store, 1)
    await store.outbox.enqueue_notice(1, "one", "k1")
    await store.outbox.enqueue_notice(1, "two", "k2")
    assert not await store.outbox.enqueue_notice(1, "one again", "k1")  # dedup key: queued once
    sender = RecordingSender(clock)
    await run_until_empty(make(store, clock, sender), store, clock)
    stored = {r["payload"]: r["random_id"] for r in await db.fetchall("SELECT * FROM outbox")}
    assert sender.sent == [(1, "one", stored["one"]), (1, "two", stored["two"])]
    assert await status(db) == [(1, "sent", 1), (1, "sent", 1)]


async def test_flood_wait_pauses_only_that_chat(store: Store, clock: FakeClock) -> None:
    await setup(store, 1, 2)
    await store.outbox.enqueue_notice(1, "a1", "a1")
    await store.outbox.enqueue_notice(2, "b1", "b1")
    await store.outbox.enqueue_notice(1, "a2", "a2")
    sender = RecordingSender(clock)
    sender.failures[1] = [FloodWait(30)]
    dispatcher = make(store, clock, sender)
    await dispatcher.drain()
    assert [s[1] for s in sender.sent] == ["b1"]  # chat 2 unaffected; a2 waits behind the pause
    clock.advance(seconds=10)
    await dispatcher.drain()
    assert [s[1] for s in sender.sent] == ["b1"]
    clock.advance(seconds=21)
    await run_until_empty(dispatcher, store, clock)
    assert [s[1] for s in sender.sent] == ["b1", "a1", "a2"]


async def test_transient_errors_retry_with_backoff_then_give_up(
    store: Store, db: Database, clock: FakeClock
) -> None:
    await setup(store, 1)
    await store.outbox.enqueue_notice(1, "x", "x")
    sender = RecordingSender(clock)
    sender.failures[1] = [TransientSendError("timeout")] * MAX_ATTEMPTS
    dispatcher = make(store, clock, sender)
    await dispatcher.drain()
    assert await status(db) == [(1, "pending", 1)]
    await dispatcher.drain()
    assert await status(db) == [(1, "pending", 1)]  # not due yet: backoff
    delays = []
    for attempt in range(1, MAX_ATTEMPTS):
        row = await db.fetchone("SELECT next_attempt_at FROM outbox")
        assert row is not None
        delay = (dt.datetime.fromisoformat(row[0]) - clock.now()).total_seconds()
        base = 2.0 * 2 ** (attempt - 1)
        assert 0.5 * base - 1 <= delay <= min(300, 1.5 * base) + 1  # exponential, jittered
        delays.append(delay)
        clock.advance(seconds=max(delay, 1.2))  # and past the chat's own send budget
        await dispatcher.drain()
    assert delays[-1] > delays[0] * 8
    assert await status(db) == [(1, "dead", MAX_ATTEMPTS)]
    assert sender.sent == []


async def test_blocked_chat_is_dead_lettered_and_admin_told_once(
    store: Store, db: Database, clock: FakeClock
) -> None:
    await setup(store, 1)
    await store.outbox.enqueue_notice(1, "x", "x")
    await store.outbox.enqueue_notice(1, "y", "y")
    sender = RecordingSender(clock)
    sender.failures[1] = [PermanentSendError("UserIsBlockedError")]
    dispatcher = make(store, clock, sender)
    await dispatcher.drain()
    await dispatcher.drain()
    chat = await store.chats.get(1)
    assert chat is not None and chat.status == "dead"
    notices = [s for s in sender.sent if s[0] == ADMIN]
    assert len(notices) == 1 and "UserIsBlockedError" in notices[0][1]
    assert not [s for s in sender.sent if s[0] == 1]
    # /start from that chat revives it; the held message goes out
    assert await store.chats.revive(1)
    await run_until_empty(dispatcher, store, clock)
    assert [s[1] for s in sender.sent if s[0] == 1] == ["y"]
    # a second death of the same chat (after /start) tells the admins again, once
    row = await db.fetchone("SELECT COUNT(*) FROM outbox WHERE chat_id = ?", (ADMIN,))
    assert row is not None and row[0] == 1


async def test_rejected_message_does_not_kill_the_chat(
    store: Store, db: Database, clock: FakeClock
) -> None:
    await setup(store, 1)
    await store.outbox.enqueue_notice(1, "bad", "bad")
    await store.outbox.enqueue_notice(1, "good", "good")
    sender = RecordingSender(clock)
    sender.failures[1] = [MessageRejected("MESSAGE_TOO_LONG")]
    await run_until_empty(make(store, clock, sender), store, clock)
    assert await status(db) == [(1, "dead", 1), (1, "sent", 1)]
    chat = await store.chats.get(1)
    assert chat is not None and chat.status == "active"


async def test_a_flooded_chat_with_a_long_queue_does_not_starve_the_others(
    store: Store, clock: FakeClock
) -> None:
    await setup(store, 1, 2)
    for i in range(60):
        await store.outbox.enqueue_notice(1, f"a{i}", f"a{i}")
    await store.outbox.enqueue_notice(2, "b", "b")
    sender = RecordingSender(clock)
    sender.failures[1] = [FloodWait(30)]
    dispatcher = make(store, clock, sender)
    await dispatcher.drain()
    await dispatcher.drain()
    assert [s[1] for s in sender.sent] == ["b"]
    due = await store.outbox.next_due_time()
    assert due is not None and due >= clock.now()  # no busy loop on a paused chat


async def test_per_chat_budget_spaces_one_chats_messages(store: Store, clock: FakeClock) -> None:
    await setup(store, 1, 2)
    for i in range(5):
        await store.outbox.enqueue_notice(1, f"a{i}", f"a{i}")
    await store.outbox.enqueue_notice(2, "b", "b")
    sender = RecordingSender(clock)
    dispatcher = make(store, clock, sender)
    retry_in = await dispatcher.drain()
    assert [s[1] for s in sender.sent] == ["a0", "b"]  # one each: chat 2 does not wait for 1
    gap = 1 / dispatcher.budgets.limits.per_chat
    assert 1.0 <= gap <= 1.2
    assert retry_in is not None and gap - 0.1 <= retry_in <= gap
    clock.advance(seconds=0.5)
    await dispatcher.drain()
    assert len(sender.sent) == 2  # chat 1's budget is not back yet
    await run_until_empty(dispatcher, store, clock)
    times = [t for chat, t in sender.times if chat == 1]
    assert [s[1] for s in sender.sent if s[0] == 1] == [f"a{i}" for i in range(5)]  # in order
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(times)]
    assert min(gaps) >= gap - 1e-6


async def test_global_budget_holds_across_many_chats(store: Store, clock: FakeClock) -> None:
    chats = list(range(1, 101))
    await setup(store, *chats)
    for chat in chats:
        await store.outbox.enqueue_notice(chat, f"to {chat}", "k")
    sender = RecordingSender(clock)
    start = clock.now()
    dispatcher = make(store, clock, sender)
    rate = dispatcher.budgets.limits.overall
    assert 27 <= rate <= 30
    await run_until_empty(dispatcher, store, clock)
    assert len(sender.sent) == 100
    assert max_in_window([t for _, t in sender.times], 1.0) <= rate
    elapsed = (clock.now() - start).total_seconds()
    assert 99 / rate - 0.01 <= elapsed <= 99 / rate + 0.5  # paced at the budget, not slower


async def test_group_budget_is_20_per_minute(store: Store, clock: FakeClock) -> None:
    await setup(store, -100777, kind=ChatKind.GROUP)
    for i in range(25):
        await store.outbox.enqueue_notice(-100777, f"g{i}", f"g{i}")
    sender = RecordingSender(clock)
    await run_until_empty(make(store, clock, sender), store, clock)
    times = [t for _, t in sender.times]
    assert len(times) == 25
    assert max_in_window(times, 60.0) <= 20
    assert max_in_window(times, 1.0) == 1


async def test_crash_between_send_and_mark_resends_with_the_same_random_id(
    store: Store, db: Database, clock: FakeClock
) -> None:
    await setup(store, 1)
    await store.outbox.enqueue_notice(1, "once", "once")

    class CrashAfterSend(RecordingSender):
        async def deliver(self, message: Outgoing) -> int | None:
            await super().deliver(message)
            raise asyncio.CancelledError  # the process dies before mark_sent

    first = CrashAfterSend(clock)
    try:
        await make(store, clock, first).drain()
    except asyncio.CancelledError:
        pass
    assert await status(db) == [(1, "pending", 0)]  # not marked: it will be sent again
    second = RecordingSender(clock)  # a new process
    clock.advance(seconds=2)
    await run_until_empty(make(store, clock, second), store, clock)
    assert first.sent[0][2] == second.sent[0][2]  # same random_id: Telegram drops the repeat
    assert await status(db) == [(1, "sent", 1)]


def test_parts_of_a_long_message_have_stable_distinct_random_ids() -> None:
    ids = [part_random_id(-123456789, i) for i in range(10)]
    assert ids[0] == -123456789
    assert len(set(ids)) == 10
    assert ids == [part_random_id(-123456789, i) for i in range(10)]
    assert all(-(1 << 63) <= i < (1 << 63) for i in ids)


async def test_a_dead_chat_pauses_its_rules(store: Store, clock: FakeClock) -> None:
    await setup(store, 1, 2)
    await store.rules.add(1, "дрон", 1)
    await store.rules.add(2, "дрон", 2)
    await store.outbox.enqueue_notice(1, "x", "x")
    sender = RecordingSender(clock)
    sender.failures[1] = [PermanentSendError("ChatWriteForbiddenError")]
    rebuilt = []

    async def on_dead() -> None:
        rebuilt.append(True)

    dispatcher = Dispatcher(store, sender, clock, frozenset({ADMIN}), on_chat_dead=on_dead)
    await dispatcher.drain()
    assert rebuilt == [True]
    assert {r.chat_id for r in await store.rules.alerting()} == {2}


async def test_an_alert_held_back_in_the_queue_says_how_late_it_is(
    store: Store, clock: FakeClock
) -> None:
    await setup(store, 1)
    await store.channels.add(77, "c", "C", None, None)
    post = Post(channel_id=77, message_id=1, date=clock.now(), text="x",
                permalink="https://t.me/c/1")
    await store.posts.save(post, [], [draft(post, 1)])
    post2 = Post(channel_id=77, message_id=2, date=clock.now(), text="y",
                 permalink="https://t.me/c/2")
    await store.posts.save(post2, [], [draft(post2, 1)])
    sender = RecordingSender(clock)
    sender.failures[1] = [FloodWait(300)]  # Telegram held the chat back for five minutes
    dispatcher = make(store, clock, sender)
    await dispatcher.drain()
    clock.advance(seconds=301)
    await run_until_empty(dispatcher, store, clock)
    first, second = (m.html for m in sender.messages)
    assert first.splitlines()[1] == "⏳ <i>sent 5 min after it was found (delivery queue)</i>"
    assert first.splitlines()[0] == f"🔔 <b>C</b> · {format_time(post.date, ZoneInfo('UTC'))}"
    assert first.splitlines()[2] == "x" and first.endswith("Rule #1 <code>x</code>")
    assert "⏳" in second
    # on time: no note
    post3 = Post(channel_id=77, message_id=3, date=clock.now(), text="z",
                 permalink="https://t.me/c/3")
    await store.posts.save(post3, [], [draft(post3, 1)])
    clock.advance(seconds=2)
    await run_until_empty(dispatcher, store, clock)
    assert "⏳" not in sender.messages[-1].html


class RecordingPoster:
    """The webhook side's port: records what would be POSTed."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, str, dict[str, Any]]] = []

    async def post(self, url: str, fmt: str, event: dict[str, Any]) -> None:
        self.posted.append((url, fmt, event))


async def test_alerts_are_rendered_when_sent_in_the_chat_s_time_zone_then(
    store: Store, clock: FakeClock
) -> None:
    await setup(store, 1)
    await store.channels.add(77, "c", "C", None, None)
    post = Post(channel_id=77, message_id=1, date=clock.now(), text="x",
                permalink="https://t.me/c/1")
    await store.posts.save(post, [], [draft(post, 1)])
    await store.chats.set_tz(1, "Asia/Tokyo")  # /tz after the alert was queued
    sender = RecordingSender(clock)
    await run_until_empty(make(store, clock, sender), store, clock)
    assert sender.messages[0].html.splitlines()[0] == "🔔 <b>C</b> · 2026-11-25 21:00 JST"
    assert [b.data for b in sender.messages[0].buttons[0]] == ["mute:1:1h", "mute:1:24h"]


async def test_rows_queued_before_0006_are_sent_as_they_were_queued(
    store: Store, db: Database, clock: FakeClock
) -> None:
    """An upgrade with alerts in the queue: their HTML (and webhook JSON) go out unchanged;
    what is known only at send time is added at the end, never cut into the HTML."""
    await setup(store, 1, 2)
    await store.channels.add(77, "c", "C", None, None)
    post = Post(channel_id=77, message_id=1, date=clock.now(), text="x",
                permalink="https://t.me/c/1")
    saved = await store.posts.save(post, [], [])
    hook = await store.webhooks.add(1, "http://hook.example/x", "slack", 1)
    html = "🔔 <b>C</b> · 2026-11-25 12:00 UTC\nx\n<a href=\"https://t.me/c/1\">x</a>\nRule #1"
    buttons = '[[{"text": "Open post ↗", "url": "https://t.me/c/1"}]]'
    also = '["<a href=\\"https://t.me/d/1\\">@d</a>"]'
    event = {"version": 1, "type": "alert", "id": "1:post:77:1", "chat_id": 1, "late": None}
    queued = (clock.now() - dt.timedelta(minutes=5)).isoformat()

    async def as_0005(conn: Any) -> None:  # the rows exactly as version 0005 wrote them
        columns = ("(chat_id, kind, post_id, payload, summary, buttons, also, webhook_id,"
                   " random_id, dedup_key, status, next_attempt_at, created_at)")
        await conn.execute(
            f"INSERT INTO outbox {columns} VALUES (1, 'alert', ?, ?, ?, ?, ?, NULL, 7,"
            " 'post:77:1', 'pending', ?, ?)",
            (saved.post_id, html, "• one line", buttons, also, queued, queued))
        await conn.execute(
            f"INSERT INTO outbox {columns} VALUES (1, 'webhook', ?, ?, NULL, NULL, NULL, ?, 0,"
            " 'webhook:1:post:77:1', 'pending', ?, ?)",
            (saved.post_id, json.dumps(event), hook.id, queued, queued))
        await conn.execute(
            f"INSERT INTO outbox {columns} VALUES (2, 'alert', ?, ?, ?, NULL, NULL, NULL, 8,"
            " 'post:77:1', 'held', ?, ?)",
            (saved.post_id, html, "• <b>C</b> 12:00 — x", queued, queued))

    await db.transaction(as_0005)
    await store.posts.mark_deleted(77, [1])  # and the channel deleted the post meanwhile
    sender, poster = RecordingSender(clock), RecordingPoster()
    dispatcher = Dispatcher(store, sender, clock, frozenset({ADMIN}), rng=random.Random(1),
                            budgets=SendBudgets(), webhooks=poster)
    await run_until_empty(dispatcher, store, clock)
    alert, fold = sender.messages
    assert alert.html == (
        html + "\n🗑 <i>deleted from the channel before this alert was sent</i>"
        "\n⏳ <i>sent 5 min after it was found (delivery queue)</i>"
        '\n↪ also in <a href="https://t.me/d/1">@d</a>')
    assert alert.random_id == 7 and alert.buttons[0][0].url == "https://t.me/c/1"
    assert fold.chat_id == 2 and fold.html.splitlines()[1] == (
        "• <b>C</b> 12:00 — x — 🗑 <i>deleted from the channel before this alert was sent</i>")
    assert poster.posted == [("http://hook.example/x", "slack",
                              {**event, "deleted_before_sent": True})]


async def test_stops_when_cancelled_just_as_it_is_woken(store: Store, clock: FakeClock) -> None:
    """Shutdown cancels the dispatcher; a wake-up in the same instant must not swallow that.

    (Python 3.11's asyncio.wait_for returns normally when its task is cancelled in the same
    loop step as the awaited future completes, and a loop around it then never ends: the
    service's stop, which awaits every task, hung. This is the moment that caught it.)
    """
    dispatcher = make(store, clock, RecordingSender(clock))
    for _ in range(20):  # each time: idle and asleep, woken, and cancelled before it wakes up
        task = asyncio.ensure_future(dispatcher.run())
        await asyncio.sleep(0.05)
        dispatcher.wake()
        task.cancel()
        done, _ = await asyncio.wait({task}, timeout=5)
        assert done == {task}, "the dispatcher did not stop when cancelled"
        assert task.cancelled()
