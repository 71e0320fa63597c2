"""Channels read through their web preview: the t.me/s parser on hand-built pages, and the
poller against a real HTTP server on 127.0.0.1 with the real store, rules and ingest."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import hashlib
from collections.abc import AsyncIterator, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from bot.match import Lemmatizer
from bot.models import Channel, ChatKind
from bot.preview import (
    PreviewError,
    PreviewPoller,
    parse_page,
    parse_views,
    preview_channel_id,
)
from bot.services.ingest import IngestService
from bot.services.notify import AdminNotifier
from bot.services.rules import RulesService
from bot.store import Database, Store
from tests.support.fakes import FakeClock
from tests.support.preview_server import FakeChannel, PreviewServer

DATA = Path(__file__).resolve().parents[1] / "data" / "preview"
ADMIN, CHAT = 500, 11
UTC = ZoneInfo("UTC")


def fixture_page(name: str = "channel_page.html") -> str:
    return (DATA / name).read_text(encoding="utf-8")


# ---------------------------------------------------------------------------- the parser
def test_page_gives_posts_oldest_first_with_ids_dates_title_and_paging() -> None:
    cid = preview_channel_id("rybar")
    page = parse_page(fixture_page(), "rybar", cid)
    assert page.title == "Рыбарь"
    assert not page.disabled
    ids = [p.message_id for p in page.posts]
    # 6500/6501 are parts of the album 6499; 6508 is a service message (no post)
    assert ids == [6494, 6495, 6496, 6497, 6498, 6499, 6503, 6504, 6505, 6506, 6507, 6509]
    assert page.oldest_id == 6494 and page.newest_id == 6509 and page.dropped == 0
    assert not page.full  # 16 ids: fewer than a page of 20
    first = page.posts[0]
    assert first.channel_id == cid and first.channel_username == "rybar"
    assert first.permalink == "https://t.me/rybar/6494"
    assert first.date == dt.datetime(2024, 12, 4, 7, 20, tzinfo=dt.UTC)
    assert all(p.date.tzinfo is not None for p in page.posts)


def test_text_keeps_line_breaks_and_the_visible_text_of_links() -> None:
    posts = {p.message_id: p for p in parse_page(fixture_page(), "rybar", 1).posts}
    assert posts[6494].text == (
        "❗️В Раменском и Павлово-Посадском городских округах сбили 2 беспилотника, летевших на"
        " Москву, — Собянин\n\nСпециалисты экстренных служб работают на месте.")
    # a link whose text differs from its URL keeps only the text (as the live source's text)
    assert posts[6495].text == ("Как спрятать любые данные в JPEG\n\nА вы уже прятали что-то"
                                " внутри JPEG? Разбираем базовый способ & другие.")
    assert "habr.com" not in posts[6495].text
    # hashtags, mentions and bare URLs stay as written
    assert posts[6496].text.endswith("командир группы\n\n#инфографика")
    assert posts[6497].text == ("Владимир Путин распорядился установить День морской пехоты."
                                "\n\n🎯@shot_shot · Прислать новость · https://bit.ly/bbcrussian")
    assert posts[6505].text == "Сводка за сутки: подробности в файле"  # spoiler shown
    assert posts[6504].text == ""  # the quoted reply is not the post's text


def test_views_are_expanded() -> None:
    assert parse_views("987") == 987
    assert parse_views("1.2K") == 1200
    assert parse_views("12.3K") == 12300
    assert parse_views("3.4M") == 3_400_000
    assert parse_views("5K") == 5000
    assert parse_views("1,5K") == 1500
    assert parse_views("") is None and parse_views("many") is None
    views = {p.message_id: p.views for p in parse_page(fixture_page(), "rybar", 1).posts}
    assert views[6494] == 987 and views[6495] == 1200 and views[6496] == 3_400_000


def test_forwards_edits_replies_and_media_kinds() -> None:
    posts = {p.message_id: p for p in parse_page(fixture_page(), "rybar", 1).posts}
    assert posts[6496].fwd_from == "name:@other/55"  # a public channel's post
    assert posts[6503].fwd_from == "name:Иван Петров"  # a hidden user: the shown name
    assert posts[6509].fwd_from == "channel:1754252633/126168"  # private: the live form
    assert posts[6494].fwd_from is None
    assert posts[6497].edit_date == posts[6497].date  # "edited" as its own span
    assert posts[6505].edit_date == posts[6505].date  # "edited" before the date link
    assert posts[6494].edit_date is None and posts[6503].edit_date is None
    assert posts[6504].reply_to == 6494
    kinds = {i: p.media for i, p in posts.items()}
    assert kinds == {6494: None, 6495: None, 6496: None, 6497: None, 6498: "photo",
                     6499: "photo", 6503: "video", 6504: "voice", 6505: "document",
                     6506: "poll", 6507: "sticker", 6509: None}
    assert posts[6498].text == ""  # media only


def test_landing_page_is_disabled_and_garbage_is_not() -> None:
    page = parse_page(fixture_page("landing_page.html"), "moscow_chat", 1)
    assert page.disabled and page.posts == [] and page.title is None
    for junk in ("", "\x00\x01\x02", "<html", "<<<>>>", "a" * 1000, "<h1>502 Bad Gateway</h1>",
                 '<div class="tgme_widget_message" data-post="rybar/abc">x</div>'):
        page = parse_page(junk, "rybar", 1)
        assert page.posts == [] and not page.disabled and not page.recognised


def test_truncated_page_keeps_the_posts_before_the_cut() -> None:
    html = fixture_page()
    cut = html.index("Видео атаки дронов")  # inside the text of 6503: its date is gone
    page = parse_page(html[:cut + 5], "rybar", 1)
    assert [p.message_id for p in page.posts] == [6494, 6495, 6496, 6497, 6498, 6499]
    assert page.newest_id == 6501 and page.dropped == 1  # the album's parts were complete
    assert page.title == "Рыбарь"  # the header comes first on the page


def test_a_dateless_message_inside_a_page_takes_the_next_date() -> None:
    html = fixture_page().replace(
        '<time datetime="2024-12-04T07:35:12+00:00" class="time">07:35</time>', "")
    posts = {p.message_id: p for p in parse_page(html, "rybar", 1).posts}
    assert posts[6495].date == posts[6496].date
    assert len(posts) == 12


def test_preview_channel_id_is_stable_negative_and_case_blind() -> None:
    cid = preview_channel_id("rybar")
    assert cid < 0
    assert preview_channel_id("@Rybar") == cid == preview_channel_id("RYBAR")
    assert preview_channel_id("rybar2") != cid
    digest = hashlib.blake2b(b"rybar", digest_size=6).digest()
    assert cid == -(int.from_bytes(digest, "big") + 1)


# ---------------------------------------------------------------------------- the poller
@dataclass
class Rig:
    store: Store
    clock: FakeClock
    server: PreviewServer
    poller: PreviewPoller
    rules: RulesService
    db: Database  # the store's database, for assertions in SQL

    async def watch(self, fake: FakeChannel, *, by: int | None = CHAT,
                    since: dt.date | None = None) -> int:
        """Follow the channel as /watch @name preview does (its backfill told to ``by``)."""
        cid = preview_channel_id(fake.name)
        if by is not None:
            self.poller.plan_backfill(cid, by, since)
        await self.store.channels.add(cid, fake.name, fake.title, None, by)
        await self.store.channels.set_source(cid, "preview")
        return cid

    async def channel(self, cid: int) -> Channel:
        channel = await self.store.channels.get(cid)
        assert channel is not None
        return channel

    async def poll(self, cid: int) -> int:
        return await self.poller.poll(await self.channel(cid))

    async def stored(self, cid: int) -> list[tuple[int, str]]:
        rows = await self.db.fetchall(
            "SELECT message_id, source FROM posts WHERE channel_id = ? ORDER BY id", (cid,))
        return [(r["message_id"], r["source"]) for r in rows]

    async def alerts(self) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT p.text FROM outbox o JOIN posts p ON p.id = o.post_id"
            " WHERE o.kind = 'alert' ORDER BY o.id")
        return [r["text"] for r in rows]

    async def notices(self, chat: int = ADMIN) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT payload FROM outbox WHERE kind = 'notice' AND chat_id = ? ORDER BY id",
            (chat,))
        return [r["payload"] for r in rows]

    async def all_notices(self) -> list[str]:
        rows = await self.db.fetchall(
            "SELECT payload FROM outbox WHERE kind = 'notice' ORDER BY id")
        return [r["payload"] for r in rows]

    async def matched(self, cid: int) -> list[int]:
        """Message ids of the channel's posts with a recorded rule match."""
        rows = await self.db.fetchall(
            "SELECT DISTINCT p.message_id FROM matches m JOIN posts p ON p.id = m.post_id"
            " WHERE p.channel_id = ? ORDER BY 1", (cid,))
        return [r["message_id"] for r in rows]


