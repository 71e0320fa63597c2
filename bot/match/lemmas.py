"""Word forms: a token maps to the normal forms of its Russian and Ukrainian parses."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from bot.match.normalize import _CYRILLIC_RE, normalize_word
from bot.match.translit import latin_forms

# Tags of proper names in both dictionaries (OpenCorpora tag set).
_PROPER = frozenset({"Geox", "Name", "Surn", "Patr", "Orgn", "Trad"})


class Lemmatizer:
    """pymorphy3 with both dictionaries; results cached in bounded LRUs."""

    def __init__(self, cache_size: int = 200_000) -> None:
        import pymorphy3  # imported here: loading the dictionaries is start-up work

        self._analyzers: list[Any] = [
            pymorphy3.MorphAnalyzer(lang="ru"),
            pymorphy3.MorphAnalyzer(lang="uk"),
        ]
        self.keys = lru_cache(maxsize=cache_size)(self._keys)
        self.rule_keys = lru_cache(maxsize=cache_size // 10)(self._rule_keys)

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
        ru, uk = (analyzer.parse(norm) for analyzer in self._analyzers)
        if proper:
            # Only the Russian dictionary tags places (Geox). When it knows the word as a name,
            # that settles it (the Ukrainian guesses for a Russian word are dropped too); the
            # Ukrainian dictionary alone would take "Куп'янська" for a surname and lose the
            # town, so without a Russian name parse all parses stay.
            names = [p for p in ru if p.is_known and _PROPER & p.tag.grammemes]
            if names:
                ru, uk = names, [p for p in uk if p.is_known and _PROPER & p.tag.grammemes]
        lemmas = {normalize_word(p.normal_form) for p in (*ru, *uk)}
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
