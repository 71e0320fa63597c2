"""Text normalisation and tokenisation: pure functions, spans into the original text."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Word characters joined by inner hyphens or apostrophes stay one token:
# Ростов-на-Дону, Куп'янськ, 2024-го.
_TOKEN_RE = re.compile(r"\w+(?:['’ʼ`‘-]\w+)*")
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'", "‘": "'", "ʹ": "'"})


@dataclass(frozen=True)
class Token:
    """A word of a text: its normalised form and where it stands in the original."""

    norm: str
    start: int
    end: int


def normalize_word(word: str) -> str:
    """NFKC, casefold, ё→е and one apostrophe: the form every comparison uses."""
    text = unicodedata.normalize("NFKC", word).casefold()
    return text.replace("ё", "е").translate(_APOSTROPHES)


def tokenize(text: str) -> list[Token]:
    """Split text into word tokens with character spans into ``text``."""
    return [
        Token(normalize_word(m.group()), m.start(), m.end())
        for m in _TOKEN_RE.finditer(text)
        if m.group().strip("_")
    ]
