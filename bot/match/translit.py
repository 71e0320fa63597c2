"""Latin spellings of Cyrillic words, so that names match across scripts.

Latin → Cyrillic is lossy, so chanwatch goes the other way only: every Cyrillic name (in a rule
or a post) gets the Latin spellings that news in English use — Ukrainian national
transliteration (translitua: Kupiansk, Zaporizhzhia, Kharkiv) and, for Russian, the Wikipedia
and ICAO schemes (iuliia: Belgorod, Shebekino, Kupyansk / Kupiansk).
"""

from __future__ import annotations

import re
from functools import lru_cache

import iuliia
import translitua

_ASCII_WORD = re.compile(r"^[a-z0-9'-]+$")


@lru_cache(maxsize=100_000)
def latin_forms(word: str) -> frozenset[str]:
    """Lower-case ASCII transliterations of a normalised Cyrillic word (apostrophes dropped)."""
    forms = {
        translitua.translit(word),
        iuliia.WIKIPEDIA.translate(word),
        iuliia.ICAO_DOC_9303.translate(word),
    }
    out = set()
    for form in forms:
        clean = form.lower().replace("'", "").replace("’", "")
        if clean != word and _ASCII_WORD.match(clean):
            out.add(clean)
    return frozenset(out)
