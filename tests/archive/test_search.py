"""Search agrees with the matcher: every query, over real posts, finds exactly what /alert would.

The brute-force answer runs the rule's own matcher over every stored post; the search must
give the same posts, newest first, the same count, and pages that add up to it.
"""

from __future__ import annotations

import datetime as dt

import pytest

from bot.archive import search as search_module
from bot.archive.search import ArchiveSearch, CompiledSearch
from bot.match import CompiledRule, RuleIndex, RuleSyntaxError, parse_rule
from bot.models import Post
from bot.store import Database
from bot.store import archive as archive_store
from tests.archive.conftest import Filled

QUERIES = [
    "Москва", "Украина", "беспилотник*", '"Запорожской области"', "дрон OR беспилотник",
    "Москва NOT Путин", "NEAR/4(удар ракета)", "Часов Яр", "region:belgorod",
    "region:UA-23", "channel:@mash", "channel:@rian_ru ВСУ", "=Москвы", "lang:ru Курск",
    "(Курск OR Белгород) AND -учения", "Ростов-на-Дону", "ВСУ channel:@bbcrussian -Путин",
    "Путин Трамп", "Запорожье OR region:UA-23", "channel:@mash channel:@rian_ru Москва",
]


def brute_force(filled: Filled, query: str, since: dt.datetime | None = None,
                until: dt.datetime | None = None) -> list[int]:
    """Message ids the matcher accepts, newest first (ties by id), within the period."""
    index = RuleIndex.build(filled.search._lemmatizer, [CompiledRule(0, 0, parse_rule(query))],
                            filled.search._places)
    found = [p for p in filled.posts if index.match(p.text, p.channel_username)
             and (since is None or p.date >= since) and (until is None or p.date < until)]
    return [p.message_id for p in sorted(found, key=lambda p: (p.date, p.message_id),
                                         reverse=True)]


async def all_pages(search: ArchiveSearch, compiled: CompiledSearch, size: int) -> list[int]:
    shown: list[int] = []
    after = None
    for _ in range(1000):
        page = await search.page(compiled, after, size=size)
        shown += [h.post.post.message_id for h in page.hits]
        if page.next is None:
            return shown
        after = page.next
    raise AssertionError("paging never ended")