@pytest.fixture
async def server() -> AsyncIterator[PreviewServer]:
    srv = await PreviewServer.start()
    yield srv
    await srv.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def make_rig(store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer,
                   server: PreviewServer, http: httpx.AsyncClient, **options: Any) -> Rig:
    for chat in (CHAT, ADMIN):
        await store.chats.upsert(chat, ChatKind.PRIVATE, None)
    rules = RulesService(store, lemmatizer)
    await rules.rebuild()
    await rules.add(CHAT, "дрон", CHAT)
    notifier = AdminNotifier(store, frozenset({ADMIN}))
    ingest = IngestService(store, rules, UTC, clock, notifier)
    poller = PreviewPoller(http, server.url, store, ingest, notifier, clock, **options)
    return Rig(store, clock, server, poller, rules, db)


@pytest.fixture
async def rig(store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer,
              server: PreviewServer, http: httpx.AsyncClient) -> Rig:
    return await make_rig(store, db, clock, lemmatizer, server, http)


async def test_first_poll_backfills_then_new_posts_alert(rig: Rig) -> None:
    fake = rig.server.channel("rybar", "Рыбарь")
    fake.add_many(30)
    fake.add("Над Белгородом сбит дрон")  # matches, but is history: no alert
    fake.add_many(3)
    cid = await rig.watch(fake)

    assert await rig.poll(cid) == 34  # fewer than BACKFILL_POSTS: the whole channel
    backfilled = [(i, "backfill") for i in range(15, 35)] + [(i, "backfill") for i in range(1, 15)]
    assert await rig.stored(cid) == backfilled  # newest page first, each page oldest first
    assert (await rig.channel(cid)).cursor == 34
    assert await rig.alerts() == [] and await rig.matched(cid) == [31]
    assert rig.server.hits("rybar") == [{}, {"before": 15}]  # the second page held message 1

    fake.add_many(1)
    fake.add("Дрон упал у Курска")
    fake.add("Сводка без совпадений")
    assert await rig.poll(cid) == 3
    assert await rig.stored(cid) == [*backfilled, (35, "preview"), (36, "preview"),
                                     (37, "preview")]
    assert await rig.alerts() == ["Дрон упал у Курска"]
    assert (await rig.channel(cid)).cursor == 37
    assert rig.server.hits("rybar")[2:] == [{"after": 34}]

    assert await rig.poll(cid) == 0  # nothing new: one request, nothing stored twice
    assert rig.server.hits("rybar")[3:] == [{"after": 37}]
    assert len(await rig.stored(cid)) == 37 and len(await rig.alerts()) == 1


