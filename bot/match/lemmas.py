"""Word forms: a token maps to the normal forms of its Russian and Ukrainian parses."""

from __future__ import annotations

import copy
import re
from functools import lru_cache
from itertools import product
from math import prod
from typing import Any, NamedTuple

from bot.match.normalize import _CYRILLIC_RE, normalize_word
from bot.match.translit import latin_forms

# Tags of proper names in both dictionaries (OpenCorpora tag set).
_PROPER = frozenset({"Geox", "Name", "Surn", "Patr", "Orgn", "Trad"})
# Parts of speech a word of a place name can be (Новая, Часов, Каховка, Красном).
_NOMINAL = frozenset({"NOUN", "ADJF", "ADJS", "PRTF", "NUMR"})
# Endings of a possessive first word (Часов, Сергиев, Часів) declined both ways people write
# it: as a short possessive (Часова Яра, в Часовом Яре) and as a full adjective (Часового
# Яру, Часовому Яру, Часовим Яром), Russian and Ukrainian. The dictionaries know neither.
_POSSESSIVE_ENDINGS = ("", "а", "у", "ым", "ом", "е", "ой", "ою", "ы", "ых", "ыми", "ого",
                       "ому", "ый", "ая", "ое", "ую", "ые", "им", "ім", "ий", "ої", "ій", "і",
                       "их", "ими")
# Parts of a hyphenated name that never inflect, and make the next part keep its form too:
# Ростов-на-Дону → Ростове-на-Дону, Комсомольск-на-Амуре → Комсомольске-на-Амуре.
_FIXED_LINKS = frozenset({"на", "над", "под", "при", "у", "в", "во", "де", "ла", "ле", "эль"})
_MAX_HYPHEN_FORMS = 2000
# Letters only one of the two languages writes.
_RU_LETTERS = frozenset("ыэъ")
_UK_LETTERS = frozenset("іїєґ")
# A word of letters only, of two or more: one the dictionary step alone reads (no hyphen,
# apostrophe or digit for pymorphy3's other steps to take apart).
_SIMPLE_WORD_RE = re.compile(r"^[^\W\d_]{2,}$")
# Known readings that make a capitalised word no word of a name: "На Украине", "Так Путин",
# "Сегодня Москва" are two capitalised words side by side, not a name.
_FUNCTION_WORDS = frozenset({"PREP", "CONJ", "PRCL", "INTJ", "NPRO", "ADVB", "PRED", "COMP"})


class Reading(NamedTuple):
    """One parse of a word, as much of it as its keys need."""

    lemma: str  # the normal form, normalised
    russian: bool  # from the Russian dictionary (else the Ukrainian one)
    name: bool  # a known proper-name parse (place, first name, surname …)


