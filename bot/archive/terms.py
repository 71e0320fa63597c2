"""What the full-text index holds for a text: its words' keys and the places it names.

The index and the matcher must agree, so the terms are the very keys the matcher compares
(``Lemmatizer.keys`` of every token: the normalised form, its lemmas, Latin spellings of
names) plus ``p_<id>`` for each place the text names *and every place that contains it*
(a village, its raion, its oblast): ``region:belgorod`` becomes the single term
``p_ru-bel``. Every term passes through ``fts_token`` here and in bot/archive/fts.py, so the
FTS5 tokenizer (unicode61, tokenchars ``'-_``) sees each as exactly one token.
"""

from __future__ import annotations

import re
from functools import lru_cache

from bot.match.analysis import TextAnalysis
from bot.match.lemmas import Lemmatizer
from bot.match.places import PlaceFinder
from bot.models import TextTerms
from bot.regions.gazetteer import Gazetteer
from bot.regions.places import PlaceMatcher

# characters that may stand inside one FTS5 token; anything else becomes "_"
_NOT_TOKEN_RE = re.compile(r"[^\w'\-]|_")
# Word characters outside these scripts are written as "_<hex>_": FTS5's unicode61 knows
# Unicode 6.1, Python a later version, and a letter they disagree on ("ᦰ", a letter since
# Unicode 8) would split the token on one side only.
_OTHER_SCRIPT_RE = re.compile(r"[^0-9a-z'\-_\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
                              r"\u0400-\u052f]")
PLACE_PREFIX = "p_"


@lru_cache(maxsize=65_536)
def fts_token(key: str) -> str:
    """A key as one FTS5 token (the same on the write and on the query side)."""
    token = _NOT_TOKEN_RE.sub("_", key.casefold())
    if token.isascii():
        return token
    return _OTHER_SCRIPT_RE.sub(lambda m: f"_{ord(m.group()):x}_", token)


def place_term(place_id: str) -> str:
    """The term of a place id (``RU-BEL`` → ``p_ru-bel``)."""
    return PLACE_PREFIX + fts_token(place_id)


class TermMaker:
    """Computes ``TextTerms`` with the matcher's lemmatizer and place finder."""

    def __init__(self, lemmatizer: Lemmatizer, places: PlaceFinder | None = None,
                 ancestors: AncestorSource | None = None) -> None:
        self._lemmatizer = lemmatizer
        self._places = places
        self._ancestors = ancestors
        # a token's keys (the lemmatizer's cached sets) as index tokens
        self._tokens_of: dict[frozenset[str], tuple[str, ...]] = {}

    @classmethod
    def for_places(cls, lemmatizer: Lemmatizer, places: PlaceMatcher | None) -> TermMaker:
        """With the service's place matcher (None: words only, no place terms)."""
        if places is None:
            return cls(lemmatizer)
        return cls(lemmatizer, places, AncestorSource.of(places.gazetteer))

    def of(self, text: str, analysis: TextAnalysis | None = None) -> TextTerms:
        """The terms of one text (deterministic: sorted, no hash order).

        ``analysis``: the text already read (the rule index's ``analyse``), reused.
        """
        if analysis is None or analysis.text != text:
            analysis = TextAnalysis.of(text, self._lemmatizer)
        out: set[str] = set()
        cache = self._tokens_of
        for token_keys in analysis.keys:
            tokens = cache.get(token_keys)
            if tokens is None:
                if len(cache) > 200_000:
                    cache.clear()
                tokens = cache[token_keys] = tuple(fts_token(k) for k in token_keys if k)
            out.update(tokens)
        regions: set[str] = set()
        if self._places is not None and analysis.tokens:
            for mention in analysis.mentions(self._places):
                for place_id in self._lineage(mention.place_id):
                    out.add(place_term(place_id))
                if self._ancestors is not None:
                    regions.add(self._ancestors.region(mention.place_id))
        return TextTerms(" ".join(sorted(out)), tuple(sorted(regions)))

    def _lineage(self, place_id: str) -> list[str]:
        if self._ancestors is None:
            return [place_id]
        return self._ancestors.lineage(place_id)


class AncestorSource:
    """Parents of places (the gazetteer), so a mention indexes every place containing it."""

    def __init__(self, parents: dict[str, str | None], regions: dict[str, str]) -> None:
        self._parents = parents
        self._regions = regions
        self._cache: dict[str, list[str]] = {}

    @classmethod
    def of(cls, gazetteer: Gazetteer) -> AncestorSource:
        """The gazetteer's parent links and regions."""
        places = gazetteer.places.values()
        return cls({p.id: p.parent for p in places}, {p.id: p.region for p in places})

    def lineage(self, place_id: str) -> list[str]:
        """The place and every place that contains it, innermost first."""
        found = self._cache.get(place_id)
        if found is None:
            found, seen = [], set()
            current: str | None = place_id
            while current is not None and current not in seen:
                seen.add(current)
                found.append(current)
                current = self._parents.get(current)
            self._cache[place_id] = found
        return found

    def region(self, place_id: str) -> str:
        """The ISO code of the first-level region the place lies in."""
        return self._regions.get(place_id, place_id)