async def test_more_than_a_page_of_new_posts_is_followed_oldest_first(rig: Rig) -> None:
    fake = rig.server.channel("rybar", "Рыбарь")
    fake.add_many(5)
    cid = await rig.watch(fake)
    await rig.poll(cid)
    fake.add_many(20)
    fake.add("Дроны над Брянском")
    fake.add_many(24)
    fake.add("Ещё один дрон")
    assert await rig.poll(cid) == 46
    stored = await rig.stored(cid)
    assert [m for m, _ in stored] == list(range(1, 52))  # each once, in order
    assert {s for m, s in stored if m > 5} == {"preview"}
    assert await rig.alerts() == ["Дроны над Брянском", "Ещё один дрон"]
    assert rig.server.hits("rybar")[1:] == [{"after": 5}, {"after": 25}, {"after": 45}]
    assert (await rig.channel(cid)).cursor == 51


async def test_forwarded_edited_and_media_only_posts_are_stored_right(
    rig: Rig, db: Database
) -> None:
    fake = rig.server.channel("rybar", "Рыбарь")
    fake.add_many(2)
    cid = await rig.watch(fake)
    await rig.poll(cid)
    fake.add("Российские военные ведут охоту за расчетами дронов<br/><br/>"
             '<a href="https://ria.ru/20241204/drony.html">Подробнее</a>',
             forwarded=("https://t.me/rian_ru/271584", "РИА Новости"), views="3.4M")
    fake.add("Доллар упал ниже 104₽, евро — ниже 110.", edited=True, views="987")
    fake.add(media="photo", views="12.3K")
    fake.add("Обычный еженедельный созвон", forwarded=(None, "Иван Петров"), media="video")
    fake.add(media="poll")
    assert await rig.poll(cid) == 5
    rows = await db.fetchall(
        "SELECT message_id, text, views, fwd_from, media, edit_date, date, permalink, story"
        " FROM posts WHERE channel_id = ? AND message_id > 2 ORDER BY message_id", (cid,))
    got = {r["message_id"]: r for r in rows}
    assert got[3]["text"] == ("Российские военные ведут охоту за расчетами дронов\n\n"
                              "Подробнее")
    assert got[3]["fwd_from"] == "name:@rian_ru/271584" and got[3]["views"] == 3_400_000
    assert got[3]["story"] == f"channel:{cid}/3"  # no numeric origin: its own story
    assert got[4]["edit_date"] == got[4]["date"] and got[4]["views"] == 987
    assert got[3]["edit_date"] is None
    assert (got[5]["text"], got[5]["media"], got[5]["views"]) == ("", "photo", 12300)
    assert (got[6]["fwd_from"], got[6]["media"]) == ("name:Иван Петров", "video")
    assert got[7]["media"] == "poll"
    assert got[5]["permalink"] == "https://t.me/rybar/5"
    assert await rig.alerts() == [got[3]["text"]]


async def test_a_redirect_away_from_the_preview_disables_the_channel_once(rig: Rig) -> None:
    fake = rig.server.channel("moscow_chat", "Москва – чат", preview=False)
    cid = await rig.watch(fake)
    assert await rig.poller.poll_all() == 0
    channel = await rig.channel(cid)
    assert (channel.status, channel.last_error) == ("error", "web preview disabled")
    notices = await rig.notices()
    assert len(notices) == 1
    assert "@moscow_chat" in notices[0] and "/watch @moscow_chat" in notices[0]
    assert await rig.poller.poll_all() == 0  # no longer active: not asked again
    assert len(rig.server.hits("moscow_chat")) == 1
    await rig.poller.poll(channel)  # even a direct poll says it only once
    assert len(await rig.notices()) == 1
    with pytest.raises(PreviewError, match="no public web preview"):
        await rig.poller.probe("@moscow_chat")


