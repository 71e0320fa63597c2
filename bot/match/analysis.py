"""A text read once: its tokens, their lemma keys and the places it names, shared by all users.

The rule index, the full-text index's terms and the region tags all start from the same
tokens and keys; a post read on the live path is tokenised and looked up once, and its places
found once, however many of them ask.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.match.lemmas import Lemmatizer
from bot.match.normalize import Token, tokenize
from bot.match.places import PlaceFinder, PlaceMention


@dataclass(eq=False)
class TextAnalysis:
    """Tokens and keys of one text; places memoised per finder."""

    text: str
    tokens: list[Token]
    keys: list[frozenset[str]]
    _places: dict[int, tuple[PlaceFinder, list[PlaceMention]]] = field(default_factory=dict)

    @classmethod
    def of(cls, text: str, lemmatizer: Lemmatizer) -> TextAnalysis:
        """Tokenise ``text`` and look up every token's keys."""
        tokens = tokenize(text)
        keys_of = lemmatizer.keys
        return cls(text, tokens, [keys_of(t.norm, t.proper) for t in tokens])

    def mentions(self, finder: PlaceFinder) -> list[PlaceMention]:
        """The places ``finder`` sees in the text (found once per finder)."""
        found = self._places.get(id(finder))
        if found is None or found[0] is not finder:
            found = self._places[id(finder)] = (
                finder, finder.mentions(self.text, self.tokens, self.keys))
        return found[1]
