"""The matching engine: word forms, the rule language, transliteration, explain spans."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.match import CompiledRule, Lemmatizer, RuleIndex, RuleSyntaxError, parse_rule
from bot.match.normalize import detect_lang, normalize_word, repair_mixed_script, tokenize

FORMS: dict[str, list[str]] = {
    # Russian nouns
    "беспилотник": ["беспилотник", "беспилотника", "беспилотнику", "беспилотником",
                    "беспилотнике", "беспилотники", "беспилотников", "беспилотникам",
                    "беспилотниками", "беспилотниках"],
    "дрон": ["дрон", "дрона", "дрону", "дроном", "дроне", "дроны", "дронов", "дронам",
             "дронами", "дронах", "дрони", "дронів"],
    "ракета": ["ракета", "ракеты", "ракете", "ракету", "ракетой", "ракет", "ракетам",
               "ракетами", "ракетах", "ракети", "ракеті", "ракетою"],
    "обстрел": ["обстрел", "обстрела", "обстрелу", "обстрелом", "обстреле", "обстрелы",
                "обстрелов", "обстрелами"],
    "взрыв": ["взрыв", "взрыва", "взрыву", "взрывом", "взрыве", "взрывы", "взрывов",
              "взрывами"],
    # Russian adjectives
    "белгородский": ["белгородский", "белгородского", "белгородскому", "белгородским",
                     "белгородском", "белгородская", "белгородской", "белгородскую",
                     "белгородское", "белгородские", "белгородских", "белгородскими"],
    "курский": ["курский", "курского", "курскому", "курским", "курская", "курской",
                "курскую", "курское", "курские", "курских"],
    # Russian place names (capitalised, as in posts)
    "Белгород": ["Белгород", "Белгорода", "Белгороду", "Белгородом", "Белгороде"],
    "Курск": ["Курск", "Курска", "Курску", "Курском", "Курске"],
    "Брянск": ["Брянск", "Брянска", "Брянску", "Брянском", "Брянске"],
    "Воронеж": ["Воронеж", "Воронежа", "Воронежу", "Воронежем", "Воронеже"],
    "Ростов": ["Ростов", "Ростова", "Ростову", "Ростовом", "Ростове"],
    "Купянск": ["Купянск", "Купянска", "Купянску", "Купянском", "Купянске"],
    "Харьков": ["Харьков", "Харькова", "Харькову", "Харьковом", "Харькове"],
    # Ukrainian
    "Бєлгород": ["Бєлгород", "Бєлгорода", "Бєлгороду", "Бєлгородом", "Бєлгороді"],
    "Харків": ["Харків", "Харкова", "Харкову", "Харковом", "Харкові"],
    "Куп'янськ": ["Куп'янськ", "Куп’янська", "Куп'янську", "Куп'янськом"],
    "Запоріжжя": ["Запоріжжя", "Запоріжжю", "Запоріжжям", "Запоріжжі"],
    "обстріл": ["обстріл", "обстрілу", "обстрілом", "обстрілі", "обстріли", "обстрілів",
                "обстрілами"],
    "вибух": ["вибух", "вибуху", "вибухом", "вибухи", "вибухів", "вибухами"],
    "Шебекино": ["Шебекино"],
    "Грайворон": ["Грайворон", "Грайворона", "Грайворону", "Грайвороном", "Грайвороне"],
    "харківський": ["харківський", "харківського", "харківському", "харківським",
                    "харківська", "харківської", "харківську", "харківське", "харківські",
                    "харківських"],
}
CASES = [(rule, form) for rule, forms in FORMS.items() for form in forms]


def index_of(lemmatizer: Lemmatizer, *rules: str) -> RuleIndex:
    return RuleIndex.build(
        lemmatizer, [CompiledRule(i + 1, 100, parse_rule(r)) for i, r in enumerate(rules)]
    )


def matched(lemmatizer: Lemmatizer, rule: str, text: str, channel: str | None = None) -> bool:
    return bool(index_of(lemmatizer, rule).match(text, channel))


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 150


@pytest.mark.parametrize(("rule", "form"), CASES)
def test_every_form_matches_its_word(lemmatizer: Lemmatizer, rule: str, form: str) -> None:
    text = f"Сообщают: {form} — подробности позже"
    [hit] = index_of(lemmatizer, rule).match(text)
    start = text.index(form)
    assert hit.spans == ((start, start + len(form)),)


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("Ростов", "Рост цен замедлился"),  # not a form of рост
        ("рост", "Взрыв в Ростове"),  # the city is not growth
        ("час", "Это случается часто"),
        ("Белгород", "Курск и Воронеж"),
        ("Белгород", "белгородский губернатор"),  # an adjective is another word (regions: later)
        ("=Белгород", "над Белгородом"),
        ('"сбит беспилотник"', "беспилотник не сбит"),
        ("дрон -учения", "Учения с дронами прошли успешно"),
        ("дрон Шебекино", "Дроны над Белгородом"),
        ("ракет*", "ракушка"),
        ("за", "из-за погоды"),  # parts of fewer than 3 letters are not words of their own
    ],
)
def test_and_nothing_else(lemmatizer: Lemmatizer, rule: str, text: str) -> None:
    assert not matched(lemmatizer, rule, text)


@pytest.mark.parametrize(
    ("rule", "text", "fired"),
    [
        ("дрон*", "дроновод сообщил", "дроновод"),
        ("беспилот*", "беспилотная атака", "беспилотная"),
        ("=Белгородом", "над Белгородом", "Белгородом"),
        ('"Белгородская область"', "в Белгородской области тревога", "Белгородской области"),
        ("NEAR/4(дрон Шебекино)", "дрон упал в районе Шебекино вечером", "дрон"),
        ("дрон OR ракета", "пуск ракеты", "ракеты"),
        ("(дрон OR ракета) Курск", "ракеты над Курском", "ракеты"),
        ("дрон NOT учения", "дрон над городом", "дрон"),
        ("дрон AND город", "дрон над городом", "дрон"),
        ("ёлка", "поставили елку", "елку"),
        ("Ростов-на-Дону", "Взрыв в Ростове-на-Дону", "Ростове-на-Дону"),
        ("Шебекино", "Обстрел Шeбeкино", "Шeбeкино"),  # Latin "e" inside: repaired
        # each part of a hyphenated word counts as a word
        ("дрон", "атака FPV-дронов на колонну", "FPV-дронов"),
        ("FPV", "атака FPV-дронов на колонну", "FPV-дронов"),  # Latin part stays Latin
        ("камикадзе", "удар беспилотника-камикадзе", "беспилотника-камикадзе"),
        ("Ростов", "Взрыв в Ростове-на-Дону", "Ростове-на-Дону"),
    ],
)
def test_constructs(lemmatizer: Lemmatizer, rule: str, text: str, fired: str) -> None:
    [hit] = index_of(lemmatizer, rule).match(text)
    assert fired in [text[s:e] for s, e in hit.spans]


def test_near_distance_is_respected(lemmatizer: Lemmatizer) -> None:
    rule = "NEAR/2(дрон Шебекино)"
    assert matched(lemmatizer, rule, "дрон над Шебекино")
    assert not matched(lemmatizer, rule, "дрон летел долго и упал у Шебекино")


def test_channel_and_language_filters(lemmatizer: Lemmatizer) -> None:
    assert matched(lemmatizer, "дрон channel:@rybar", "дрон", channel="Rybar")
    assert not matched(lemmatizer, "дрон channel:@rybar", "дрон", channel="mash")
    assert not matched(lemmatizer, "дрон channel:@rybar", "дрон", channel=None)
    assert matched(lemmatizer, "channel:@rybar", "любой пост", channel="rybar")
    assert matched(lemmatizer, "дрон lang:uk", "Дрони атакували Харків і Київ")
    assert not matched(lemmatizer, "дрон lang:uk", "Дроны атаковали Белгород, сообщил губернатор")
    assert matched(lemmatizer, "дрон lang:ru", "Дроны атаковали Белгород")


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("Shebekino", "Обстрел Шебекино"),
        ("Шебекино", "Shelling of Shebekino"),
        ("Kupiansk", "Ситуация у Купянска"),
        ("Kupiansk", "Ситуація біля Куп'янська"),
        ("Купянск", "Russian troops near Kupiansk"),
        ("Kharkiv", "Вибухи у Харкові"),
        ("Belgorod", "Взрывы в Белгороде"),
        ("Zaporizhzhia", "Обстріл Запоріжжя"),
        ("Kursk", "ПВО над Курском"),
        ("Grayvoron", "обстрел Грайворона"),
    ],
)
def test_transliteration_pairs(lemmatizer: Lemmatizer, rule: str, text: str) -> None:
    assert matched(lemmatizer, rule, text)


def test_only_rules_with_hits_are_reported(lemmatizer: Lemmatizer) -> None:
    index = index_of(lemmatizer, "Курск", "Белгород", "Шебекино", "Белгород -учения")
    assert [h.rule_id for h in index.match("Взрывы в Белгороде")] == [2, 4]


def test_explain_lists_the_terms_that_fired(lemmatizer: Lemmatizer) -> None:
    [hit] = index_of(lemmatizer, "(дрон OR ракета) Белгород").match("Дрон над Белгородом")
    assert hit.fired == ("дрон", "белгород")


@pytest.mark.parametrize(
    ("rule", "understood"),
    [
        ("дрон* AND (Шебекино OR Shebekino) NOT учения",
         "дрон* AND (шебекино OR shebekino) AND NOT учения"),
        ('Белгород -учения "сбит  беспилотник"', 'белгород AND NOT учения AND "сбит беспилотник"'),
        ("a OR b c", "a OR (b AND c)"),
        ("NEAR/5(дрон =Шебекино) channel:@Rybar lang:uk",
         "NEAR/5(дрон =шебекино) AND channel:@rybar AND lang:uk"),
        ("Ростов/Дон", '"ростов дон"'),
    ],
)
def test_rules_render_as_understood(rule: str, understood: str) -> None:
    assert parse_rule(rule).render() == understood


@pytest.mark.parametrize(
    ("rule", "message", "position"),
    [
        ("", "expected a word to look for", 0),
        ('"open phrase', 'expected a closing " for this quote', 0),
        ("дрон AND", "expected a word, a phrase or '(' after AND", 8),
        ("дрон OR", "expected a word, a phrase or '(' after OR", 7),
        ("NOT", "expected a word, a phrase or '(' after NOT", 3),
        ("-учения", "a rule needs at least one word", 0),
        ("(дрон", "expected ')' to close the '(' at character 1", 5),
        ("дрон)", "unexpected ')'", 4),
        ("()", "expected something inside the parentheses", 1),
        ("NEAR/x(a b)", "expected a number of words after NEAR/", 6),
        ("NEAR/5 a b", "expected '(' after NEAR/n", 7),
        ("NEAR/5(a)", "NEAR needs at least two words", 0),
        ("NEAR/99(a b)", "NEAR distance must be from 1 to 50", 0),
        ("ab*", "a prefix needs at least 3 letters", 2),
        ("a*b", "* may only end a word", 1),
        ("=ab*", "cannot be both =exact and a prefix*", 0),
        ("lang:de", "expected lang:ru or lang:uk", 5),
        ("channel:", "expected a channel username after channel:", 8),
        ("region:", "expected a place after region:", 7),
        ('дрон ""', "expected words inside the quotes", 5),
        ("x" * 501, "longer than 500", 500),
        (" ".join(["слово"] * 31), "at most 30 terms", 180),
        ("(" * 9 + "a" + ")" * 9, "nest at most 8 deep", 8),
    ],
)
def test_malformed_rules_point_at_the_problem(rule: str, message: str, position: int) -> None:
    with pytest.raises(RuleSyntaxError) as info:
        parse_rule(rule)
    assert message in info.value.message
    assert info.value.position == position
    assert info.value.pointer().splitlines()[-1] == " " * position + "^"


def test_mixed_script_repair_and_language() -> None:
    assert repair_mixed_script("шeбeкинo") == "шебекино"
    assert repair_mixed_script("shebekino") == "shebekino"
    assert normalize_word("ВЗРЫВ") == "взрыв"
    assert detect_lang("Вибухи у Харкові") == "uk"
    assert detect_lang("Взрывы в Белгороде, объявлена тревога") == "ru"
    assert detect_lang("Explosions in Belgorod") == "en"


@given(st.text())
def test_normalize_is_idempotent_and_never_raises(text: str) -> None:
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


@given(st.text(max_size=120))
def test_parser_either_parses_or_raises_a_positioned_error(text: str) -> None:
    try:
        parse_rule(text)
    except RuleSyntaxError as exc:
        assert 0 <= exc.position <= len(text)


@given(st.text(alphabet="абвгдеёжзийклмнопрстуфхцчшщъыьэюяіїєґ'- ", max_size=80))
def test_matching_never_raises(text: str) -> None:
    index = index_of(Lemmatizer.shared(), "дрон* (Белгород OR Шебекино) -учения", "NEAR/3(а б)")
    for hit in index.match(text):
        for start, end in hit.spans:
            assert 0 <= start < end <= len(text)


def test_near_finds_windows_among_many_repeats(lemmatizer: Lemmatizer) -> None:
    text = " ".join(["дрон"] * 40 + ["Шебекино"])
    [hit] = index_of(lemmatizer, "NEAR/2(дрон Шебекино)").match(text)
    assert [text[s:e] for s, e in hit.spans] == ["дрон", "дрон", "Шебекино"]
    assert index_of(lemmatizer, "NEAR/50(и и и и и)").match(" ".join(["и слово"] * 30))


def test_near_with_odd_digits_is_a_syntax_error() -> None:
    with pytest.raises(RuleSyntaxError, match="expected a number of words after NEAR/"):
        parse_rule("NEAR/²(a b)")