async def test_429_backs_off_on_the_clock_then_succeeds(rig: Rig) -> None:
    fake = rig.server.channel("rybar", "Рыбарь")
    fake.add_many(3)
    cid = await rig.watch(fake)
    await rig.poll(cid)
    fake.add("Сбит дрон")
    rig.server.fail("rybar", 429, retry_after="300")
    assert await rig.poll(cid) == 0
    assert len(rig.server.hits("rybar")) == 2
    rig.clock.advance(seconds=299)  # Retry-After outweighs the 60 s base back-off
    assert await rig.poll(cid) == 0
    assert await rig.poller.poll_all() == 0
    assert len(rig.server.hits("rybar")) == 2  # nothing was asked while backing off
    with pytest.raises(PreviewError):
        await rig.poller.probe("rybar")
    rig.clock.advance(seconds=1)
    assert await rig.poll(cid) == 1
    assert await rig.alerts() == ["Сбит дрон"]
    assert (await rig.channel(cid)).cursor == 4


async def test_server_errors_back_off_exponentially_and_success_resets(rig: Rig) -> None:
    fake = rig.server.channel("rybar", "Рыбарь")
    fake.add_many(3)
    cid = await rig.watch(fake)
    await rig.poll(cid)
    fake.add_many(2)
    rig.server.fail("rybar", 500, times=3)
    asked = len(rig.server.hits("rybar"))
    for wait in (60, 120, 240):  # base 60 s, doubling
        assert await rig.poll(cid) == 0
        asked += 1
        rig.clock.advance(seconds=wait - 1)
        assert await rig.poll(cid) == 0
        assert len(rig.server.hits("rybar")) == asked  # still backing off
        rig.clock.advance(seconds=1)
    assert await rig.poll(cid) == 2  # the fourth try gets through
    rig.server.fail("rybar", 503)
    assert await rig.poll(cid) == 0
    rig.clock.advance(seconds=60)  # reset by the success: back to the base wait
    fake.add_many(1)
    assert await rig.poll(cid) == 1
    assert [m for m, _ in await rig.stored(cid)] == [1, 2, 3, 4, 5, 6]


async def test_back_off_stops_doubling_at_an_hour(
        store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer, server: PreviewServer,
        http: httpx.AsyncClient) -> None:
    rig = await make_rig(store, db, clock, lemmatizer, server, http, base_backoff=1000)
    fake = server.channel("rybar", "Рыбарь")
    fake.add_many(1)
    cid = await rig.watch(fake)
    await rig.poll(cid)
    server.fail("rybar", 502, times=4)
    for wait in (1000, 2000, 3600, 3600):
        asked = len(server.hits("rybar"))
        await rig.poll(cid)
        assert len(server.hits("rybar")) == asked + 1
        clock.advance(seconds=wait - 1)
        await rig.poll(cid)
        assert len(server.hits("rybar")) == asked + 1
        clock.advance(seconds=1)
    fake.add_many(1)
    assert await rig.poll(cid) == 1


async def test_retry_after_as_an_http_date_is_honoured(rig: Rig) -> None:
    fake = rig.server.channel("rybar", "Рыбарь")
    fake.add_many(1)
    cid = await rig.watch(fake)
    when = rig.clock.now() + dt.timedelta(minutes=10)
    rig.server.fail("rybar", 429, retry_after=email.utils.format_datetime(when, usegmt=True))
    assert await rig.poll(cid) == 0
    rig.clock.advance(seconds=599)
    assert await rig.poll(cid) == 0
    assert len(rig.server.hits("rybar")) == 1
    rig.clock.advance(seconds=1)
    assert await rig.poll(cid) == 1


async def test_malformed_and_truncated_pages_never_lose_or_rewind(rig: Rig) -> None:
    fake = rig.server.channel("rybar", "Рыбарь")
    fake.add_many(4)
    cid = await rig.watch(fake)
    await rig.poll(cid)
    fake.add("Дрон над Курском")
    fake.add_many(2)
    fake.add("Второй дрон за утро")
    fake.add_many(2)

    rig.server.garbage("rybar")
    assert await rig.poll(cid) == 0  # no exception, nothing stored
    assert (await rig.channel(cid)).cursor == 4

    rig.server.truncate("rybar", keep=0)  # cut inside the first new post
    assert await rig.poll(cid) == 0
    assert (await rig.channel(cid)).cursor == 4

    rig.server.truncate("rybar", keep=3)  # three whole posts, then the cut
    assert await rig.poll(cid) == 3
    assert (await rig.channel(cid)).cursor == 7

    assert await rig.poll(cid) == 3  # the next good page brings the rest
    stored = await rig.stored(cid)
    assert [m for m, _ in stored] == list(range(1, 11))
    assert await rig.alerts() == ["Дрон над Курском", "Второй дрон за утро"]
    assert await rig.notices() == []  # a bad page is no disabled preview


async def test_deleted_posts_leave_gaps_that_do_not_stall(rig: Rig) -> None:
    fake = rig.server.channel("rybar", "Рыбарь")
    fake.add_many(3)
    cid = await rig.watch(fake)
    await rig.poll(cid)
    fake.add("После удаления", gap=2)  # 4 and 5 were deleted
    fake.add("И ещё дрон")
    assert await rig.poll(cid) == 2
    assert [m for m, _ in await rig.stored(cid)] == [1, 2, 3, 6, 7]
    assert (await rig.channel(cid)).cursor == 7
    # the gap was checked with ?before= once, then the cursor moved past it
    assert rig.server.hits("rybar")[1:] == [{"after": 3}, {"before": 6}]
    assert await rig.poll(cid) == 0


