"""Rule modes, mute, quiet hours, cross-channel dedup and digests: real store, ingest,
dispatcher and digest service on an injected clock (the Telegram side: test_e2e_delivery.py)."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import pytest
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from bot.budget import SendBudgets
from bot.dispatcher import Dispatcher
from bot.match import Lemmatizer
from bot.models import ChatKind, Post
from bot.services.digest import DigestService
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Database, Store
from tests.support.fakes import FakeClock, RecordingSender, run_until_empty

CHAT, OTHER = 11, 12
A, B, C = 1001, 1002, 1003  # channels
UTC = ZoneInfo("UTC")


@dataclass
class Rig:
    store: Store
    clock: FakeClock
    rules: RulesService
    ingest: IngestService
    sender: RecordingSender
    dispatcher: Dispatcher
    next_id: dict[int, int]
    db: Database  # the store's database, for assertions in SQL

    async def post(self, channel: int, text: str, *, fwd: str | None = None,
                   views: int | None = None) -> Post:
        self.next_id[channel] = self.next_id.get(channel, 0) + 1
        mid = self.next_id[channel]
        post = Post(channel_id=channel, message_id=mid, date=self.clock.now(), text=text,
                    permalink=f"https://t.me/ch{channel}/{mid}", fwd_from=fwd, views=views,
                    channel_username=f"ch{channel}")
        await self.ingest.ingest(post)
        return post

    async def outbox(self) -> list[tuple[int, str, str]]:
        rows = await self.db.fetchall("SELECT chat_id, kind, status FROM outbox ORDER BY id")
        return [(r[0], r[1], r[2]) for r in rows]


@pytest.fixture
async def rig(store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer) -> Rig:
    for chat in (CHAT, OTHER):
        await store.chats.upsert(chat, ChatKind.PRIVATE, None)
    for channel in (A, B, C):
        await store.channels.add(channel, f"ch{channel}", f"Channel {channel}", None, None)
    rules = RulesService(store, lemmatizer)
    await rules.rebuild()
    ingest = IngestService(store, rules, UTC, clock, AdminNotifier(store, frozenset()))
    sender = RecordingSender(clock)
    dispatcher = Dispatcher(store, sender, clock, frozenset(), rng=random.Random(1),
                            budgets=SendBudgets())
    return Rig(store, clock, rules, ingest, sender, dispatcher, {}, db)


async def test_modes_decide_instant_alerts_but_every_match_is_kept(
    rig: Rig, db: Database
) -> None:
    r1, _ = await rig.rules.add(CHAT, "дрон", CHAT)
    r2, _ = await rig.rules.add(CHAT, "Белгород", CHAT)
    await rig.store.rules.set_mode(CHAT, r1.number, "digest")
    await rig.post(A, "Над Белгородом сбили дрон")
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    assert len(rig.sender.sent) == 1
    alert = rig.sender.sent[0][1]
    assert f"#{r2.number}" in alert and f"#{r1.number}" not in alert  # only the instant rule
    await rig.post(A, "Ещё один дрон")  # only the digest rule matches: no alert
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    assert len(rig.sender.sent) == 1
    row = await db.fetchone("SELECT COUNT(*) FROM matches WHERE rule_id = ?", (r1.id,))
    assert row is not None and row[0] == 2  # the digest will count both


async def test_mute_silences_until_it_ends_and_unmute(rig: Rig) -> None:
    rule, _ = await rig.rules.add(CHAT, "дрон", CHAT)
    await rig.store.rules.set_muted(CHAT, rule.number, rig.clock.now() + dt.timedelta(hours=1))
    await rig.post(A, "дрон над городом")
    assert await rig.outbox() == []
    rig.clock.advance(hours=1, seconds=1)
    await rig.post(A, "снова дрон")
    assert await rig.outbox() == [(CHAT, "alert", "pending")]
    await rig.store.rules.set_muted(CHAT, rule.number, rig.clock.now() + dt.timedelta(hours=5))
    await rig.store.rules.set_muted(CHAT, rule.number, None)
    await rig.post(A, "третий дрон")
    assert len(await rig.outbox()) == 2


async def test_alerts_carry_mute_and_open_buttons(rig: Rig) -> None:
    rule, _ = await rig.rules.add(CHAT, "дрон", CHAT)
    post = await rig.post(A, "дрон")
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    (buttons,) = [m.buttons for m in rig.sender.messages]
    assert [b.data for b in buttons[0]] == [f"mute:{rule.id}:1h", f"mute:{rule.id}:24h"]
    assert buttons[1][0].url == post.permalink


async def test_quiet_hours_hold_then_fold_into_one_message(rig: Rig) -> None:
    await rig.rules.add(CHAT, "дрон", CHAT)
    await rig.rules.add(OTHER, "дрон", OTHER)
    await rig.store.chats.set_quiet(CHAT, 23 * 60, 7 * 60)  # chat tz: the default, UTC
    rig.clock.current = dt.datetime(2026, 11, 25, 23, 30, tzinfo=dt.UTC)
    await rig.post(A, "Первый дрон над Шебекино")
    rig.clock.advance(hours=3)
    await rig.post(B, "Второй дрон, теперь Грайворон")
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    assert {s[0] for s in rig.sender.sent} == {OTHER}  # the other chat is not quiet
    assert [o for o in await rig.outbox() if o[0] == CHAT] == [(CHAT, "alert", "held")] * 2
    rig.clock.current = dt.datetime(2026, 11, 26, 6, 59, tzinfo=dt.UTC)
    await rig.dispatcher.drain()
    assert [s for s in rig.sender.sent if s[0] == CHAT] == []
    rig.clock.current = dt.datetime(2026, 11, 26, 7, 0, tzinfo=dt.UTC)
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    (fold,) = [s[1] for s in rig.sender.sent if s[0] == CHAT]
    assert fold.startswith("🌙 Quiet hours are over. 2 alerts")
    assert "Первый <b>дрон</b>" in fold and "Второй <b>дрон</b>" in fold
    assert fold.index("Первый") < fold.index("Второй")
    statuses = [o for o in await rig.outbox() if o[0] == CHAT]
    assert statuses == [(CHAT, "alert", "folded")] * 2 + [(CHAT, "fold", "sent")]
    await rig.dispatcher.drain()  # folding happens once
    assert len([s for s in rig.sender.sent if s[0] == CHAT]) == 1


async def test_quiet_off_releases_what_was_held(rig: Rig) -> None:
    await rig.rules.add(CHAT, "дрон", CHAT)
    await rig.store.chats.set_quiet(CHAT, 0, 23 * 60 + 59)
    rig.clock.current = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    await rig.post(A, "дрон")
    assert await rig.outbox() == [(CHAT, "alert", "held")]
    await rig.store.chats.set_quiet(CHAT, None, None)
    assert await rig.store.outbox.release_held(CHAT) == 1
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    assert next(s[1].splitlines()[0] for s in rig.sender.sent).startswith("🌙")


async def test_a_forward_of_an_alerted_story_edits_the_alert(rig: Rig) -> None:
    await rig.rules.add(CHAT, "дрон", CHAT)
    original = await rig.post(A, "Дрон атаковал подстанцию")
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    assert len(rig.sender.sent) == 1
    first_id = rig.sender.next_id
    await rig.post(B, "Дрон атаковал подстанцию (репост)",
                   fwd=f"channel:{A}/{original.message_id}")
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    assert len(rig.sender.messages) == 2
    edit = rig.sender.messages[1]
    assert edit.edit_message_id == first_id  # the same Telegram message, edited
    assert edit.html.endswith(f'↪ also in <a href="https://t.me/ch{B}/1">@ch{B}</a>')
    assert edit.buttons == rig.sender.messages[0].buttons
    # a third channel: one edit naming both
    await rig.post(C, "Дрон атаковал подстанцию", fwd=f"channel:{A}/{original.message_id}")
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    assert rig.sender.messages[-1].html.endswith(f"@ch{B}</a>, <a href=\"https://t.me/ch{C}/1\">"
                                                 f"@ch{C}</a>")
    kinds = [o[1] for o in await rig.outbox()]
    assert kinds == ["alert", "edit"]  # one alert; the edit row re-armed for the third channel


async def test_near_identical_text_is_the_same_story_unrelated_text_is_not(rig: Rig) -> None:
    await rig.rules.add(CHAT, "Белгород", CHAT)
    text = ("В Белгороде после атаки беспилотников повреждены два жилых дома и автомобиль,"
            " пострадавших нет, сообщил губернатор")
    await rig.post(A, text)
    # not sent yet: the "also in" goes into the pending alert itself
    await rig.post(B, "⚡️ " + text + "\n\nПодписаться на канал B https://t.me/chB")
    await rig.post(C, "В Белгороде открыли новый парк и отремонтировали две школы к сентябрю")
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    assert len(rig.sender.sent) == 2
    assert "↪ also in" in rig.sender.sent[0][1] and f"@ch{B}" in rig.sender.sent[0][1]
    assert "↪ also in" not in rig.sender.sent[1][1]


async def test_the_same_story_after_the_window_alerts_again(rig: Rig) -> None:
    await rig.rules.add(CHAT, "дрон", CHAT)
    original = await rig.post(A, "Дрон атаковал подстанцию")
    rig.clock.advance(hours=7)  # past the 6 h default window
    await rig.post(B, "Дрон атаковал подстанцию", fwd=f"channel:{A}/{original.message_id}")
    assert [o[1] for o in await rig.outbox()] == ["alert", "alert"]


# ---------------------------------------------------------------------- digests
async def digest_rig(rig: Rig) -> DigestService:
    rule, _ = await rig.rules.add(CHAT, "дрон", CHAT)
    await rig.store.rules.set_mode(CHAT, rule.number, "digest")
    return DigestService(rig.store, rig.clock, UTC, None)


async def test_digest_counts_rules_lists_top_posts_and_draws_a_chart(rig: Rig) -> None:
    digests = await digest_rig(rig)
    await rig.store.chats.set_digest(CHAT, "0 8 * * *")
    for hour in range(6):
        for i in range(hour % 3 + 1):
            await rig.post(A, f"дрон номер {hour}-{i}", views=100 * hour + i)
        rig.clock.advance(hours=1)
    chat = await rig.store.chats.get(CHAT)
    assert chat is not None
    assert await digests.send(chat, key="k1", move_period=True)
    assert not await digests.send(chat, key="k1", move_period=True)  # once per key
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    (message,) = rig.sender.messages
    assert "<b>12</b> matching posts" in message.html
    assert "#1 <code>дрон</code> — 12" in message.html
    top = message.html.split("Most viewed")[1]
    assert top.index("номер 5-") < top.index("номер 4-")  # by views
    assert message.photo is not None and message.photo.startswith(b"\x89PNG")


async def test_empty_digest_says_so_and_how_to_fill_it(rig: Rig) -> None:
    digests = DigestService(rig.store, rig.clock, UTC, None)
    await rig.rules.add(CHAT, "дрон", CHAT)
    await rig.store.rules.set_mode(CHAT, 1, "instant")  # alerts only: not in digests
    await rig.store.chats.set_digest(CHAT, "0 8 * * *")
    chat = await rig.store.chats.get(CHAT)
    assert chat is not None
    html, chart = await digests.build(chat, rig.clock.now() - dt.timedelta(days=1),
                                      rig.clock.now())
    assert "No new posts" in html and "/mode" in html and chart is None


async def test_a_digest_missed_while_down_runs_once_after_start(rig: Rig, db: Database) -> None:
    digests = await digest_rig(rig)
    rig.clock.current = dt.datetime(2026, 11, 24, 7, 0, tzinfo=dt.UTC)
    await rig.store.chats.set_digest(CHAT, "0 8,20 * * *")
    await rig.post(A, "дрон до простоя")
    # down from 07:00 on the 24th to 12:00 on the 25th: 08:00, 20:00 and 08:00 were missed
    rig.clock.current = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)
    spawned: list[str] = []
    runs = []

    def spawn(name: str, factory: object) -> None:
        spawned.append(name)
        runs.append(factory)

    scheduler = AsyncIOScheduler(timezone=dt.UTC)
    assert await digests.attach(scheduler, spawn) == 1  # coalesced: one run, not three
    assert spawned == [f"digest:{CHAT}"]
    job = scheduler.get_job(f"digest:{CHAT}")
    assert job is not None and str(job.trigger.timezone) == "UTC"
    assert await runs[0]()  # type: ignore[operator]
    assert not await digests.run_scheduled(CHAT)  # the job firing too: same fire time, no repeat
    rows = await db.fetchall("SELECT dedup_key FROM outbox WHERE kind = 'digest'")
    assert [r[0] for r in rows] == ["digest:2026-11-25T08:00:00+00:00"]
    # a restart right after: nothing missed any more
    assert await digests.attach(AsyncIOScheduler(timezone=dt.UTC), spawn) == 0
    # the next fire time gets its own digest, covering only what came since
    rig.clock.current = dt.datetime(2026, 11, 25, 19, 59, tzinfo=dt.UTC)
    await rig.post(A, "дрон после")
    rig.clock.current = dt.datetime(2026, 11, 25, 20, 0, tzinfo=dt.UTC)
    assert await digests.run_scheduled(CHAT)
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    first, second = (m.html for m in rig.sender.messages)
    assert "до простоя" in first and "после" not in first
    assert "после" in second and "до простоя" not in second


async def test_digest_jobs_use_the_chats_time_zone(rig: Rig) -> None:
    digests = await digest_rig(rig)
    await rig.store.chats.set_tz(CHAT, "Europe/Kyiv")
    await rig.store.chats.set_digest(CHAT, "0 8 * * *")
    scheduler = AsyncIOScheduler(timezone=dt.UTC)
    await digests.attach(scheduler, lambda name, factory: None)
    job = scheduler.get_job(f"digest:{CHAT}")
    assert job is not None
    fire = job.trigger.get_next_fire_time(None, rig.clock.now())
    assert fire.astimezone(dt.UTC).hour == 6  # 08:00 in Kyiv (UTC+2 in November)
    await rig.store.chats.set_digest(CHAT, None)
    chat = await rig.store.chats.get(CHAT)
    assert chat is not None
    digests.schedule(chat)
    assert scheduler.get_job(f"digest:{CHAT}") is None


class Labelled:
    """A translator stand-in (the real ones are tested against a server in tests/http/)."""

    async def block(self, post_id: int, text: str, lang: str) -> str:
        return f"\n🌐 <i>{lang}: {text.upper()}</i>"


async def test_an_also_in_edit_says_again_what_the_alert_said_when_sent(rig: Rig) -> None:
    """The edited message keeps its queue note and translation; only "also in" grows."""
    await rig.store.chats.set_translate(CHAT, "en")
    rig.dispatcher = Dispatcher(rig.store, rig.sender, rig.clock, frozenset(),
                                rng=random.Random(1), budgets=SendBudgets(),
                                translator=Labelled())
    await rig.rules.add(CHAT, "дрон", CHAT)
    original = await rig.post(A, "Дрон атаковал подстанцию")
    rig.clock.advance(minutes=3)  # it waited in the queue (a flood wait, say)
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    sent = rig.sender.messages[0].html
    assert "⏳" in sent and "🌐 <i>en: ДРОН АТАКОВАЛ ПОДСТАНЦИЮ</i>" in sent
    await rig.post(B, "Дрон атаковал подстанцию (репост)",
                   fwd=f"channel:{A}/{original.message_id}")
    await run_until_empty(rig.dispatcher, rig.store, rig.clock)
    edit = rig.sender.messages[1]
    assert edit.edit_message_id is not None  # the sent message, edited
    also = f'\n↪ also in <a href="https://t.me/ch{B}/1">@ch{B}</a>'
    assert edit.html.replace(also, "") == sent  # the same message, one line longer
    assert also in edit.html
