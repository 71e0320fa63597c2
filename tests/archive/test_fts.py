"""The FTS5 side of search: terms and queries agree, user text is always quoted."""

from __future__ import annotations

import datetime as dt
import sqlite3
from zoneinfo import ZoneInfo

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.archive.fts import NO_CHANNEL, FtsCompiler, quote
from bot.archive.terms import TermMaker, fts_token, place_term
from bot.archive.window import WindowError, parse_when, split_window
from bot.match import CompiledRule, Lemmatizer, RuleIndex, parse_rule
from bot.regions.places import PlaceMatcher

KYIV = ZoneInfo("Europe/Kyiv")
NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
FTS_TABLE = ("CREATE VIRTUAL TABLE f USING fts5(terms, content='', detail='none',"
             " tokenize=\"unicode61 remove_diacritics 0 tokenchars '''-_'\")")


def compiler(lemmatizer: Lemmatizer, places: PlaceMatcher | None, query: str) -> FtsCompiler:
    index = RuleIndex.build(lemmatizer, [CompiledRule(0, 0, parse_rule(query))], places)
    if places is None:
        return FtsCompiler(lemmatizer, index, None)
    return FtsCompiler(lemmatizer, index, lambda q: _resolve(places, q))


def _resolve(places: PlaceMatcher, query: str) -> str:
    from bot.regions.gazetteer import resolve

    return resolve(places.gazetteer, query).id


@pytest.mark.parametrize(("query", "exact"), [
    ("Белгород", True), ("Белгород OR Курск", True), ("Белгород дрон", True),
    ("Белгород NOT учения", True), ("region:belgorod", True), ("channel:@rybar дрон", True),
    ("дрон*", False), ("=Белгорода", False), ('"сбит беспилотник"', False),
    ("NEAR/3(дрон Белгород)", False), ("lang:uk дрон", False), ("Часов Яр", False),
    ("Белгород Курск", False),
    ("Белгород NOT дрон*", False), ("Белгород OR NOT дрон", False),
])
def test_which_queries_the_index_answers_exactly(lemmatizer: Lemmatizer,
                                                places: PlaceMatcher, query: str,
                                                exact: bool) -> None:
    fts = compiler(lemmatizer, places, query).compile(parse_rule(query))
    assert fts.exact is exact


def test_region_is_one_term_and_channels_become_sql(lemmatizer: Lemmatizer,
                                                    places: PlaceMatcher) -> None:
    query = "region:belgorod channel:@Rybar"
    fts = compiler(lemmatizer, places, query).compile(parse_rule(query))
    assert (fts.match, fts.channels) == ('"p_ru-bel"', ("rybar",))
    terms = TermMaker.for_places(lemmatizer, places).of("Утром обстреляли Шебекино")
    assert place_term("RU-BEL") in terms.terms.split() and terms.regions == ("RU-BEL",)


def test_two_channels_anded_match_nothing(lemmatizer: Lemmatizer) -> None:
    query = "channel:@a1234 channel:@b1234 x"
    fts = compiler(lemmatizer, None, query).compile(parse_rule(query))
    assert fts.channels == (NO_CHANNEL,) and fts.exact


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=1, max_size=20))
@example("0ᦰ0")  # a letter to Python (Unicode 8+), a separator to FTS5's unicode61 (6.1)
@example("東京 Белгород")
def test_any_text_is_one_safe_fts5_string(text: str) -> None:
    # whatever a key holds, the query side and the write side see the same single token
    db = sqlite3.connect(":memory:")
    db.execute(FTS_TABLE)
    token = fts_token(text)
    db.execute("INSERT INTO f (rowid, terms) VALUES (1, ?)", (token,))
    tokens = [t for t in token.split() if t]
    if not tokens or not any(ch.isalnum() for ch in token):
        return
    found = db.execute("SELECT rowid FROM f WHERE f MATCH ?", (quote(token),)).fetchall()
    assert found == [(1,)]


def test_the_same_terms_on_both_sides_for_real_words(lemmatizer: Lemmatizer) -> None:
    db = sqlite3.connect(":memory:")
    db.execute(FTS_TABLE)
    text = "В Куп'янську і Ростові-на-Дону: удар по ТЭЦ, «Белгородом» и Бєлгороді"
    terms = TermMaker(lemmatizer).of(text).terms
    db.execute("INSERT INTO f (rowid, terms) VALUES (1, ?)", (terms,))
    for query in ["Куп'янськ", "Ростов-на-Дону", "ТЭЦ", "Белгород", "удар"]:
        fts = compiler(lemmatizer, None, query).compile(parse_rule(query))
        assert fts.match is not None
        assert db.execute("SELECT rowid FROM f WHERE f MATCH ?", (fts.match,)).fetchall() == [
            (1,)], query


def test_periods_people_type() -> None:
    assert parse_when("7d", NOW, KYIV) == NOW - dt.timedelta(days=7)
    assert parse_when("24h", NOW, KYIV) == NOW - dt.timedelta(hours=24)
    assert parse_when("2026-11-01", NOW, KYIV) == dt.datetime(2026, 10, 31, 22, tzinfo=dt.UTC)
    assert parse_when("2026-11-05", NOW, KYIV, end=True) == dt.datetime(
        2026, 11, 5, 22, tzinfo=dt.UTC)
    assert parse_when("2026-11-05 18:30", NOW, KYIV) == dt.datetime(
        2026, 11, 5, 16, 30, tzinfo=dt.UTC)
    rest, since, until = split_window("дрон* Шебекино since 7d until 2026-11-29", NOW, KYIV)
    assert rest == "дрон* Шебекино" and since == NOW - dt.timedelta(days=7)
    assert until == dt.datetime(2026, 11, 29, 22, tzinfo=dt.UTC)
    assert split_window("дрон until 2026-11-29 since 2026-11-01", NOW, KYIV)[0] == "дрон"


@pytest.mark.parametrize("args", ["x since вчера", "x since 2026-13-01", "x since 7d until 8d",
                                  "x since 2026-02-30"])
def test_bad_periods_get_a_clear_error(args: str) -> None:
    with pytest.raises(WindowError):
        split_window(args, NOW, KYIV)