async def test_a_server_ignoring_after_is_walked_back_with_before(rig: Rig) -> None:
    fake = rig.server.channel("rybar", "Рыбарь", ignore_after=True)
    fake.add_many(10)
    cid = await rig.watch(fake)
    await rig.poll(cid)
    fake.add_many(30)
    fake.add("Дрон в конце")
    assert await rig.poll(cid) == 31
    assert [m for m, _ in await rig.stored(cid)] == list(range(1, 42))
    assert rig.server.hits("rybar")[1:3] == [{"after": 10}, {"before": 22}]
    assert await rig.alerts() == ["Дрон в конце"]


async def test_poll_all_reads_only_active_preview_channels_a_few_at_once(
        store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer, server: PreviewServer,
        http: httpx.AsyncClient) -> None:
    rig = await make_rig(store, db, clock, lemmatizer, server, http, max_in_flight=2)
    ids = []
    for n in range(6):
        fake = server.channel(f"news_{n}", f"Новости {n}")
        fake.add_many(3 + n)
        ids.append(await rig.watch(fake))
    await store.channels.add(777, "live_one", "Живой канал", 1, None)  # read by the account
    server.channel("live_one", "Живой канал").add_many(2)
    await store.channels.set_status(ids[5], "unwatched")
    server.delay = 0.05
    assert await rig.poller.poll_all() == sum(3 + n for n in range(5))
    assert server.max_in_flight == 2
    assert server.hits("live_one") == [] and server.hits("news_5") == []
    for n, cid in enumerate(ids[:5]):
        assert (await rig.channel(cid)).cursor == 3 + n


async def test_poll_all_never_raises_when_the_host_is_down(
        store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer,
        http: httpx.AsyncClient) -> None:
    down = await PreviewServer.start()
    await down.close()  # nothing listens on that port any more
    rig = await make_rig(store, db, clock, lemmatizer, down, http)
    cid = await rig.watch(FakeChannel("rybar", "Рыбарь"))
    assert await rig.poller.poll_all() == 0
    assert (await rig.channel(cid)).cursor == 0
    assert (await rig.channel(cid)).status == "active"
    with pytest.raises(PreviewError, match="slow down"):  # backing off after the failure
        await rig.poller.probe("rybar")


async def test_probe_returns_the_newest_page(rig: Rig) -> None:
    fake = rig.server.channel("Rybar", "Рыбарь")
    fake.add_many(25)
    page = await rig.poller.probe("@Rybar")
    assert page.title == "Рыбарь"
    assert [p.message_id for p in page.posts] == list(range(6, 26))
    assert page.oldest_id == 6 and page.full
    assert page.posts[0].channel_id == preview_channel_id("rybar")
    with pytest.raises(PreviewError, match="not a public channel username"):
        await rig.poller.probe("../etc/passwd")
    rig.server.fail("Rybar", 500)
    with pytest.raises(PreviewError, match="HTTP 500"):
        await rig.poller.probe("Rybar")


async def test_the_channel_title_follows_the_page(rig: Rig) -> None:
    fake = rig.server.channel("rybar", "Рыбарь")
    fake.add_many(2)
    cid = await rig.watch(fake)
    fake.title = "Рыбарь 2.0"
    await rig.poll(cid)
    assert (await rig.channel(cid)).title == "Рыбарь 2.0"


# ---------------------------------------------------------------------------- backfill
DRONE = "Сбит дрон над Белгородом"


@pytest.fixture
async def rig60(store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer,
                server: PreviewServer, http: httpx.AsyncClient) -> Rig:
    return await make_rig(store, db, clock, lemmatizer, server, http, backfill_posts=60)


def drone_channel(server: PreviewServer, name: str = "rybar", count: int = 100) -> FakeChannel:
    """``count`` posts; every tenth (10, 20, …) matches the rig's rule ``дрон``."""
    fake = server.channel(name, "Рыбарь")
    for _ in range(count):
        if (len(fake.posts) + 1) % 10 == 0:
            fake.add(DRONE)
        else:
            fake.add_many(1)
    return fake


async def test_backfill_pages_back_to_backfill_posts_without_alerts(rig60: Rig) -> None:
    rig = rig60
    drone_channel(rig.server)
    cid = await rig.watch(rig.server.channels["rybar"])
    assert await rig.poller.poll_all() == 60
    stored = await rig.stored(cid)
    assert sorted(m for m, _ in stored) == list(range(41, 101))  # the newest 60, each once
    assert [m for m, _ in stored[:20]] == list(range(81, 101))  # each page oldest first
    assert {s for _, s in stored} == {"backfill"}
    assert rig.server.hits("rybar") == [{}, {"before": 81}, {"before": 61}]
    assert await rig.alerts() == []  # history: no alerts…
    assert await rig.matched(cid) == [50, 60, 70, 80, 90, 100]  # …but the matches are kept
    assert (await rig.channel(cid)).cursor == 100
    assert await rig.notices(CHAT) == [
        "📚 Backfill of <b>Рыбарь</b> done: 60 earlier posts stored (no alerts for them; they"
        " count in search and digests)."]
    # the next poll goes on from the newest post, and new posts alert
    rig.server.channels["rybar"].add("Дрон над Курском")
    assert await rig.poller.poll_all() == 1
    assert rig.server.hits("rybar")[3:] == [{"after": 100}]
    assert await rig.alerts() == ["Дрон над Курском"]
    assert await rig.notices(ADMIN) == []


