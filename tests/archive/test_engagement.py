"""Engagement snapshots: what a re-read records, what it skips, growth, the ranking by SQL."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from telethon.tl import types as tl

from bot.models import Post
from bot.store import Store
from bot.store.engagement import Snapshot
from bot.store.records import SearchWindow
from bot.telegram.convert import message_to_post
from tests.support.fakes import FakeClock

T0 = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)  # the clock fixture's start


def post(message_id: int = 1, views: int | None = 10, forwards: int | None = 1,
         reactions: int | None = None, text: str = "Сбит беспилотник над Белгородом") -> Post:
    return Post(channel_id=777, message_id=message_id, date=T0 - dt.timedelta(hours=1),
                text=text, permalink=f"https://t.me/kanal/{message_id}", views=views,
                forwards=forwards, reactions=reactions, channel_username="kanal")


async def stored(store: Store, *posts: Post) -> list[int]:
    await store.channels.add(777, "kanal", "Канал", 5, added_by=1)
    return [(await store.posts.save(p, [], [])).post_id for p in posts]


async def row(store: Store, post_id: int) -> tuple[object, ...]:
    [archived] = await store.archive.posts([post_id])
    return archived.post.views, archived.post.forwards, archived.reactions


def test_reactions_are_the_sum_of_every_count() -> None:
    reactions = tl.MessageReactions(results=[
        tl.ReactionCount(reaction=tl.ReactionEmoji(emoticon="👍"), count=3),
        tl.ReactionCount(reaction=tl.ReactionCustomEmoji(document_id=5), count=4),
        tl.ReactionCount(reaction=tl.ReactionPaid(), count=2)])
    message = tl.Message(id=9, peer_id=tl.PeerChannel(777), date=T0, message="x", views=40,
                         forwards=2, reactions=reactions)
    converted = message_to_post(message, "kanal")
    assert (converted.views, converted.forwards, converted.reactions) == (40, 2, 9)
    message.reactions = None
    assert message_to_post(message, "kanal").reactions is None
    message.reactions = tl.MessageReactions(results=[])
    assert message_to_post(message, "kanal").reactions == 0


async def test_the_first_reread_keeps_what_the_post_showed_when_stored(
        store: Store, clock: FakeClock) -> None:
    [pid] = await stored(store, post(reactions=2))
    clock.advance(minutes=30)
    assert await store.engagement.record([post(views=10, forwards=1, reactions=2)]) == 1
    assert await store.engagement.history(pid) == [Snapshot(T0, 10, 1, 2)]  # nothing new
    clock.advance(minutes=30)
    assert await store.engagement.record([post(views=10, forwards=1, reactions=2)]) == 0
    clock.advance(minutes=30)
    assert await store.engagement.record([post(views=55, forwards=3, reactions=7)]) == 1
    assert await store.engagement.history(pid) == [
        Snapshot(T0, 10, 1, 2), Snapshot(clock.now(), 55, 3, 7)]
    assert await row(store, pid) == (55, 3, 7)


async def test_a_changed_first_reread_writes_both_and_the_row_follows(
        store: Store, clock: FakeClock) -> None:
    [pid] = await stored(store, post())
    clock.advance(hours=1)
    assert await store.engagement.record([post(views=99, forwards=1, reactions=4)]) == 2
    assert await store.engagement.history(pid) == [
        Snapshot(T0, 10, 1, None), Snapshot(clock.now(), 99, 1, 4)]
    assert await row(store, pid) == (99, 1, 4)


async def test_at_most_one_snapshot_per_post_and_moment(store: Store, clock: FakeClock) -> None:
    [pid] = await stored(store, post())
    clock.advance(minutes=30)
    # the same post twice in one re-read, and again within the same second
    assert await store.engagement.record([post(views=20), post(views=30)]) == 2
    await store.engagement.record([post(views=31)])
    history = await store.engagement.history(pid)
    assert [(s.at, s.views) for s in history] == [(T0, 10), (clock.now(), 31)]


async def test_numbers_a_reading_does_not_show_stay_as_they_were(
        store: Store, clock: FakeClock) -> None:
    [pid] = await stored(store, post(reactions=5))
    clock.advance(minutes=30)
    await store.engagement.record([post(views=12, forwards=None, reactions=None)])
    assert (await store.engagement.history(pid))[-1] == Snapshot(clock.now(), 12, 1, 5)
    assert await row(store, pid) == (12, 1, 5)


async def test_posts_stored_without_numbers_start_at_their_first_reading(
        store: Store, clock: FakeClock) -> None:
    [pid] = await stored(store, post(views=None, forwards=None))
    clock.advance(minutes=30)
    assert await store.engagement.record([post(views=7, forwards=None)]) == 1
    assert await store.engagement.history(pid) == [Snapshot(clock.now(), 7, None, None)]


async def test_unknown_posts_and_readings_without_numbers_write_nothing(
        store: Store, clock: FakeClock) -> None:
    [pid] = await stored(store, post())
    clock.advance(minutes=30)
    assert await store.engagement.record([]) == 0
    assert await store.engagement.record([post(views=None, forwards=None)]) == 0
    assert await store.engagement.record([post(message_id=404, views=5)]) == 0
    assert await store.engagement.history(pid) == []
    assert await row(store, pid) == (10, 1, None)


async def test_growth_is_the_latest_minus_the_earliest_snapshot_inside_the_period(
        store: Store, clock: FakeClock) -> None:
    pid, quiet = await stored(store, post(), post(message_id=2, views=None, forwards=None))
    for views, forwards in ((40, 2), (100, 2), (160, 5)):
        clock.advance(hours=1)
        await store.engagement.record([post(views=views, forwards=forwards)])
    end = clock.now()
    since_first_seen = await store.engagement.growth([pid, quiet], T0 - dt.timedelta(days=1),
                                                     end)
    assert set(since_first_seen) == {pid}  # never read with numbers: no growth to tell
    g = since_first_seen[pid]
    assert (g.views, g.forwards, g.reactions, g.since, g.until) == (150, 4, None, T0, end)
    late = await store.engagement.growth([pid], T0 + dt.timedelta(minutes=90), end)
    assert (late[pid].views, late[pid].forwards) == (60, 3)  # from 100 at T0+2h
    middle = await store.engagement.growth([pid], T0 + dt.timedelta(minutes=30),
                                           T0 + dt.timedelta(minutes=150))
    assert (middle[pid].views, middle[pid].forwards) == (60, 0)  # 40 → 100
    last_only = await store.engagement.growth([pid], end, end)
    assert (last_only[pid].views, last_only[pid].since) == (0, end)
    assert await store.engagement.growth([], T0, end) == {}


async def test_top_ranks_by_the_latest_numbers_and_goes_on_below_a_cursor(
        store: Store, clock: FakeClock) -> None:
    posts = [post(i, views=v, forwards=f, text=t) for i, v, f, t in (
        (1, 50, 0, "дрон над Курском"), (2, 500, 3, "погода"), (3, 50, 9, "дрон снова"),
        (4, None, None, "дрон без просмотров"))]
    ids = await stored(store, *posts)
    late = replace(post(5, views=900, text="дрон вчера"), date=T0 - dt.timedelta(days=2))
    await store.posts.save(late, [], [])
    window = SearchWindow(T0 - dt.timedelta(days=1), T0)
    assert await store.engagement.top("views", None, window) == [
        (500, ids[1]), (50, ids[2]), (50, ids[0])]  # ties: newer id first
    assert await store.engagement.top("forwards", None, window) == [(9, ids[2]), (3, ids[1])]
    assert await store.engagement.top("views", None, window, after=(50, ids[2])) == [
        (50, ids[0])]
    assert await store.engagement.top("views", None, window, limit=1) == [(500, ids[1])]
    clock.advance(minutes=30)
    await store.engagement.record([post(1, views=700)])
    assert (await store.engagement.top("views", None, window))[0] == (700, ids[0])
