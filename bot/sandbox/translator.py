"""What the stand-in's ``/translate`` answers: a labelled transliteration, not a translation."""

from __future__ import annotations

import iuliia
import translitua

STAND_IN_PREFIX = "[demo stand-in: transliteration, not a translation] "
_UKRAINIAN_LETTERS = frozenset("іїєґІЇЄҐ")


def transliterate(text: str) -> str:
    """``text`` in Latin letters: Ukrainian-looking text (і, ї, є, ґ) by translitua's national
    scheme, anything else by iuliia's Wikipedia scheme for Russian. Latin text is unchanged."""
    if _UKRAINIAN_LETTERS.intersection(text):
        return str(translitua.translit(text))
    return str(iuliia.WIKIPEDIA.translate(text))


def stand_in_translation(text: str) -> str:
    """What the stand-in's ``/translate`` answers: the transliteration, saying what it is."""
    return STAND_IN_PREFIX + transliterate(text)