async def test_backfill_since_a_date_takes_every_post_since_local_midnight(
        store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer, server: PreviewServer,
        http: httpx.AsyncClient) -> None:
    rig = await make_rig(store, db, clock, lemmatizer, server, http, backfill_posts=20,
                         tz=ZoneInfo("Europe/Kyiv"))
    fake = server.channel("rybar", "Рыбарь")
    start = dt.datetime(2026, 11, 20, 0, 0, tzinfo=dt.UTC)
    for k in range(120):  # one post every 30 minutes
        fake.add(DRONE if k % 10 == 0 else f"Сводка {k}",
                 date=start + dt.timedelta(minutes=30 * k))
    # 2026-11-21 in Kyiv (UTC+2) starts at 2026-11-20 22:00 UTC: message 45 (k = 44)
    cid = await rig.watch(fake, since=dt.date(2026, 11, 21))
    assert await rig.poller.poll_all() == 76  # not limited by backfill_posts (20)
    assert sorted(m for m, _ in await rig.stored(cid)) == list(range(45, 121))
    assert server.hits("rybar") == [{}, {"before": 101}, {"before": 81}, {"before": 61}]
    assert await rig.alerts() == []
    assert await rig.matched(cid) == [51, 61, 71, 81, 91, 101, 111]
    assert await rig.notices(CHAT) == [
        "📚 Backfill of <b>Рыбарь</b> done: 76 earlier posts stored (no alerts for them; they"
        " count in search and digests)."]


async def test_a_long_backfill_reports_progress_every_500_posts(
        store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer, server: PreviewServer,
        http: httpx.AsyncClient) -> None:
    rig = await make_rig(store, db, clock, lemmatizer, server, http, backfill_posts=1010)
    fake = server.channel("rybar", "Рыбарь")
    fake.add_many(1200)
    cid = await rig.watch(fake)
    assert await rig.poller.poll_all() == 1010
    assert sorted(m for m, _ in await rig.stored(cid)) == list(range(191, 1201))
    assert len(server.hits("rybar")) == 51  # 50 full pages and ten posts of the last
    assert await rig.notices(CHAT) == [
        "📚 Backfill of <b>Рыбарь</b>: 500/1010", "📚 Backfill of <b>Рыбарь</b>: 1000/1010",
        "📚 Backfill of <b>Рыбарь</b> done: 1010 earlier posts stored (no alerts for them;"
        " they count in search and digests)."]


async def test_a_page_repeating_ids_at_the_start_of_a_channel_ends_the_paging(
        rig: Rig) -> None:
    fake = rig.server.add_channel(FakeChannel("rybar", "Рыбарь", repeats_start=True))
    fake.add_many(45)
    cid = await rig.watch(fake)
    assert await rig.poller.poll_all() == 45
    # ?before=6 is answered with messages 1–20: 1–5 are new, the rest repeat, paging ends
    assert rig.server.hits("rybar") == [{}, {"before": 26}, {"before": 6}]
    assert sorted(m for m, _ in await rig.stored(cid)) == list(range(1, 46))
    assert len(await rig.stored(cid)) == 45  # nothing twice
    assert "done: 45 earlier posts stored" in (await rig.notices(CHAT))[0]


async def test_a_page_with_no_older_ids_ends_the_paging(rig: Rig) -> None:
    fake = rig.server.add_channel(FakeChannel("rybar", "Рыбарь", ignore_before=True))
    fake.add_many(45)
    cid = await rig.watch(fake)
    assert await rig.poller.poll_all() == 20  # ?before= gives the newest page again
    assert rig.server.hits("rybar") == [{}, {"before": 26}]
    assert sorted(m for m, _ in await rig.stored(cid)) == list(range(26, 46))
    assert "done: 20 earlier posts stored" in (await rig.notices(CHAT))[0]


async def test_a_channel_watched_again_is_backfilled_down_to_what_is_stored(rig: Rig) -> None:
    fake = rig.server.channel("rybar", "Рыбарь")
    fake.add_many(30)
    cid = await rig.watch(fake)
    assert await rig.poller.poll_all() == 30
    await rig.store.channels.set_status(cid, "unwatched")
    fake.add_many(30)
    fake.add(DRONE)  # posted while it was not watched: history, no alert
    await rig.watch(fake)  # as /watch does: the next poll is its backfill
    assert (await rig.channel(cid)).cursor == 30
    assert await rig.poller.poll_all() == 31
    assert rig.server.hits("rybar")[2:] == [{}, {"before": 42}]  # no further than post 30
    assert [m for m, s in await rig.stored(cid) if m > 30] == list(range(42, 62)) + list(
        range(31, 42))
    assert await rig.alerts() == [] and (await rig.channel(cid)).cursor == 61


