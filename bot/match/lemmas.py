"""Word forms: every token maps to the normal forms of all its Russian and Ukrainian parses."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from bot.match.normalize import normalize_word


class Lemmatizer:
    """pymorphy3 with both dictionaries; results cached in a bounded LRU."""

    def __init__(self, cache_size: int = 200_000) -> None:
        import pymorphy3  # imported here: loading the dictionaries is start-up work

        self._analyzers: list[Any] = [
            pymorphy3.MorphAnalyzer(lang="ru"),
            pymorphy3.MorphAnalyzer(lang="uk"),
        ]
        self.keys = lru_cache(maxsize=cache_size)(self._keys)

    def _keys(self, norm: str) -> frozenset[str]:
        """Return the lemma keys of an already normalised word (itself included)."""
        keys = {norm}
        if not any(ch.isalpha() for ch in norm):
            return frozenset(keys)
        for analyzer in self._analyzers:
            for parse in analyzer.parse(norm):
                keys.add(normalize_word(parse.normal_form))
        return frozenset(keys)
