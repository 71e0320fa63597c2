"""What the rule index needs from a place finder, so that matching knows nothing of regions.

bot.regions builds on match's text tools (tokens, lemma keys, transliteration); the index in
turn uses places only through this interface. ``region:`` filters are compiled to a set of
place ids with ``places_in`` and checked against the ``mentions`` found in each post; the
``names`` make rule words that form a place name match as that name (bot.match.names).
bot.regions.places.PlaceMatcher implements it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from bot.match.names import NameSource
from bot.match.normalize import Token


@dataclass(frozen=True, slots=True)
class PlaceMention:
    """A place named in a post: its characters, its id and how alerts show it."""

    start: int
    end: int
    place_id: str
    label: str  # the place's name ("Шебекино")
    region_label: str  # its first-level region's name in English ("Belgorod Oblast")


class PlaceFinder(Protocol):
    """Finds places in posts and resolves the places rules name."""

    @property
    def names(self) -> NameSource:
        """The names of places that rule words may form (Часов Яр, Новая Каховка)."""
        ...

    def mentions(self, text: str, tokens: list[Token],
                 keys: list[frozenset[str]]) -> list[PlaceMention]:
        """Every place ``text`` names, given its tokens and their lemma keys."""
        ...

    def places_in(self, query: str) -> frozenset[str]:
        """The ids of the place a ``region:`` query names and everything inside it.

        Raises a ValueError (naming the candidates) when the query names no single place.
        """
        ...