async def test_backfill_failing_midway_keeps_what_was_stored_and_polling_goes_on(
        rig60: Rig) -> None:
    rig = rig60
    fake = drone_channel(rig.server)
    cid = await rig.watch(fake)
    rig.server.fail("rybar", 500, when="before")  # page 2 of the backfill
    assert await rig.poller.poll_all() == 20
    assert sorted(m for m, _ in await rig.stored(cid)) == list(range(81, 101))
    assert await rig.notices(CHAT) == [
        "⚠️ Backfill of <b>Рыбарь</b> failed (HTTP 500) after 20 earlier posts; new posts are"
        " still watched."]
    channel = await rig.channel(cid)
    assert (channel.status, channel.cursor) == ("active", 100)
    rig.clock.advance(seconds=60)  # the channel's back-off after its 500
    fake.add("Дрон над Курском")
    assert await rig.poller.poll_all() == 1
    assert rig.server.hits("rybar")[2:] == [{"after": 100}]  # the backfill is not restarted
    assert await rig.alerts() == ["Дрон над Курском"]
    assert len(await rig.all_notices()) == 1


async def test_backfill_failing_on_the_newest_page_starts_again_at_the_next_poll(
        rig60: Rig) -> None:
    rig = rig60
    fake = drone_channel(rig.server)
    cid = await rig.watch(fake, since=None)
    rig.server.fail("rybar", 503, when="newest", times=2)
    assert await rig.poller.poll_all() == 0
    assert (await rig.channel(cid)).cursor == 0
    failed = ("⚠️ Backfill of <b>Рыбарь</b> failed (HTTP 503); it starts again at the next"
              " poll.")
    assert await rig.notices(CHAT) == [failed]
    assert await rig.poller.poll_all() == 0  # backing off: nothing asked
    rig.clock.advance(seconds=60)
    assert await rig.poller.poll_all() == 0  # the second 503: told once only
    assert await rig.notices(CHAT) == [failed]
    rig.clock.advance(seconds=120)
    assert await rig.poller.poll_all() == 60
    assert (await rig.notices(CHAT))[1].startswith("📚 Backfill of <b>Рыбарь</b> done: 60")
    assert await rig.alerts() == []


async def test_a_429_during_backfill_is_waited_out(rig60: Rig) -> None:
    rig = rig60
    cid = await rig.watch(drone_channel(rig.server))
    rig.server.fail("rybar", 429, retry_after="30", when="before")
    assert await rig.poller.poll_all() == 60
    assert rig.clock.slept == [60.0]  # the base back-off outweighs Retry-After
    assert rig.server.hits("rybar") == [{}, {"before": 81}, {"before": 81}, {"before": 61}]
    assert "done: 60 earlier posts" in (await rig.notices(CHAT))[0]
    assert len(await rig.stored(cid)) == 60


async def test_backfill_posts_zero_stores_nothing_but_starts_after_the_newest(
        store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer, server: PreviewServer,
        http: httpx.AsyncClient) -> None:
    rig = await make_rig(store, db, clock, lemmatizer, server, http, backfill_posts=0)
    cid = await rig.watch(drone_channel(server, count=30))
    assert await rig.poller.poll_all() == 0
    assert await rig.stored(cid) == [] and (await rig.channel(cid)).cursor == 30
    assert await rig.all_notices() == []


async def test_with_a_task_owner_a_backfill_runs_beside_the_other_polls(
        store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer, server: PreviewServer,
        http: httpx.AsyncClient) -> None:
    tasks: list[asyncio.Task[Any]] = []

    def spawn(name: str, coro: Coroutine[Any, Any, Any]) -> None:
        tasks.append(asyncio.create_task(coro, name=name))

    rig = await make_rig(store, db, clock, lemmatizer, server, http, spawn=spawn)
    old = server.channel("old_news", "Старые новости")
    old.add_many(3)
    old_id = await rig.watch(old)
    await rig.poller.poll(await rig.channel(old_id))
    cid = await rig.watch(drone_channel(server, count=200))
    old.add(DRONE)
    server.delay = 0.02
    assert await rig.poller.poll_all() == 1  # the other channel's new post, at once
    assert [t.get_name() for t in tasks] == [f"preview-backfill:{cid}"]
    assert await rig.poller.poll_all() == 0  # a backfill running is not started twice
    assert len(tasks) == 1
    await asyncio.gather(*tasks)
    assert len(await rig.stored(cid)) == 200
    assert (await rig.notices(CHAT))[-1].startswith("📚 Backfill of <b>Рыбарь</b> done: 200")
    assert await rig.alerts() == [DRONE]


# ---------------------------------------------------------------------------- isolation
FAILURES = ("gone", "redirect", "garbage", "http500", "http403", "exception")
STEPS = ("newest", "before", "after", "walkback")  # backfill: newest, before; polls: the rest


