"""Word readings: the dictionary shortcut agrees with pymorphy3's parse; which dictionary reads.

``Lemmatizer.readings`` reads a known plain word straight from pymorphy3's dictionary instead
of through ``parse`` (a fourth of the time), and leaves a word to the dictionary that knows
it. Both are speed-ups that must not change a key: the shortcut is held to ``parse`` over
every word of the demo's bundled real posts (ru-news-2024, CC BY 4.0) — and of the whole
dataset when ../shared is there — and the language choice is pinned on words of each kind.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.match import Lemmatizer
from bot.match.lemmas import (
    _SIMPLE_WORD_RE,
    Reading,
    _dictionary_readings,
    _parsed_readings,
)
from bot.match.normalize import tokenize

ROOT = Path(__file__).resolve().parents[2]
BUNDLED = ROOT / "bot" / "sandbox" / "data" / "demo_posts.jsonl"
DATASET = ROOT.parent / "shared" / "data" / "ru-news-2024"


def corpus_words() -> list[str]:
    texts = [json.loads(line)["text"] for line in
             BUNDLED.read_text(encoding="utf-8").splitlines()]
    for path in sorted(DATASET.glob("*_messages.json"))[:6]:  # absent on some machines
        texts += [r["text"] for r in json.loads(path.read_text(encoding="utf-8"))
                  if r.get("text")]
    return sorted({t.norm for text in texts for t in tokenize(text)})


def test_dictionary_readings_are_the_parse_readings(lemmatizer: Lemmatizer) -> None:
    compared = 0
    for word in corpus_words():
        if not _SIMPLE_WORD_RE.match(word):
            continue
        for russian, analyzer in zip((True, False), lemmatizer._analyzers, strict=True):
            if analyzer.word_is_known(word):
                compared += 1
                assert (sorted(set(_dictionary_readings(analyzer, word, russian)))
                        == sorted(set(_parsed_readings(analyzer, word, russian)))), word
    assert compared > 3000


def lemmas(readings: tuple[Reading, ...], *, russian: bool) -> set[str]:
    return {r.lemma for r in readings if r.russian is russian}


@pytest.mark.parametrize(("word", "lemma"), [
    ("беспилотников", "беспилотник"), ("обстрелов", "обстрел"), ("белгороде", "белгород"),
])
def test_a_word_only_russian_knows_is_read_in_russian_only(
        lemmatizer: Lemmatizer, word: str, lemma: str) -> None:
    ru, uk = lemmatizer._analyzers
    assert ru.word_is_known(word) and not uk.word_is_known(word)
    readings = lemmatizer.readings(word)
    assert lemma in lemmas(readings, russian=True)
    assert not lemmas(readings, russian=False)  # no Ukrainian guesses by ending


@pytest.mark.parametrize(("word", "lemma"), [("обстріли", "обстріл"), ("області", "область")])
def test_a_word_only_ukrainian_knows_is_read_in_ukrainian_only(
        lemmatizer: Lemmatizer, word: str, lemma: str) -> None:
    readings = lemmatizer.readings(word)
    assert lemma in lemmas(readings, russian=False)
    assert not lemmas(readings, russian=True)


def test_a_word_both_know_is_read_by_both(lemmatizer: Lemmatizer) -> None:
    ru, uk = lemmatizer._analyzers
    assert ru.word_is_known("село") and uk.word_is_known("село")
    readings = lemmatizer.readings("село")
    assert "село" in lemmas(readings, russian=True) & lemmas(readings, russian=False)


@pytest.mark.parametrize(("word", "russian", "ukrainian"), [
    ("шмырдыбаевы", True, False),  # ы: never Ukrainian
    ("шмирдібаєви", False, True),  # і, є: never Russian
    ("шмрдбв", True, True),  # neither alphabet's own letters: both guess
])
def test_an_unknown_word_is_guessed_by_the_dictionary_of_its_letters(
        lemmatizer: Lemmatizer, word: str, russian: bool, ukrainian: bool) -> None:
    ru, uk = lemmatizer._analyzers
    assert not ru.word_is_known(word) and not uk.word_is_known(word)
    readings = lemmatizer.readings(word)
    assert bool(lemmas(readings, russian=True)) is russian
    assert bool(lemmas(readings, russian=False)) is ukrainian


def test_keys_of_inflected_forms(lemmatizer: Lemmatizer) -> None:
    # what the speed-ups must keep: a form's keys hold its lemma, a Ukrainian and a Russian
    # form of a word share it, and a capitalised name gets its Latin spellings
    assert {"белгород", "belgorod"} <= lemmatizer.keys("белгородом", True)
    assert "бєлгород" in lemmatizer.keys("бєлгороді", True)
    assert "область" in lemmatizer.keys("області") & lemmatizer.keys("областях")
