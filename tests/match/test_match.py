"""The matching engine: word forms, the rule language, transliteration, explain spans."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.match import CompiledRule, Lemmatizer, RuleIndex, RuleSyntaxError, parse_rule
from bot.match.names import find_names
from bot.match.normalize import detect_lang, normalize_word, repair_mixed_script, tokenize
from bot.regions.places import PlaceMatcher

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
# Names of several words (and hyphenated ones), matched as a whole: every form below must be
# found as ONE span covering the whole name. Ukrainian and Latin spellings come from the
# gazetteer (the index is built with it, as the app builds it); Russian forms of a
# capitalised name need no gazetteer (test_capitalised_names_need_no_gazetteer).
NAMES: dict[str, list[str]] = {
    "Часов Яр": ["Часов Яр", "Часова Яра", "Часову Яру", "Часовым Яром", "Часовом Яре",
                 "Часового Яра", "Часів Яр", "Часового Яру", "Часовому Яру", "Часовим Яром",
                 "Chasiv Yar"],
    "Новая Каховка": ["Новая Каховка", "Новой Каховки", "Новой Каховке", "Новую Каховку",
                      "Новой Каховкой", "Нова Каховка", "Нової Каховки", "Новій Каховці",
                      "Nova Kakhovka"],
    "Великая Новосёлка": ["Великая Новосёлка", "Великой Новосёлки", "Великой Новоселке",
                          "Великую Новосёлку", "Великой Новосёлкой"],
    "Красный Лиман": ["Красный Лиман", "Красного Лимана", "Красному Лиману", "Красным Лиманом",
                      "Красном Лимане", "Красний Лиман", "Красному Лимані"],
    "Старый Оскол": ["Старый Оскол", "Старого Оскола", "Старому Осколу", "Старым Осколом",
                     "Старом Осколе", "Старий Оскол", "Старому Осколі"],
    "Кривой Рог": ["Кривой Рог", "Кривого Рога", "Кривому Рогу", "Кривым Рогом", "Кривом Роге",
                   "Кривий Ріг", "Кривого Рогу", "Кривому Розі", "Кривим Рогом", "Kryvyi Rih"],
    "Белая Церковь": ["Белая Церковь", "Белой Церкви", "Белую Церковь", "Белой Церковью",
                      "Біла Церква", "Білої Церкви", "Білій Церкві", "Bila Tserkva"],
    "Великий Новгород": ["Великий Новгород", "Великого Новгорода", "Великому Новгороду",
                         "Великим Новгородом", "Великом Новгороде"],
    "Нижний Новгород": ["Нижний Новгород", "Нижнего Новгорода", "Нижнему Новгороду",
                        "Нижним Новгородом", "Нижнем Новгороде", "Нижній Новгород",
                        "Нижньому Новгороді"],
    "Ростов-на-Дону": ["Ростов-на-Дону", "Ростова-на-Дону", "Ростову-на-Дону", "Ростовом-на-Дону",
                       "Ростове-на-Дону", "Ростові-на-Дону", "Ростове на Дону", "Rostov-on-Don"],
    "Нью-Йорк": ["Нью-Йорк", "Нью-Йорка", "Нью-Йорку", "Нью-Йорком", "Нью-Йорке"],
    "Каменец-Подольский": ["Каменец-Подольский", "Каменца-Подольского", "Каменце-Подольском",
                           "Кам'янець-Подільський", "Кам’янці-Подільському"],
    "Комсомольск-на-Амуре": ["Комсомольска-на-Амуре", "Комсомольске-на-Амуре",
                             "Комсомольськ-на-Амурі"],
    "Старый Салтов": ["Старого Салтова", "Старом Салтове", "Старий Салтів", "Старому Салтові"],
    "Великий Бурлук": ["Великого Бурлука", "Великом Бурлуке", "Великому Бурлуці"],
    "Новая Водолага": ["Новой Водолаги", "Новой Водолаге", "Нова Водолага", "Новій Водолазі"],
    "Малая Токмачка": ["Малой Токмачки", "Малой Токмачке", "Мала Токмачка", "Малій Токмачці"],
    "Сергиев Посад": ["Сергиева Посада", "Сергиевом Посаде", "Сергиеву Посаду"],
    "Набережные Челны": ["Набережных Челнов", "Набережных Челнах", "Набережными Челнами"],
    "Красная Поляна": ["Красной Поляне", "Красную Поляну", "Красной Поляны"],
    "Автономная Республика Крым": ["Автономной Республики Крым", "Автономной Республике Крым",
                                   "Автономна Республіка Крим", "Автономній Республіці Крим"],
    "Ямало-Ненецкий автономный округ": ["Ямало-Ненецкого автономного округа",
                                        "Ямало-Ненецком автономном округе"],
}
NAME_CASES = [(rule, form) for rule, forms in NAMES.items() for form in forms]
# The Russian forms, which the capitalised rule finds without the gazetteer too.
RUSSIAN_NAME_CASES = [(rule, form) for rule, form in NAME_CASES if not re.search("[іїєґ'’a-z]",
                                                                                 form.lower())]


@pytest.fixture(scope="module")
def places() -> PlaceMatcher:
    return PlaceMatcher.shared(Lemmatizer.shared())


def index_of(lemmatizer: Lemmatizer, *rules: str, places: PlaceMatcher | None = None
             ) -> RuleIndex:
    return RuleIndex.build(
        lemmatizer, [CompiledRule(i + 1, 100, parse_rule(r)) for i, r in enumerate(rules)],
        places,
    )


def matched(lemmatizer: Lemmatizer, rule: str, text: str, channel: str | None = None) -> bool:
    return bool(index_of(lemmatizer, rule).match(text, channel))


def test_the_table_is_big_enough() -> None:
    assert len(CASES) >= 150
    assert len(NAMES) >= 15 and len(NAME_CASES) >= 100


@pytest.mark.parametrize(("rule", "form"), CASES)
def test_every_form_matches_its_word(lemmatizer: Lemmatizer, rule: str, form: str) -> None:
    text = f"Сообщают: {form} — подробности позже"
    [hit] = index_of(lemmatizer, rule).match(text)
    start = text.index(form)
    assert hit.spans == ((start, start + len(form)),)


@pytest.mark.parametrize(("rule", "form"), NAME_CASES)
def test_every_form_of_a_name_matches_it_whole(lemmatizer: Lemmatizer, places: PlaceMatcher,
                                               rule: str, form: str) -> None:
    text = f"Сообщают: {form} — подробности позже"
    start = text.index(form)
    for written in (rule, f'"{rule}"'):  # bare words and a quoted phrase alike
        [hit] = index_of(lemmatizer, written, places=places).match(text)
        assert hit.spans == ((start, start + len(form)),), written


@pytest.mark.parametrize(("rule", "form"), RUSSIAN_NAME_CASES)
def test_capitalised_names_need_no_gazetteer(lemmatizer: Lemmatizer, rule: str,
                                             form: str) -> None:
    text = f"В {form} идут бои"
    [hit] = index_of(lemmatizer, rule).match(text)
    start = text.index(form)
    if len(rule.split()) <= 2:  # longer names are two capitalised words at most without it
        assert hit.spans == ((start, start + len(form)),)


@pytest.mark.parametrize(
    ("rule", "text"),
    [
        ("Часов", "В Часовом Яре идут бои"),  # one word stays one word: not часовой
        ("Часов", "часовой механизм"),
        ("Часов Яр", "Через 10 часов после начала"),
        ("Часов Яр", "Бой часов и яркий свет"),
        ('"Часов Яр"', "Через 10 часов ярко светило солнце"),
        ("часов яр", "часовой на посту"),
        ("Красный Лиман", "Красный флаг над Красным морем"),
        ("Новая Каховка", "Новая школа в Новой Москве"),
        ("Великий Новгород", "Бои в Нижнем Новгороде"),
        ("Нижний Новгород", "Бои в Великом Новгороде"),
        ("Старый Оскол", "Дроны над Старым Салтовом"),
        ("Белая Церковь", "в Белой Калитве"),
        ("Кривой Рог", "Кривое зеркало"),
        ("Нью-Йорк", "Визит в Нью-Дели"),
        ("Ростов-на-Дону", "Ростов Великий"),
        ("Каменец-Подольский", "Каменец и Подольск"),
        ("Великая Новосёлка", "великая новость"),
        ("Сергиев Посад", "Сергиевы дети"),
    ],
)
def test_a_name_and_nothing_else(lemmatizer: Lemmatizer, places: PlaceMatcher, rule: str,
                                 text: str) -> None:
    assert not index_of(lemmatizer, rule, places=places).match(text)


def test_words_of_a_name_still_count_on_their_own(lemmatizer: Lemmatizer,
                                                  places: PlaceMatcher) -> None:
    # bare words keep meaning "both somewhere": the name adds to that, takes nothing away
    [hit] = index_of(lemmatizer, "Новая Каховка", places=places).match("Новая атака на Каховку")
    assert len(hit.spans) == 2
    [hit] = index_of(lemmatizer, "Белгород Шебекино").match("Белгород и Шебекино")
    assert len(hit.spans) == 2
    # one word alone behaves as before
    text = "В Старом Осколе флаг красного цвета"
    [hit] = index_of(lemmatizer, "Красный", places=places).match(text)
    assert [text[s:e] for s, e in hit.spans] == ["красного"]
    assert not index_of(lemmatizer, "Красный", places=places).match("в Красном Лимане")


def test_lowercase_names_need_the_gazetteer(lemmatizer: Lemmatizer, places: PlaceMatcher) -> None:
    text = "В Часовом Яре идут бои"
    assert not index_of(lemmatizer, "часов яр").match(text)
    [hit] = index_of(lemmatizer, "часов яр", places=places).match(text)
    assert [text[s:e] for s, e in hit.spans] == ["Часовом Яре"]
    # typed without its hyphens, a gazetteer name is still the name
    text = "Взрыв в Ростове-на-Дону"
    [hit] = index_of(lemmatizer, "Ростов на Дону", places=places).match(text)
    assert [text[s:e] for s, e in hit.spans] == ["Ростове-на-Дону"]


@pytest.mark.parametrize(
    ("rule", "text", "fired"),
    [
        ("дрон Часов Яр", "Дрон упал в Часовом Яре", "Часовом Яре"),
        ('"обстрел Часов Яр"', "обстрел Часового Яра продолжается", "обстрел Часового Яра"),
        ("NEAR/3(дрон Часов Яр)", "Дрон сбит над Часовым Яром", "Часовым Яром"),
        ("(Часов Яр OR Бахмут) -учения", "Бои у Часова Яра", "Часова Яра"),
        ("Белгород Старый Оскол", "Белгород и Старый Оскол", "Старый Оскол"),
        ("Владимир Путин", "встреча с Владимиром Путиным", "Владимиром Путиным"),
    ],
)
def test_names_inside_rules(lemmatizer: Lemmatizer, places: PlaceMatcher, rule: str, text: str,
                            fired: str) -> None:
    [hit] = index_of(lemmatizer, rule, places=places).match(text)
    assert fired in [text[s:e] for s, e in hit.spans]


@pytest.mark.parametrize(
    ("rule", "gazetteer", "names"),
    [
        ("Часов Яр", False, [(0, 2)]),
        ("дрон Часов Яр", False, [(1, 3)]),
        ("Белгород Старый Оскол", True, [(1, 3)]),  # the gazetteer's name wins the pairing
        ("часов яр", True, [(0, 2)]),
        ("часов яр", False, []),
        ("На Украине", False, []),  # a preposition is no word of a name
        ("Сегодня Москва", False, []),
        ("Каменец-Подольский", False, [(0, 1)]),
        ("Ростов на Дону", True, [(0, 3)]),
        ("FPV-дрон", False, []),
    ],
)
def test_which_words_form_a_name(lemmatizer: Lemmatizer, places: PlaceMatcher, rule: str,
                                 gazetteer: bool, names: list[tuple[int, int]]) -> None:
    tokens = tokenize(rule)
    runs = find_names([t.norm for t in tokens], [t.proper for t in tokens],
                      places.gazetteer if gazetteer else None, lemmatizer.nameable)
    assert [(r.start, r.end) for r in runs] == names


def test_near_finds_a_name_as_its_words(lemmatizer: Lemmatizer) -> None:
    rule = "NEAR/3(Часов Яр дрон)"  # distance from the name's first word, as for its words
    assert index_of(lemmatizer, rule).match("В Часовом Яре сбит дрон")
    assert not index_of(lemmatizer, rule).match("В Часовом Яре вчера утром сбит дрон")


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
        ("Часов Яр", "часов AND яр"),  # a name is matched as one too, but shown as typed
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


@given(st.text(alphabet="Бел городом…№\u00a0²½ﬁ’'-xoаё ", max_size=60))
def test_texts_that_are_not_nfkc_tokenise_as_the_slow_path_does(text: str) -> None:
    # an ellipsis or № used to send the whole post down the per-token slow path
    from bot.match.normalize import _tokenize_slow
    assert tokenize(text) == _tokenize_slow(text)


def test_a_news_post_with_an_ellipsis_keeps_its_word_forms() -> None:
    text = "Над Белгородом… сбиты БПЛА, площадь 5 м², дом №\u00a012"
    assert [t.norm for t in tokenize(text)] == [
        "над", "белгородом", "сбиты", "бпла", "площадь", "5", "м2", "дом", "12"]
    assert tokenize(text)[1].proper and not tokenize(text)[3].proper


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
