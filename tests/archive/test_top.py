"""/top: the ranking agrees with the matcher over real posts, and the whole path end to end.

End to end: posts published in the loopback fake Telegram, their views, forwards and
reactions changed there, the deletion check re-reading them through the user account
(channels.getMessages), snapshots in post_stats, and /top asked through the bot.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from bot.app import App
from bot.archive.top import TopPosts
from bot.commands.top import PeriodError, split_period
from bot.config import settings_from_mapping
from bot.match import CompiledRule, RuleIndex, parse_rule
from bot.regions.places import PlaceMatcher
from bot.render import format_time
from tests.archive.conftest import Filled
from tests.support.fakes import FakeClock
from tests.support.harness import Env, ask, settings_env, wait_until

KYIV = ZoneInfo("Europe/Kyiv")


# ------------------------------------------------------------------ arguments
@pytest.mark.parametrize(("args", "expected"), [
    ("", ("24h", "")), ("7d", ("7d", "")), ("24H", ("24h", "")),
    ("7d Белгород дрон", ("7d", "Белгород дрон")), ('Белгород "сбит дрон" 7d',
                                                    ("7d", 'Белгород "сбит дрон"')),
    ("Белгород", ("24h", "Белгород")), ("channel:@mash 24h", ("24h", "channel:@mash")),
])
def test_the_period_comes_first_or_last_and_defaults_to_24h(
        args: str, expected: tuple[str, str]) -> None:
    assert split_period(args) == expected


@pytest.mark.parametrize("args", ["30d", "48h Белгород", "Белгород 2w"])
def test_other_periods_are_refused(args: str) -> None:
    with pytest.raises(PeriodError, match="24h or the last 7d"):
        split_period(args)


# ------------------------------------------------------------------ the ranking
async def numbered(filled: Filled) -> dict[tuple[int, int], tuple[int, int]]:
    """Give every sample post distinct views and forwards, as a re-read would record them."""
    numbers = {(p.channel_id, p.message_id): ((i * 37) % 339 + 1, (i * 53) % 339)
               for i, p in enumerate(filled.posts)}
    await filled.store.engagement.record([
        replace(p, views=numbers[(p.channel_id, p.message_id)][0],
                forwards=numbers[(p.channel_id, p.message_id)][1]) for p in filled.posts])
    return numbers


@pytest.mark.parametrize("query", [None, "Украина", '"Курской области"', "NEAR/4(удар ракета)",
                                   "channel:@rian_ru ВСУ", "region:belgorod"])
async def test_top_lists_the_matching_posts_with_the_most(filled: Filled,
                                                          query: str | None) -> None:
    numbers = await numbered(filled)
    dates = sorted(p.date for p in filled.posts)
    since, until = dates[len(dates) // 4], dates[-1]
    index = (RuleIndex.build(filled.search._lemmatizer, [CompiledRule(0, 0, parse_rule(query))],
                             filled.search._places) if query else None)
    inside = [p for p in filled.posts if since <= p.date < until
              and (index is None or index.match(p.text, p.channel_username))]
    search = filled.search.compile(query, since, until) if query else None
    lists = await TopPosts(filled.store).top(since, until, search, size=5)
    for position, entries in ((0, lists.views), (1, lists.forwards)):
        ranked = sorted((p for p in inside if numbers[(p.channel_id, p.message_id)][position]),
                        key=lambda p: -numbers[(p.channel_id, p.message_id)][position])
        assert [(e.post.post.channel_id, e.post.post.message_id) for e in entries] == [
            (p.channel_id, p.message_id) for p in ranked[:5]]
    assert len(lists.views) == min(5, len(inside))
    assert len(inside) >= 3, "too few posts for the comparison to mean something"
    if query:
        assert all(e.spans for e in lists.views)  # what to bold in the snippet


# ------------------------------------------------------------------ end to end
async def restart_on(env: Env, clock: FakeClock) -> App:
    """The same chanwatch on the same data, on a clock the test moves."""
    await env.stop_app()
    env.app = App(settings_from_mapping(settings_env(env.data_dir) | env.settings), clock=clock,
                  lemmatizer=env.lemmatizer, places=PlaceMatcher.shared(env.lemmatizer))
    await env.app.start()
    env.app.user.history_pause = 0
    return env.app


async def test_top_end_to_end(env: Env) -> None:
    clock = FakeClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
    app = await restart_on(env, clock)
    await ask(env, env.admin, "/watch @news_test")
    assert "No post of the last 24h shows views or forwards yet" in await ask(
        env, env.admin, "/top")
    world, news = env.world, env.news
    drone = world.post(news, "Белгород: сбит беспилотник над городом", views=100, forwards=2)
    world.post(news, "Погода в Киеве: дождь", views=300, forwards=0)
    world.post(news, "Белгород: ещё одна новость", views=50, forwards=5)
    await wait_until(lambda: _count(env, "SELECT COUNT(*) FROM posts WHERE views IS NOT NULL",
                                    3))

    clock.advance(minutes=30)
    await app.run_deletion_check()  # first re-read: what each post showed when it arrived
    assert await _snapshots(env) == 3
    clock.advance(minutes=30)
    await app.run_deletion_check()  # nothing changed: nothing written
    assert await _snapshots(env) == 3

    world.set_engagement(news, drone.id, views=1500, forwards=12, reactions={"👍": 30, "🔥": 4})
    clock.advance(minutes=30)
    await app.run_deletion_check()
    assert await _snapshots(env) == 4
    row = await app.database.fetchone(
        "SELECT views, forwards, reactions FROM posts WHERE channel_id = ? AND message_id = ?",
        (news.id, drone.id))
    assert row is not None and tuple(row) == (1500, 12, 34)
    world.set_engagement(news, drone.id, views=1700)
    clock.advance(minutes=30)
    await app.run_deletion_check()
    assert await _snapshots(env) == 5
    history = await app.database.fetchall(
        "SELECT s.views FROM post_stats s JOIN posts p ON p.id = s.post_id"
        " WHERE p.message_id = ? ORDER BY s.at", (drone.id,))
    assert [r[0] for r in history] == [100, 1500, 1700]

    top = await ask(env, env.admin, "/top")
    viewed, forwarded = top.split("Most forwarded")
    assert _order(viewed, "сбит беспилотник", "Погода в Киеве", "ещё одна новость")
    assert "👁 1,700 (+1,600)" in viewed and "👁 300 (+0)" in viewed
    assert "❤️ 34" in viewed  # stored without reactions: no growth to tell
    assert format_time(drone.date, KYIV) in viewed
    assert f"https://t.me/news_test/{drone.id}" in viewed
    assert _order(forwarded, "сбит беспилотник", "ещё одна новость")
    assert "Погода" not in forwarded  # never forwarded
    assert "🔁 12 (+10)" in forwarded

    matching = await ask(env, env.admin, "/top 7d Белгород")
    assert "matching Белгород" in matching and "Погода" not in matching
    assert _order(matching.split("Most forwarded")[0], "сбит беспилотник", "ещё одна новость")
    assert "No post of the last 24h matching Ташкент" in await ask(env, env.admin,
                                                                   "/top Ташкент")
    assert "Cannot understand the rule" in await ask(env, env.admin, "/top Белгород AND")
    assert "covers the last 24h or the last 7d" in await ask(env, env.admin, "/top 30d")

    clock.advance(hours=24)  # the posts are older than a day now
    assert "No post of the last 24h shows" in await ask(env, env.admin, "/top")
    assert "сбит беспилотник" in await ask(env, env.admin, "/top 7d")
    assert "private" in await ask(env, env.stranger, "/top 7d")


async def _count(env: Env, sql: str, expected: int) -> bool:
    return await env.count(sql) == expected


async def _snapshots(env: Env) -> int:
    return await env.count("SELECT COUNT(*) FROM post_stats")


def _order(text: str, *parts: str) -> bool:
    """Whether every part is in ``text``, in this order."""
    positions = [text.find(p) for p in parts]
    return -1 not in positions and positions == sorted(positions)