@pytest.mark.parametrize("query", QUERIES)
async def test_search_finds_what_the_matcher_finds(filled: Filled, query: str) -> None:
    expected = brute_force(filled, query)
    compiled = filled.search.compile(query)
    assert await all_pages(filled.search, compiled, size=5) == expected
    count = await filled.search.count(compiled)
    if count.exact:
        assert count.total == len(expected)
    else:  # more inexact candidates than CONFIRM_ALL: estimated from the newest ones
        assert not compiled.fts.exact
        assert abs(count.total - len(expected)) <= max(3, len(expected) // 3)


@pytest.mark.parametrize("query", QUERIES)
async def test_counts_are_exact_when_every_candidate_is_confirmed(
        filled: Filled, query: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_module, "CONFIRM_ALL", 100_000)
    count = await filled.search.count(filled.search.compile(query))
    assert (count.total, count.exact) == (len(brute_force(filled, query)), True)


async def test_common_queries_have_results_so_the_comparison_means_something(
        filled: Filled) -> None:
    sizes = {q: len(brute_force(filled, q)) for q in QUERIES}
    assert sum(1 for n in sizes.values() if n >= 3) >= 10, sizes


async def test_word_forms_are_found_through_the_index(filled: Filled) -> None:
    # «Москвы», «Москве» … are forms of Москва: the FTS query must not need the typed form
    compiled = filled.search.compile("Москва")
    texts = [h.post.post.text async for h in filled.search.stream(compiled)]
    assert any("Москвы" in t or "Москве" in t for t in texts)
    assert compiled.fts.exact and compiled.fts.match is not None


async def test_a_period_limits_the_results(filled: Filled) -> None:
    dates = sorted(p.date for p in filled.posts)
    since, until = dates[len(dates) // 3], dates[2 * len(dates) // 3]
    compiled = filled.search.compile("Украина", since, until)
    expected = brute_force(filled, "Украина", since, until)
    assert expected and await all_pages(filled.search, compiled, size=3) == expected


WINDOWED = [q for q in QUERIES if q.count("channel:") == 1] + ["Украина", "Москва OR Курск"]


@pytest.mark.parametrize("plan", ["window first", "index first"])
@pytest.mark.parametrize("query", WINDOWED)
async def test_both_ways_to_a_window_give_the_same_posts(
        filled: Filled, query: str, plan: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # a small window (channels, dates) is read from the posts' indexes and checked against
    # FTS5's result; a big one is reached from FTS5: the same posts, the same order
    monkeypatch.setattr(archive_store, "WINDOW_FIRST_AT", 10**9 if plan == "window first" else 0)
    monkeypatch.setattr(search_module, "CONFIRM_ALL", 100_000)
    dates = sorted(p.date for p in filled.posts)
    for since, until in ((None, None), (dates[len(dates) // 4], dates[3 * len(dates) // 4])):
        expected = brute_force(filled, query, since, until)
        compiled = filled.search.compile(query, since, until)
        assert await all_pages(filled.search, compiled, size=4) == expected
        assert (await filled.search.count(compiled)).total == len(expected)
    assert brute_force(filled, query), "a query with no results compares nothing"


@pytest.mark.parametrize("plan", ["window first", "index first"])
async def test_a_window_sees_only_the_current_text_of_an_edited_post(
        filled: Filled, plan: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(archive_store, "WINDOW_FIRST_AT", 10**9 if plan == "window first" else 0)
    post = next(p for p in filled.posts if p.channel_username and "Ташкент" not in p.text
                and "Самарканд" not in p.text)
    query = f"Ташкент channel:@{post.channel_username}"
    for n, text in enumerate((post.text + " Ташкент", post.text + " Самарканд"), start=1):
        await filled.ingest.apply_edit(Post(
            post.channel_id, post.message_id, post.date, text, post.permalink,
            edit_date=post.date + dt.timedelta(minutes=n),
            channel_username=post.channel_username))
        found = await all_pages(filled.search, filled.search.compile(query), size=5)
        assert found == ([post.message_id] if n == 1 else [])


async def test_pages_stay_stable_when_posts_arrive_meanwhile(filled: Filled) -> None:
    compiled = filled.search.compile("Украина")
    first = await filled.search.page(compiled, size=5)
    assert first.next is not None
    newest = max(p.date for p in filled.posts)
    await filled.ingest.ingest(Post(1001, 999_999, newest + dt.timedelta(minutes=5),
                                    "Свежая новость: Украина", "https://t.me/rian_ru/999999",
                                    channel_username="rian_ru"))
    second = await filled.search.page(compiled, first.next, size=5)
    expected = brute_force(filled, "Украина")
    assert [h.post.post.message_id for h in first.hits + second.hits] == expected[:10]


async def test_an_edit_is_searched_in_its_new_text_only(filled: Filled) -> None:
    post = next(p for p in filled.posts if "Москв" not in p.text and "Ташкент" not in p.text)
    edited = Post(post.channel_id, post.message_id, post.date, post.text + " Ташкент",
                  post.permalink, edit_date=post.date + dt.timedelta(minutes=1),
                  channel_username=post.channel_username)
    before = filled.search.compile("Ташкент")
    assert (await filled.search.count(before)).total == 0
    assert await filled.ingest.apply_edit(edited)
    assert [h.post.post.message_id for h in (await filled.search.page(before)).hits] == [
        post.message_id]
    hit = (await filled.search.page(before)).hits[0]
    assert hit.post.edits == 1
    # and a word that only the old text had is no longer found in this post
    back = Post(post.channel_id, post.message_id, post.date, "Совсем другой текст",
                post.permalink, edit_date=post.date + dt.timedelta(minutes=2),
                channel_username=post.channel_username)
    assert await filled.ingest.apply_edit(back)
    assert (await filled.search.count(before)).total == 0


async def test_deleted_posts_stay_searchable_and_say_so(filled: Filled) -> None:
    wanted = brute_force(filled, "Украина")[0]
    post = next(p for p in filled.posts if p.message_id == wanted)
    await filled.ingest.apply_deletions(post.channel_id, [post.message_id])
    compiled = filled.search.compile(f"Украина channel:@{post.channel_username}")
    hits = [h async for h in filled.search.stream(compiled)]
    deleted = [h for h in hits if h.post.post.message_id == post.message_id]
    assert len(deleted) == 1 and deleted[0].post.deleted_at is not None


@pytest.mark.parametrize("text", [
    "Москва*)", "NEAR(", "Москва AND", '"незакрытая', "()", "-",
])
async def test_malformed_queries_are_refused_by_the_rule_parser(filled: Filled,
                                                                text: str) -> None:
    with pytest.raises(RuleSyntaxError):
        filled.search.compile(text)


@pytest.mark.parametrize("text", [
    'Москва" OR "Киев', "or", "and", "not", "near", "Москва:", "^Москва", "col:Москва",
    "Москва + Киев", "'Москва'", "{Москва}", "Москва;DROP", "Москва\\", "ÿ*",
])
async def test_fts5_syntax_in_words_never_reaches_fts5(filled: Filled, text: str) -> None:
    # FTS5 keywords and operators typed as words are searched as words: no FTS5 error
    try:
        compiled = filled.search.compile(text)
    except RuleSyntaxError:
        return  # the rule language refused it with a positioned message: fine too
    page = await filled.search.page(compiled)
    assert page.count.total == len(brute_force(filled, text))


async def test_a_region_that_names_no_place_is_a_value_error(filled: Filled) -> None:
    with pytest.raises(ValueError, match=r"Мирное|place|Which|no place"):
        filled.search.compile("region:Мирное")


async def test_fts5_hits_are_looked_up_in_the_narrow_index_not_the_table(
        filled: Filled, db: Database) -> None:
    # migrations/0009: only id, text version, date and channel are read of each hit
    compiled = filled.search.compile("Москва*")
    where, params = archive_store._where(compiled.window, None)
    sql, args = archive_store.matching_posts(
        "p.date, p.id, COUNT(*) OVER ()", compiled.fts.match, where, params, covered=True)
    plan = " | ".join(str(r[3]) for r in await db.fetchall(
        f"EXPLAIN QUERY PLAN {sql} ORDER BY p.date DESC, p.id DESC LIMIT 6", args))
    assert "COVERING INDEX posts_fts_join" in plan, plan
    page = await filled.search.page(compiled, size=5)
    assert [h.post.post.message_id for h in page.hits] == \
        brute_force(filled, "Москва*")[:5] and page.count.total >= len(page.hits) > 0
