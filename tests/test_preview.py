"""Channels read through their web preview: the t.me/s parser on hand-built pages, and the
poller against a real HTTP server on 127.0.0.1 with the real store, rules and ingest."""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
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
from bot.store import Store
from tests.conftest import FakeClock
from tests.preview_server import FakeChannel, PreviewServer

DATA = Path(__file__).parent / "data" / "preview"
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

    async def watch(self, fake: FakeChannel) -> int:
        cid = preview_channel_id(fake.name)
        await self.store.add_channel(cid, fake.name, fake.title, None, None)
        await self.store.db.transaction(
            lambda c: c.execute("UPDATE channels SET source = 'preview' WHERE id = ?", (cid,)))
        return cid

    async def channel(self, cid: int) -> Channel:
        channel = await self.store.channel(cid)
        assert channel is not None
        return channel

    async def poll(self, cid: int) -> int:
        return await self.poller.poll(await self.channel(cid))

    async def stored(self, cid: int) -> list[tuple[int, str]]:
        rows = await self.store.db.fetchall(
            "SELECT message_id, source FROM posts WHERE channel_id = ? ORDER BY id", (cid,))
        return [(r["message_id"], r["source"]) for r in rows]

    async def alerts(self) -> list[str]:
        rows = await self.store.db.fetchall(
            "SELECT p.text FROM outbox o JOIN posts p ON p.id = o.post_id"
            " WHERE o.kind = 'alert' ORDER BY o.id")
        return [r["text"] for r in rows]

    async def notices(self) -> list[str]:
        rows = await self.store.db.fetchall(
            "SELECT payload FROM outbox WHERE kind = 'notice' AND chat_id = ?", (ADMIN,))
        return [r["payload"] for r in rows]


@pytest.fixture
async def server() -> AsyncIterator[PreviewServer]:
    srv = await PreviewServer.start()
    yield srv
    await srv.close()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=10) as client:
        yield client


async def make_rig(store: Store, clock: FakeClock, lemmatizer: Lemmatizer,
                   server: PreviewServer, http: httpx.AsyncClient, **options: int) -> Rig:
    for chat in (CHAT, ADMIN):
        await store.upsert_chat(chat, ChatKind.PRIVATE, None)
    rules = RulesService(store, lemmatizer)
    await rules.rebuild()
    await rules.add(CHAT, "дрон", CHAT)
    notifier = AdminNotifier(store, frozenset({ADMIN}))
    ingest = IngestService(store, rules, UTC, clock, notifier)
    poller = PreviewPoller(http, server.url, store, ingest, notifier, clock, **options)
    return Rig(store, clock, server, poller, rules)


@pytest.fixture
async def rig(store: Store, clock: FakeClock, lemmatizer: Lemmatizer, server: PreviewServer,
              http: httpx.AsyncClient) -> Rig:
    return await make_rig(store, clock, lemmatizer, server, http)


async def test_first_poll_backfills_the_newest_page_then_new_posts_alert(rig: Rig) -> None:
    fake = rig.server.channel("rybar", "Рыбарь")
    fake.add_many(30)
    fake.add("Над Белгородом сбит дрон")  # matches, but is history: no alert
    fake.add_many(3)
    cid = await rig.watch(fake)

    assert await rig.poll(cid) == 20
    assert await rig.stored(cid) == [(i, "backfill") for i in range(15, 35)]
    assert (await rig.channel(cid)).cursor == 34
    assert await rig.alerts() == []
    assert rig.server.hits("rybar") == [{}]  # the newest page, no paging

    fake.add_many(1)
    fake.add("Дрон упал у Курска")
    fake.add("Сводка без совпадений")
    assert await rig.poll(cid) == 3
    assert await rig.stored(cid) == ([(i, "backfill") for i in range(15, 35)]
                                     + [(35, "preview"), (36, "preview"), (37, "preview")])
    assert await rig.alerts() == ["Дрон упал у Курска"]
    assert (await rig.channel(cid)).cursor == 37
    assert rig.server.hits("rybar")[1:] == [{"after": 34}]

    assert await rig.poll(cid) == 0  # nothing new: one request, nothing stored twice
    assert rig.server.hits("rybar")[2:] == [{"after": 37}]
    assert len(await rig.stored(cid)) == 23 and len(await rig.alerts()) == 1


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


async def test_forwarded_edited_and_media_only_posts_are_stored_right(rig: Rig) -> None:
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
    rows = await rig.store.db.fetchall(
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
        store: Store, clock: FakeClock, lemmatizer: Lemmatizer, server: PreviewServer,
        http: httpx.AsyncClient) -> None:
    rig = await make_rig(store, clock, lemmatizer, server, http, base_backoff=1000)
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
        store: Store, clock: FakeClock, lemmatizer: Lemmatizer, server: PreviewServer,
        http: httpx.AsyncClient) -> None:
    rig = await make_rig(store, clock, lemmatizer, server, http, max_in_flight=2)
    ids = []
    for n in range(6):
        fake = server.channel(f"news_{n}", f"Новости {n}")
        fake.add_many(3 + n)
        ids.append(await rig.watch(fake))
    await store.add_channel(777, "live_one", "Живой канал", 1, None)  # read by the account
    server.channel("live_one", "Живой канал").add_many(2)
    await store.set_channel_status(ids[5], "unwatched")
    server.delay = 0.05
    assert await rig.poller.poll_all() == sum(3 + n for n in range(5))
    assert server.max_in_flight == 2
    assert server.hits("live_one") == [] and server.hits("news_5") == []
    for n, cid in enumerate(ids[:5]):
        assert (await rig.channel(cid)).cursor == 3 + n


async def test_poll_all_never_raises_when_the_host_is_down(
        store: Store, clock: FakeClock, lemmatizer: Lemmatizer,
        http: httpx.AsyncClient) -> None:
    down = await PreviewServer.start()
    await down.close()  # nothing listens on that port any more
    rig = await make_rig(store, clock, lemmatizer, down, http)
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
