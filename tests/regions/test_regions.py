"""Places in posts: every case form, adjectives, ambiguity, region: rules, /region, the CLI."""

from __future__ import annotations

import pytest

from bot.match import CompiledRule, Lemmatizer, RuleIndex, parse_rule
from bot.match.normalize import tokenize
from bot.regions.gazetteer import PlaceLookupError, resolve
from bot.regions.places import PlaceMatcher, _is_a_place_finder
from tests.support.harness import ADMIN, Env, ask, wait_for


@pytest.fixture(scope="module")
def places() -> PlaceMatcher:
    return PlaceMatcher.shared(Lemmatizer.shared())


@pytest.mark.parametrize(
    ("text", "regions"),
    [
        ("Обстрел Шебекино продолжается", ["RU-BEL"]),
        ("Под Грайвороном сбит беспилотник", ["RU-BEL"]),
        ("В Белгородской области объявлена тревога", ["RU-BEL"]),
        ("Белгородчина снова под ударом", ["RU-BEL"]),
        ("Бєлгородщина знову під обстрілом", ["RU-BEL"]),
        ("белгородский губернатор сообщил о раненых", ["RU-BEL"]),
        ("Shelling of Shebekino continues", ["RU-BEL"]),
        ("Ситуація біля Куп'янська загострилася", ["UA-63"]),
        ("Бои у Купянска", ["UA-63"]),
        ("Вибухи у Харкові", ["UA-63"]),
        ("Взрыв в Курске и пожар в Брянске", ["RU-BRY", "RU-KRS"]),
        ("Бои за Артемовск, Донецкая область", ["UA-14"]),  # historic name of Бахмут
        ("Ракетный удар по Запорожью", ["UA-23"]),
        ("Курс доллара вырос", []),
        ("Мирный договор подписан", []),  # a common word, not the town
        ("Счастье и радость", []),
        ("Россия и Украина", []),
        ("Москвич пострадал при пожаре", ["RU-MOW"]),  # a demonym counts
        ("Бои в Донбассе", ["UA-09", "UA-14"]),  # a region of two oblasts
        ("Москва заявила протест", []),  # the government, not the place
        ("Решено передать Киеву зенитные комплексы", []),
        ("Эфир в 10:00 по Москве", []),  # Moscow time
        ("Пробка на Калужском шоссе", []),  # a street, not Kaluga oblast
        ("Торговля с Китаем выросла", []),  # "с" without its dot is not "село"
        ("Поставки камчатского краба", []),
        ("Обстрел в Раменском", ["RU-MOS"]),  # a big town named like an adjective
        ("В Москве открыли станцию метро", ["RU-MOW"]),
    ],
)
def test_places_in_real_sentences(places: PlaceMatcher, text: str, regions: list[str]) -> None:
    assert places.regions(text) == regions


def test_spans_and_places(places: PlaceMatcher) -> None:
    text = "Под Грайвороном сбит беспилотник"
    [hit] = places.find(text)
    assert text[hit.start:hit.end] == "Грайвороном"
    assert hit.region == "RU-BEL"


def test_ambiguous_word_counts_with_support(places: PlaceMatcher) -> None:
    # "Счастье" is a town in Luhansk oblast: with a preposition of place and its region named
    assert "UA-09" in places.regions("Обстрел в Счастье, Луганская область")


@pytest.mark.parametrize(
    ("query", "expected"),
    [("belgorod", "RU-BEL"), ("UA-63", "UA-63"), ("Белгородская область", "RU-BEL"),
     ("Харьков", "UA-63"), ("ua-63", "UA-63")],
)
def test_resolving_rule_places(places: PlaceMatcher, query: str, expected: str) -> None:
    assert resolve(places.gazetteer, query).id == expected


def test_resolving_a_settlement_and_unknown_names(places: PlaceMatcher) -> None:
    shebekino = resolve(places.gazetteer, "Шебекино")
    assert shebekino.kind == "settlement" and shebekino.region == "RU-BEL"
    with pytest.raises(PlaceLookupError, match="no place called"):
        resolve(places.gazetteer, "Нигдеград")


def test_region_rules_match_the_place_and_everything_inside(places: PlaceMatcher) -> None:
    lem = Lemmatizer.shared()
    index = RuleIndex.build(lem, [
        CompiledRule(1, 1, parse_rule("region:belgorod")),
        CompiledRule(2, 1, parse_rule('region:"Шебекино" дрон*')),
        CompiledRule(3, 1, parse_rule("region:UA-63 -учения")),
    ], places)
    hits = index.match("Дроны атаковали Шебекино")  # rule 2 needs дрон* too: it is there
    assert sorted(h.rule_id for h in hits) == [1, 2]
    first = next(h for h in hits if h.rule_id == 1)
    assert "📍 Шебекино, Belgorod Oblast" in first.fired
    assert [h.rule_id for h in index.match("Вибухи у Харкові")] == [3]
    assert index.match("Учения под Харьковом") == []
    assert index.match("Взрыв в Курске") == []


