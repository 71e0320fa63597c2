from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.match import CompiledRule, Lemmatizer, RuleIndex, RuleSyntaxError, parse_rule
from bot.match.normalize import normalize_word, tokenize


def index_of(lemmatizer: Lemmatizer, *rules: str) -> RuleIndex:
    return RuleIndex.build(
        lemmatizer, [CompiledRule(i + 1, 100, parse_rule(r)) for i, r in enumerate(rules)]
    )


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("Белгород", "Сбит беспилотник над Белгородом"),
        ("Белгород", "В БЕЛГОРОДЕ слышны взрывы"),
        ("белгород", "белгород"),
        ("дрон", "Атака дронами на Шебекино"),
        ("дроны", "уничтожено три дрона"),
        ("ёлка", "на площади поставили елку"),
        ("елка", "на площади поставили ёлку"),
        ("Бєлгород", "Вибухи в Бєлгороді"),
        ('"сбит беспилотник"', "Утром сбиты беспилотники над Курском"),
        ("Куп'янськ", "Ситуація біля Куп’янська"),
        ("Ростов-на-Дону", "Взрыв в Ростове-на-Дону"),
    ],
)
def test_words_match_in_any_form(lemmatizer: Lemmatizer, rule: str, text: str) -> None:
    assert [h.rule_id for h in index_of(lemmatizer, rule).match(text)] == [1]


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("Белгород", "Курск и Воронеж"),
        ('"сбит беспилотник"', "беспилотник не сбит"),
        ("дрон -учения", "Учения с дронами прошли успешно"),
        ("дрон Шебекино", "Дроны над Белгородом"),
    ],
)
def test_non_matches(lemmatizer: Lemmatizer, rule: str, text: str) -> None:
    assert index_of(lemmatizer, rule).match(text) == []


def test_spans_point_at_the_matched_words(lemmatizer: Lemmatizer) -> None:
    text = "Сбит беспилотник над Белгородом, обломки в Белгороде"
    [hit] = index_of(lemmatizer, "Белгород").match(text)
    assert [text[s:e] for s, e in hit.spans] == ["Белгородом", "Белгороде"]
    [hit] = index_of(lemmatizer, '"сбит беспилотник"').match(text)
    assert [text[s:e] for s, e in hit.spans] == ["Сбит беспилотник"]


def test_only_rules_with_hits_are_reported(lemmatizer: Lemmatizer) -> None:
    index = index_of(lemmatizer, "Курск", "Белгород", "Шебекино", "Белгород -учения")
    hits = index.match("Взрывы в Белгороде")
    assert [h.rule_id for h in hits] == [2, 4]


@pytest.mark.parametrize(
    ("rule", "message", "position"),
    [
        ('"open phrase', 'expected a closing "', 0),
        ("дрон -", "expected a word or a quoted phrase after '-'", 6),
        ("-учения", "expected at least one word", 7),
        ("дрон OR беспилотник", "OR is not supported yet", 5),
        ("(дрон)", "parentheses are not supported yet", 0),
        ('дрон ""', "expected words inside the quotes", 5),
        ("x" * 501, "longer than 500", 500),
        (" ".join(["слово"] * 21), "at most 20 terms", 120),
    ],
)
def test_malformed_rules_point_at_the_problem(rule: str, message: str, position: int) -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule(rule)
    assert message in info.value.message
    assert info.value.position == position
    assert info.value.pointer().splitlines()[1] == " " * position + "^"


def test_rule_rendering_shows_understanding() -> None:
    assert parse_rule('Белгород AND -учения "сбит  беспилотник"').render() == (
        'белгород AND NOT учения AND "сбит беспилотник"'
    )


@given(st.text())
def test_normalize_is_idempotent_and_folds(text: str) -> None:
    once = normalize_word(text)
    assert normalize_word(once) == once
    assert "ё" not in once and "’" not in once


@given(st.text())
def test_token_spans_lie_inside_the_text(text: str) -> None:
    last_end = 0
    for token in tokenize(text):
        assert last_end <= token.start < token.end <= len(text)
        assert token.norm == normalize_word(text[token.start:token.end])
        last_end = token.end


@given(st.text(max_size=200))
def test_parser_either_parses_or_raises_a_positioned_error(text: str) -> None:
    try:
        query = parse_rule(text)
    except RuleSyntaxError as exc:
        assert 0 <= exc.position <= len(text)
    else:
        assert any(not t.negated for t in query.terms)