async def inject(rig: Rig, db: Database, kind: str, step: str, cid: int) -> None:
    """Make the bad channel fail at ``step`` (persistently for polls, once for backfills)."""
    times = 1 if step in ("newest", "before") else 10
    when = {"walkback": "before"}.get(step, step)
    if kind == "gone":
        rig.server.fail("bad_chan", 404, when=when, times=times)
    elif kind == "redirect":
        rig.server.redirect("bad_chan", when=when, times=times)
    elif kind == "garbage":
        rig.server.garbage("bad_chan", when=when, times=times)
    elif kind.startswith("http"):
        rig.server.fail("bad_chan", int(kind[4:]), when=when, times=times)
    else:  # storing its posts fails (a real SQLite error, raised by a trigger)
        ids = {"newest": "NEW.message_id > 0", "before": "NEW.message_id < 31"}.get(
            step, "NEW.message_id > 50")
        await db.transaction(lambda c: c.execute(
            f"CREATE TRIGGER injected BEFORE INSERT ON posts WHEN NEW.channel_id = {cid}"
            f" AND {ids} BEGIN SELECT RAISE(ABORT, 'injected failure'); END"))


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("kind", FAILURES)
async def test_one_bad_channel_never_stops_the_others(
        store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer, server: PreviewServer,
        http: httpx.AsyncClient, kind: str, step: str) -> None:
    rig = await make_rig(store, db, clock, lemmatizer, server, http, backfill_posts=40)
    fakes = {n: drone_channel(server, n, 50) for n in ("bad_chan", "good_one", "good_two")}
    # the bad channel was watched by the admin (its backfill is told there), the others not
    ids = {n: await rig.watch(f, by=ADMIN if n == "bad_chan" else CHAT)
           for n, f in fakes.items()}
    goods = [ids["good_one"], ids["good_two"]]
    backfill = step in ("newest", "before")
    if not backfill:
        assert await rig.poller.poll_all() == 120
    earlier = len(await rig.notices(ADMIN))  # the bad channel's own backfill, if it ran
    await inject(rig, db, kind, step, ids["bad_chan"])
    runs = 1 if backfill else 4
    for run in range(runs):
        for name in ("good_one", "good_two", "bad_chan"):
            fakes[name].add(f"Дрон, запуск {run}", gap=2 if step == "walkback" else 0)
        rig.clock.advance(seconds=600)  # past any back-off of the bad channel
        await rig.poller.poll_all()
        for cid in goods:  # every other channel was read in the same run
            newest = max(m for m, _ in await rig.stored(cid))
            assert newest == fakes["good_one"].posts[-1].id, (run, cid)
        notices = (await rig.notices(ADMIN))[earlier:]
        if not backfill and kind not in ("gone", "redirect"):
            assert len(notices) == (1 if run >= 2 else 0), (run, notices)  # the third time
    notices = (await rig.notices(ADMIN))[earlier:]
    assert len(notices) == 1, notices  # and only once
    bad = await rig.channel(ids["bad_chan"])
    if kind in ("gone", "redirect"):
        assert bad.status == "error" and "no longer polled" in notices[0]
        assert "web preview" in (bad.last_error or "")
    else:
        assert bad.status == "active"
        assert ("Backfill of" in notices[0]) if backfill else ("3 polls in a row" in notices[0])
        if step == "newest":  # nothing was stored: the next poll starts it again
            assert notices[0].endswith("; it starts again at the next poll.")
            assert bad.cursor == 0
        elif step == "before":
            assert notices[0].endswith(" after 20 earlier posts; new posts are still watched.")
    alerts = await rig.alerts()
    assert all(a.startswith("Дрон, запуск") for a in alerts)
    assert len([a for a in alerts if a == "Дрон, запуск 0"]) >= (0 if backfill else 2)


async def test_a_channel_answering_5xx_backs_off_alone(rig: Rig) -> None:
    bad = rig.server.channel("bad_chan", "Плохой")
    good = rig.server.channel("good_one", "Хороший")
    for fake in (bad, good):
        fake.add_many(3)
        await rig.watch(fake)
    await rig.poller.poll_all()
    rig.server.fail("bad_chan", 500, times=10)
    for _ in range(3):
        good.add(DRONE)
        bad.add_many(1)
        rig.clock.advance(seconds=15)  # all three within the bad channel's back-off
        await rig.poller.poll_all()
    assert len(rig.server.hits("bad_chan")) == 2  # asked once, then it backs off…
    assert rig.server.hits("good_one")[1:] == [{"after": 3}, {"after": 4}, {"after": 5}]
    assert await rig.alerts() == [DRONE] * 3  # …and the other channel is read every time


async def test_many_channels_answering_5xx_back_the_host_off(
        store: Store, db: Database, clock: FakeClock, lemmatizer: Lemmatizer, server: PreviewServer,
        http: httpx.AsyncClient) -> None:
    rig = await make_rig(store, db, clock, lemmatizer, server, http, max_in_flight=1)
    names = [f"news_{n}" for n in range(5)]
    for name in names:
        fake = server.channel(name, name)
        fake.add_many(2)
        await rig.watch(fake)
    await rig.poller.poll_all()
    for name in names:
        server.fail(name, 502)
    await rig.poller.poll_all()
    # three channels in a row failed: the host itself is failing, the rest wait for it
    assert sorted(len(server.hits(n)) for n in names) == [1, 1, 2, 2, 2]
    assert await rig.notices(ADMIN) == []  # a failing host is no channel's fault