def test_the_matcher_is_the_index_place_finder(places: PlaceMatcher) -> None:
    text = "Дроны атаковали Шебекино и Белгородскую область"
    tokens = tokenize(text)
    keys = [places.lemmatizer.keys(t.norm, t.proper) for t in tokens]
    assert [(m.start, m.end, m.place_id) for m in places.mentions(text, tokens, keys)] == [
        (h.start, h.end, h.place.id) for h in places.find(text)]
    shebekino = places.mentions(text, tokens, keys)[0]
    assert (shebekino.label, shebekino.region_label) == ("Шебекино", "Belgorod Oblast")
    region = resolve(places.gazetteer, "belgorod")
    assert places.places_in("belgorod") == places.gazetteer.descendants(region.id)
    assert shebekino.place_id in places.places_in("RU-BEL")
    with pytest.raises(PlaceLookupError):
        places.places_in("Нигдеград")
    assert places.names is places.gazetteer
    assert _is_a_place_finder(places) is places


def test_an_unknown_region_in_a_rule_is_refused(places: PlaceMatcher) -> None:
    with pytest.raises(PlaceLookupError):
        RuleIndex.build(Lemmatizer.shared(), [CompiledRule(1, 1, parse_rule("region:Нигдеград"))],
                        places)


async def test_region_command_alert_names_the_place(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    reply = await ask(env, env.admin, "/region Шебекино")
    assert reply.startswith("✅ Rule #1 saved: region:Шебекино — Шебекино")
    env.world.post(env.news, "Утром обстреляли Шебекино, ранены двое")
    await wait_for(lambda: env.alerts_to(ADMIN))
    lines = env.alerts_to(ADMIN)[0].text.splitlines()
    assert lines[1] == "📍 Шебекино, Belgorod Oblast"
    assert "<strong>Шебекино</strong>" in env.alerts_to(ADMIN)[0].html


async def test_region_command_offers_buttons_for_ambiguous_names(env: Env) -> None:
    message = env.world.private_message(env.bot, env.admin, "/region Мирное")
    await wait_for(lambda: any(m.reply_to == message.id for m in env.world.sent_to(ADMIN)))
    reply = next(m for m in env.world.sent_to(ADMIN) if m.reply_to == message.id)
    assert reply.text.startswith("Which one do you mean by Мирное?")
    rows = reply.reply_markup.rows
    assert len(rows) >= 2
    first = rows[0].buttons[0]
    data = first.type.data  # layer 229: KeyboardInlineButton(type=InlineButtonTypeCallback)
    assert data.startswith(b"region:")
    env.world.press_button(env.bot, env.admin, reply, data)
    await wait_for(lambda: env.world.edited and env.world.callback_answers)
    assert env.world.callback_answers[0].message == "Saved"
    assert env.world.edited[-1].text.startswith("✅ Rule #1 saved: region:")
    rules = await env.running.store.rules.of_chat(ADMIN)
    assert [r.expression.startswith("region:") for r in rules] == [True]


async def test_region_command_handles_typos(env: Env) -> None:
    reply = await ask(env, env.admin, "/region Шебекимо")
    assert "Шебекино" in reply


async def test_a_stranger_cannot_press_buttons(env: Env) -> None:
    message = env.world.private_message(env.bot, env.admin, "/region Мирное")
    await wait_for(lambda: any(m.reply_to == message.id for m in env.world.sent_to(ADMIN)))
    reply = next(m for m in env.world.sent_to(ADMIN) if m.reply_to == message.id)
    env.world.press_button(env.bot, env.stranger, reply,
                           reply.reply_markup.rows[0].buttons[0].type.data)
    await wait_for(lambda: env.world.callback_answers)
    assert env.world.callback_answers[0].message == "Sorry, this chanwatch instance is private."
    assert await env.running.store.rules.of_chat(ADMIN) == []


async def test_region_rules_work_in_catch_up_and_in_test(env: Env) -> None:
    await ask(env, env.admin, "/watch @news_test")
    await ask(env, env.admin, "/alert region:belgorod")
    reply = await ask(env, env.admin, "/test region:belgorod")
    # the backfilled post from before /watch mentions Белгород
    assert reply.startswith("Understood as: region:belgorod\n1 of the last 1 stored posts")
    await env.stop_app()
    env.world.post(env.news, "Ночью под Грайвороном упал беспилотник")
    await env.start_app()
    await wait_for(lambda: env.alerts_to(ADMIN), within=20)
    alert = env.alerts_to(ADMIN)[0].text
    assert "📍 Грайворон, Belgorod Oblast" in alert
    assert env.running.reconciler.reports[0].stored == 1