class Lemmatizer:
    """pymorphy3 with both dictionaries; results cached in bounded LRUs."""

    def __init__(self, cache_size: int = 200_000) -> None:
        import pymorphy3  # imported here: loading the dictionaries is start-up work

        self._analyzers: list[Any] = [
            pymorphy3.MorphAnalyzer(lang="ru"),
            pymorphy3.MorphAnalyzer(lang="uk"),
        ]
        # The same analyzers (sharing dictionaries) without P(tag|word) estimates: those
        # only order the parses, and a word's readings are used as a set; the estimate was a
        # fifth of the time of a word not seen before.
        self._unordered: list[Any] = [copy.copy(a) for a in self._analyzers]
        for analyzer in self._unordered:
            analyzer.prob_estimator = None
        self.keys = lru_cache(maxsize=cache_size)(self._keys)
        # one parse of a word serves its lower-case and its capitalised keys
        self.readings = lru_cache(maxsize=cache_size // 4)(self._readings)
        self.rule_keys = lru_cache(maxsize=cache_size // 10)(self._rule_keys)
        self.name_forms = lru_cache(maxsize=cache_size // 10)(self._name_forms)
        self.name_keys = lru_cache(maxsize=cache_size // 10)(self._name_keys)
        self.nameable = lru_cache(maxsize=cache_size // 10)(self._nameable)

    _shared: Lemmatizer | None = None

    @classmethod
    def shared(cls) -> Lemmatizer:
        """One process-wide instance (tests, CLI tools); the app builds its own."""
        if cls._shared is None:
            cls._shared = cls()
        return cls._shared

    def parses_by_language(self, norm: str) -> tuple[list[Any], list[Any]]:
        """The Russian and the Ukrainian dictionary's parses of a word."""
        return list(self._analyzers[0].parse(norm)), list(self._analyzers[1].parse(norm))

    def _parses(self, norm: str) -> list[Any]:
        return [p for analyzer in self._analyzers for p in analyzer.parse(norm)]

    def _readings(self, norm: str) -> tuple[Reading, ...]:
        """The parses of a word that its keys come from, Russian first.

        A word one dictionary knows and the other does not is read by the one that knows it:
        the other's parses would be guesses by ending (the Ukrainian dictionary's guesses
        for «области» or «беспилотников», a Russian guess for «Бєлгороді»), which add no
        key a rule needs and cost most of the time (~80 µs of ~100 µs a word). A word both
        know is read by both. A known plain word (letters only) is read straight from the
        dictionary, as pymorphy3's own dictionary step does, without the parse objects and
        probability estimates that ``parse`` builds around it (tests/match/
        test_readings.py holds the two to the same lemmas over the corpus's words).
        """
        ru, uk = self._unordered
        known = ru.word_is_known(norm), uk.word_is_known(norm)
        wanted = known
        if not any(known):
            # a word neither knows: guesses by ending, from the dictionary of its alphabet
            # (ы, э, ъ are never Ukrainian; і, ї, є, ґ never Russian), else from both
            letters = set(norm)
            wanted = not letters & _UK_LETTERS, not letters & _RU_LETTERS
            if not any(wanted):
                wanted = (True, True)
        simple = bool(_SIMPLE_WORD_RE.match(norm))
        out: list[Reading] = []
        for russian, analyzer, want, knows in ((True, ru, wanted[0], known[0]),
                                               (False, uk, wanted[1], known[1])):
            if not want:
                continue
            if knows and simple:
                out.extend(_dictionary_readings(analyzer, norm, russian))
            else:
                out.extend(_parsed_readings(analyzer, norm, russian))
        return tuple(out)

    def _keys(self, norm: str, proper: bool = False) -> frozenset[str]:
        """Keys of a post token: itself, its lemmas, and Latin spellings if it is a name.

        A capitalised token with a Russian proper-name parse keeps only those Russian parses:
        "Ростов" is the city, not a form of "рост"; "Часов Яр" is not "час".
        """
        keys = {norm}
        if not _CYRILLIC_RE.search(norm):
            return frozenset(keys)
        if "-" in norm:
            # "FPV-дронов", "беспилотник-камикадзе", "Ростов-на-Дону": each part of 3+
            # letters counts as a word too (the first keeps the token's capital)
            for i, part in enumerate(norm.split("-")):
                if len(part) >= 3:
                    keys |= self.keys(part, proper and i == 0)
        readings = self.readings(norm)
        if proper:
            # Only the Russian dictionary tags places (Geox). When it knows the word as a name,
            # that settles it (the Ukrainian guesses for a Russian word are dropped too); the
            # Ukrainian dictionary alone would take "Куп'янська" for a surname and lose the
            # town, so without a Russian name parse all parses stay.
            if any(r.name for r in readings if r.russian):
                readings = tuple(r for r in readings if r.name)
        lemmas = {r.lemma for r in readings}
        keys |= lemmas
        if proper:
            for lemma in lemmas | {norm}:
                keys |= latin_forms(lemma)
        return frozenset(keys)

    def _rule_keys(self, norm: str) -> frozenset[str]:
        """Keys of a word typed in a rule: the word as a dictionary form if it is one.

        "Ростов" typed in a rule means the city (a dictionary form), not the genitive plural
        of "рост"; "дроны" is no dictionary form, so it stands for "дрон".
        """
        if not _CYRILLIC_RE.search(norm):
            return frozenset({norm})
        parses = self._parses(norm)
        known = [p for p in parses if p.is_known] or parses
        lemmas = {normalize_word(p.normal_form) for p in known}
        chosen = {norm} if norm in lemmas else lemmas | {norm}
        keys = set(chosen)
        for lemma in chosen:
            keys |= latin_forms(lemma)
        return frozenset(keys)

    def _nameable(self, norm: str) -> bool:
        """Whether a capitalised word may be a word of a name (not a preposition, a pronoun …)."""
        if not _CYRILLIC_RE.search(norm):
            return True
        return not any(p.is_known and p.tag.POS in _FUNCTION_WORDS for p in self._parses(norm))

    def _name_keys(self, norm: str) -> frozenset[str]:
        """Keys of a word typed as part of a name: its rule keys and its inflected forms."""
        return self.rule_keys(norm) | self.name_forms(norm)

    def _name_forms(self, norm: str) -> frozenset[str]:
        """Every surface form a word of a multi-word name may take in a post (normalised).

        Compiled once per rule word, never per post. The word is read as the nominative it is
        typed in (any nominative reading, in either dictionary, known ones first) and its whole
        paradigm is generated: Новая → новой, новую, новою, нової, новій; Яр → яре, ярі. A
        possessive (Часов, Часів) gets both declensions people use. A hyphenated word inflects
        part by part (Каменец-Подольский → Каменце-Подольском), except after a linking word
        (Ростов-на-Дону → Ростове-на-Дону).
        """
        if not _CYRILLIC_RE.search(norm):
            return frozenset({norm})
        if "-" in norm:
            return self._hyphenated_forms(norm)
        forms = {norm}
        for analyzer in self._analyzers:
            parses = [p for p in analyzer.parse(norm) if p.tag.POS in _NOMINAL]
            nominative = [p for p in parses if "nomn" in p.tag]
            pool = ([p for p in nominative if p.is_known] or nominative[:3]
                    or [p for p in parses if p.is_known] or parses[:3])
            seen = set()
            for parse in pool:
                paradigm = (parse.normal_form, parse.tag.POS)
                if paradigm not in seen:
                    seen.add(paradigm)
                    forms.update(normalize_word(f.word) for f in parse.lexeme)
        forms |= _possessive_forms(norm)
        return frozenset(forms)

    def _hyphenated_forms(self, norm: str) -> frozenset[str]:
        parts = norm.split("-")
        options: list[frozenset[str]] = []
        for i, part in enumerate(parts):
            linked = i > 0 and parts[i - 1] in _FIXED_LINKS
            fixed = len(part) < 3 or part in _FIXED_LINKS or linked
            options.append(frozenset({part}) if fixed else self.name_forms(part))
        forms = {norm}
        if prod(len(o) for o in options) <= _MAX_HYPHEN_FORMS:
            forms.update("-".join(combo) for combo in product(*options))
        else:  # only the first part inflects (rare: two long, richly inflected parts)
            forms.update("-".join((first, *parts[1:])) for first in options[0])
        return frozenset(forms)


def _parsed_readings(analyzer: Any, norm: str, russian: bool) -> list[Reading]:
    return [Reading(normalize_word(p.normal_form), russian,
                    p.is_known and bool(_PROPER & p.tag.grammemes))
            for p in analyzer.parse(norm)]


def _dictionary_readings(analyzer: Any, norm: str, russian: bool) -> list[Reading]:
    """The readings of a word the dictionary knows, from the dictionary itself.

    What pymorphy3's DictionaryAnalyzer does for such a word (every entry of the word, with
    its ё/е spellings, its normal form and tag), minus what ``parse`` adds that keys never
    use: Parse objects, their scores and the order of likelihood (keys are a set).
    """
    words = analyzer.dictionary
    out = []
    for fixed, entries in words.words.similar_items(norm, analyzer.char_substitutes):
        for paradigm, index in entries:
            tag = words.build_tag_info(paradigm, index)
            out.append(Reading(normalize_word(words.build_normal_form(paradigm, index, fixed)),
                               russian, bool(_PROPER & tag.grammemes)))
    return out


def _possessive_forms(norm: str) -> set[str]:
    """Часов → часова, часовом, часового, часів …; Часів → часового, часовому …"""
    if len(norm) < 4:
        return set()
    stem = ""
    if norm.endswith(("ов", "ев", "ин", "ын")):
        stem = norm
    elif norm.endswith("ів"):
        stem = norm[:-2] + "ов"
    elif norm.endswith("їв"):
        stem = norm[:-2] + "єв"
    if not stem:
        return set()
    forms = {stem + ending for ending in _POSSESSIVE_ENDINGS}
    if stem.endswith("ов"):
        forms.add(stem[:-2] + "ів")  # the Ukrainian nominative
    return forms
